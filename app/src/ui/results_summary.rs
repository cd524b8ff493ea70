//! The results as a whole: how many images the pair accepts and abstains on at the selected
//! coverage, where the two models disagree, and the download of every answer as JSON in the
//! format `trainer-native predict --out` writes (`masktune::image_report`), so that a person can
//! keep what the page found, or compare it with the trainer's answers.

use leptos::prelude::*;
use masktune::image_report::{self, Answer, ImageReport};
use masktune::selective::Decision;

use super::file_download;
use super::state::{Outcome, PageState};

/// The name the browser saves the file under.
const FILE_NAME: &str = "masktune-results.json";

#[component]
pub fn ResultsSummary() -> impl IntoView {
    let state = expect_context::<PageState>();
    let error = RwSignal::new(None::<String>);
    let counts = move || {
        let target = state.threshold()?.target_coverage;
        let counts = Counts::of(&reports(state).ok()?);
        (counts.images > 0).then_some((counts, target))
    };
    view! {
        {move || counts().map(|(c, target)| view! {
            <section id="results-summary" aria-label="All results">
                <p id="results-counts" data-images=c.images data-accepted=c.accepted
                    data-abstained=c.abstained data-disagree=c.disagree data-failed=c.failed>
                    {c.sentence(target)}
                </p>
                <p>
                    <button id="download-results" type="button"
                        on:click=move |_| error.set(save(state).err())>
                        "Download the results (JSON)"
                    </button>
                    " "
                    <span class="fine-print">
                        "Every image's answer at this coverage, in the format of "
                        <code>"trainer-native predict --out"</code> "."
                    </span>
                </p>
            </section>
        })}
        {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
    }
}

/// How the answered images split.
#[derive(Default)]
struct Counts {
    images: usize,
    accepted: usize,
    abstained: usize,
    /// Images where ERM and MaskTune predict different classes.
    disagree: usize,
    failed: usize,
}

impl Counts {
    fn of(reports: &[(String, ImageReport)]) -> Self {
        let mut counts = Counts::default();
        for (_, report) in reports {
            counts.images += 1;
            match report {
                ImageReport::Done {
                    decision,
                    erm_class,
                    masktune_class,
                    ..
                } => {
                    if decision == Decision::Accept.as_str() {
                        counts.accepted += 1;
                    } else {
                        counts.abstained += 1;
                    }
                    counts.disagree += usize::from(erm_class != masktune_class);
                }
                ImageReport::Failed { .. } => counts.failed += 1,
            }
        }
        counts
    }

    fn sentence(&self, target_coverage: f64) -> String {
        let images = |n: usize| format!("{n} image{}", if n == 1 { "" } else { "s" });
        let mut text = format!(
            "{} at {:.0}% coverage: the pair accepts {} and abstains on {}; ERM and MaskTune \
             disagree on {}.",
            images(self.images),
            target_coverage * 100.0,
            self.accepted,
            self.abstained,
            self.disagree,
        );
        if self.failed > 0 {
            text.push_str(&format!(" {} could not be analysed.", images(self.failed)));
        }
        text
    }
}

/// Hands the results to the browser as a file download.
fn save(state: PageState) -> Result<(), String> {
    let json = serde_json::to_string_pretty(&image_report::by_name(reports(state)?))
        .map_err(|error| format!("the results could not be written: {error}"))?;
    file_download::save(FILE_NAME, json.as_bytes(), "application/json")
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
                    Outcome::Failed(message) => ImageReport::Failed {
                        error: message.clone(),
                    },
                    Outcome::Done(shown) => {
                        let a = &shown.image;
                        let answer = Answer {
                            erm_probabilities: &a.erm_probabilities,
                            masktune_probabilities: &a.masktune_probabilities,
                            combined: &a.combined,
                            mask: &a.mask,
                        };
                        ImageReport::done(answer, &shown.class_names, threshold)
                    }
                };
                Some((entry.name.clone(), report))
            })
            .collect()
    }))
}
