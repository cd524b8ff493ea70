//! The heatmaps' colour key: from blue (what ERM ignored) through green to red (what it looked
//! at), drawn from the palette that colours the heatmaps themselves.

use leptos::prelude::*;
use masktune::heatmap::jet;

/// The key's CSS gradient. Jet is linear between the eighths of its range, so a stop at each
/// eighth draws it exactly.
fn gradient() -> String {
    let stops: Vec<String> = (0..=8u32)
        .map(|eighth| {
            let level = (eighth * 255 / 8) as u8; // at most 255
            let [r, g, b] = jet(level);
            format!("rgb({r} {g} {b}) {}%", eighth * 100 / 8)
        })
        .collect();
    format!("linear-gradient(to right, {})", stops.join(", "))
}

#[component]
pub fn HeatKey() -> impl IntoView {
    view! {
        <span class="heat-key">
            "ignored "
            <span class="heat-bar" style:background-image=gradient() role="img"
                aria-label="colour scale: blue where ERM looked least, through green, to red where it looked most"></span>
            " looked at"
        </span>
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test]
    fn the_key_runs_through_jet_from_blue_to_red() {
        let key = gradient();
        assert!(
            key.starts_with("linear-gradient(to right, rgb(0 0 128) 0%, "),
            "{key}"
        );
        assert!(key.ends_with(", rgb(128 0 0) 100%)"), "{key}");
        assert_eq!(key.matches("rgb(").count(), 9);
    }
}
