//! The results as a whole: how many images the pair accepts and abstains on at the selected
//! coverage and where the two models disagree (each a filter of the cards shown); the accuracy
//! per class where the images' folders name their classes; the download
//! of every answer as JSON in the format `trainer-native predict --out` writes
//! (`masktune::image_report`), so that a person can keep what the page found or compare it with
//! the trainer's answers; and clearing the cards to start again.

use leptos::prelude::*;
use masktune::image_report::{self, Answer, ImageReport};

use super::card_filter::{CardFacts, CardFilter};
use super::file_download::JsonDownload;
use super::labelled_accuracy::LabelledAccuracy;
use super::state::{Outcome, PageState};

#[component]
pub fn ResultsSummary() -> impl IntoView {
    let state = expect_context::<PageState>();
    // Counted once per change of the cards or the threshold, for the sentence and the filters.
    let summary = Memo::new(move |_| {
        let threshold = state.threshold()?;
        let counts = Counts::of(state, threshold.threshold);
        (counts.of_filter(CardFilter::All) > 0).then_some((counts, threshold.target_coverage))
    });
    let count = move |filter| summary.get().map_or(0, |(c, _)| c.of_filter(filter));
    // The filters by right and wrong, where some images' folders name their classes.
    let offered = move |filter: CardFilter| {
        !filter.needs_labels() || summary.get().is_some_and(|(c, _)| c.labelled > 0)
    };
    view! {
        // Made with the page and shown once there are results: the first result then only
        // fills it in, which keeps the first image as quick as the next.
        <section id="results-summary" aria-label="All results" hidden=move || summary.get().is_none()>
            <p id="results-counts">
                {move || summary.get().map(|(c, target)| c.sentence(target))}
            </p>
            <fieldset class="card-filter">
                <legend>"Show"</legend>
                {CardFilter::ALL.map(|filter| view! {
                    <label data-filter=filter.id() data-count=move || count(filter)
                        hidden=move || !offered(filter)>
                        <input type="radio" name="card-filter" value=filter.id()
                            prop:checked=move || state.card_filter.get() == filter
                            on:change=move |_| state.card_filter.set(filter) />
                        {format!("{} ", filter.label())}
                        {move || format!("({})", count(filter))}
                    </label>
                })}
            </fieldset>
            <LabelledAccuracy />
            <JsonDownload id="download-results" label="Download the results (JSON)"
                file_name="masktune-results.json" contents=move || results_json(state)>
                "Every image's answer at this coverage, in the format of "
                <code>"trainer-native predict --out"</code> "."
            </JsonDownload>
            <p>
                <button id="clear-results" type="button" on:click=move |_| state.clear_results()>
                    "Clear the results"
                </button>
            </p>
        </section>
    }
}

/// How many answered cards each filter keeps, at one threshold, and how many of them are
/// labelled by their folder.
#[derive(Clone, Copy, PartialEq)]
struct Counts {
    of_filters: [usize; CardFilter::ALL.len()],
    labelled: usize,
}

impl Counts {
    fn of(state: PageState, threshold: f64) -> Self {
        let mut counts = Counts {
            of_filters: [0; CardFilter::ALL.len()],
            labelled: 0,
        };
        state.entries.with(|entries| {
            for facts in entries.iter().map(|entry| CardFacts::of(entry, threshold)) {
                if facts == CardFacts::Waiting {
                    continue;
                }
                for (count, filter) in counts.of_filters.iter_mut().zip(CardFilter::ALL) {
                    *count += usize::from(filter.keeps(facts));
                }
                if let CardFacts::Done { right: Some(_), .. } = facts {
                    counts.labelled += 1;
                }
            }
        });
        counts
    }

    fn of_filter(&self, filter: CardFilter) -> usize {
        let index = CardFilter::ALL.iter().position(|f| *f == filter);
        index.map_or(0, |i| self.of_filters[i])
    }

    fn sentence(&self, target_coverage: f64) -> String {
        let images = |n: usize| format!("{n} image{}", if n == 1 { "" } else { "s" });
        let mut text = format!(
            "{} at {:.0}% coverage: the pair accepts {} and abstains on {}; ERM and MaskTune \
             disagree on {}.",
            images(self.of_filter(CardFilter::All)),
            target_coverage * 100.0,
            self.of_filter(CardFilter::Accepted),
            self.of_filter(CardFilter::Abstained),
            self.of_filter(CardFilter::Disagree),
        );
        let failed = self.of_filter(CardFilter::Failed);
        if failed > 0 {
            text.push_str(&format!(" {} could not be analysed.", images(failed)));
        }
        text
    }
}

/// Every answered image's report as the file holds them.
fn results_json(state: PageState) -> Result<String, String> {
    serde_json::to_string_pretty(&image_report::by_name(reports(state)?))
        .map_err(|error| format!("the results could not be written: {error}"))
}

/// Every answered image's report at the selected coverage, in the order given; images still
/// waiting are left out.
fn reports(state: PageState) -> Result<Vec<(String, ImageReport)>, String> {
    let threshold = state
        .threshold()
        .ok_or("these models hold no coverage thresholds to decide with")?;
    // Entries are newest first.
    Ok(state.entries.with(|entries| {
        entries
            .iter()
            .rev()
            .filter_map(|entry| {
                let report = match &entry.outcome {
                    Outcome::Waiting => return None,
                    Outcome::Failed(message) | Outcome::NotAnalysed(message) => {
                        ImageReport::Failed {
                            error: message.clone(),
                        }
                    }
                    Outcome::Done(shown) => {
                        let a = &shown.numbers;
                        let answer = Answer {
                            erm_probabilities: &a.erm_probabilities,
                            masktune_probabilities: &a.masktune_probabilities,
                            combined: &a.combined,
                            mask: &a.mask,
                            label: shown.label,
                        };
                        ImageReport::done(answer, &shown.class_names, threshold)
                    }
                };
                Some((entry.name.clone(), report))
            })
            .collect()
    }))
}
