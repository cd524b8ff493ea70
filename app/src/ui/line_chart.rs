//! A small SVG line chart: the risk-coverage curves and the Lab's training curves.

use leptos::prelude::*;

/// Size of the drawing area, in SVG units.
const PLOT: (f64, f64) = (320.0, 180.0);
const MARGIN: f64 = 36.0;

/// One line of a chart; `class` gives its colour (style.css).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub class: &'static str,
    pub points: Vec<[f64; 2]>,
}

/// An axis: its range and name, and how its end values are written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Axis {
    pub min: f64,
    pub max: f64,
    pub name: &'static str,
    pub percent: bool,
}

impl Axis {
    fn text(&self, value: f64) -> String {
        if self.percent {
            format!("{:.0}%", value * 100.0)
        } else {
            format!("{value:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        }
    }

    /// `value`'s place along the axis, 0 at `min` and 1 at `max`.
    fn fraction(&self, value: f64) -> f64 {
        (value - self.min) / (self.max - self.min).max(1e-12)
    }
}

#[component]
pub fn LineChart(series: Vec<Series>, x: Axis, y: Axis, label: String) -> impl IntoView {
    let (width, height) = PLOT;
    let px = move |v: f64| MARGIN + x.fraction(v) * width;
    let py = move |v: f64| MARGIN / 2.0 + height - y.fraction(v) * height;
    let legend = series.len() > 1;
    let lines = series
        .iter()
        .map(|s| {
            let path: String = s
                .points
                .iter()
                .enumerate()
                .map(|(i, [a, b])| {
                    format!(
                        "{}{:.1},{:.1}",
                        if i == 0 { "M" } else { " L" },
                        px(*a),
                        py(*b)
                    )
                })
                .collect();
            // A lone point has no line to draw: a dot shows it.
            let dots = (s.points.len() == 1).then(|| {
                let [a, b] = s.points[0];
                view! { <circle cx=px(a) cy=py(b) r="3" class=format!("dot {}", s.class) /> }
            });
            view! {
                <path d=path class=format!("line {}", s.class) data-series=s.name.clone()
                    data-points=s.points.len() />
                {dots}
            }
        })
        .collect_view();
    // Beside the plot, not on it: the lines may run anywhere.
    let legend = legend.then(|| {
        let items = series
            .iter()
            .map(|s| view! { <li class=s.class>{s.name.clone()}</li> })
            .collect_view();
        view! { <ul class="legend">{items}</ul> }
    });
    let view_box = format!("0 0 {} {}", width + MARGIN * 1.5, height + MARGIN * 1.6);
    let middle = (y.min + y.max) / 2.0;
    view! {
        <svg class="curve" viewBox=view_box role="img" aria-label=label>
            <line x1=px(x.min) y1=py(y.min) x2=px(x.max) y2=py(y.min) class="axis" />
            <line x1=px(x.min) y1=py(y.min) x2=px(x.min) y2=py(y.max) class="axis" />
            <text x=px((x.min + x.max) / 2.0) y=py(y.min) + 30.0 text-anchor="middle">{x.name}</text>
            <text x=px(x.min) y=py(y.min) + 14.0 text-anchor="middle">{x.text(x.min)}</text>
            <text x=px(x.max) y=py(y.min) + 14.0 text-anchor="middle">{x.text(x.max)}</text>
            <text x=px(x.min) - 4.0 y=py(y.max) + 4.0 text-anchor="end">{y.text(y.max)}</text>
            <text x=px(x.min) - 4.0 y=py(y.min) text-anchor="end">{y.text(y.min)}</text>
            <text x=12.0 y=py(middle) transform=format!("rotate(-90 12 {})", py(middle)) text-anchor="middle">{y.name}</text>
            {lines}
        </svg>
        {legend}
    }
}
