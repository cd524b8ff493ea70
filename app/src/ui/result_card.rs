//! One image's story: what ERM predicted and looked at, what MaskTune hides, and the decision.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use gloo_timers::future::TimeoutFuture;
use leptos::mount::UnmountHandle;
use leptos::prelude::*;
use masktune::masking::MaskStats;
use masktune::metrics::argmax;
use masktune::selective::Decision;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;

use super::state::{BackendState, Entry, Outcome, PageState, Shown};
use crate::object_url::ObjectUrl;
use crate::protocol::{AnalysedImage, Pictures};

/// How many classes the probability lists show.
const TOP: usize = 3;

/// The name the warm-up's picture goes by in its rehearsal.
pub const WARM_UP_NAME: &str = "a warm-up picture";

/// How long a rehearsal's cards are kept for their pictures to load (they load in milliseconds).
const REHEARSAL_MS: u32 = 2_000;

/// Draws a card for `shown` into an element that is never shown, gives it `pictures` as
/// `Response::Drawn` would, and drops it once they have loaded. The page's first card costs
/// several times a later one (its code's first run); the warm-up's picture pays that while the
/// models load instead of the user's first image. Each card is drawn in a task of its own, after
/// the one that takes the models, which they made longer (51-57 ms seen, over issue 19's 50 ms).
pub fn rehearse(state: PageState, shown: Shown, pictures: Pictures) {
    let Ok(file) = web_sys::Blob::new().map(SendWrapper::new) else {
        return;
    };
    // Both states a user's card goes through.
    let entry = move |outcome| Entry {
        id: u64::MAX,
        name: WARM_UP_NAME.into(),
        file: file.clone(),
        outcome,
    };
    let drawn = shown.pictures.clone();
    // The worker sent its pictures with the models: they are not asked for.
    shown.pictures_asked.store(true, Ordering::Relaxed);
    let done = Arc::new(shown);
    leptos::task::spawn_local(async move {
        TimeoutFuture::new(0).await;
        let waiting = mount_hidden(state, entry(Outcome::Waiting));
        TimeoutFuture::new(0).await;
        let done = mount_hidden(state, entry(Outcome::Done(done)));
        drawn.set(Some(Ok(pictures)));
        // The cards hold the pictures' URLs: dropped at once, the loads would fail.
        TimeoutFuture::new(REHEARSAL_MS).await;
        drop((waiting, done));
    });
}

/// A card for `entry` in an element that is not in the document; it goes when the handle does.
fn mount_hidden(state: PageState, entry: Entry) -> Option<UnmountHandle<impl Mountable>> {
    let host = web_sys::window()?.document()?.create_element("div").ok()?;
    Some(leptos::mount::mount_to(host.unchecked_into(), move || {
        provide_context(state);
        view! { <ResultCard entry /> }
    }))
}

#[component]
pub fn ResultCard(entry: Entry) -> impl IntoView {
    let state = expect_context::<PageState>();
    let waiting = move || {
        if state.models_ready() {
            "Analysing…"
        } else {
            "Waiting for the models…"
        }
    };
    let body = match &entry.outcome {
        Outcome::Waiting => view! { <p class="waiting">{waiting}</p> }.into_any(),
        Outcome::Failed(message) => {
            view! { <p class="error" role="alert">{message.clone()}</p> }.into_any()
        }
        Outcome::NotAnalysed(message) => {
            let id = entry.id;
            // A worker that stopped for good would refuse it again.
            let can_try = move || !matches!(state.backend.get(), BackendState::Failed(_));
            view! {
                <p class="error" role="alert">{message.clone()}</p>
                <Show when=can_try>
                    <button class="try-again" on:click=move |_| state.try_again(id)>"Try again"</button>
                </Show>
            }
            .into_any()
        }
        Outcome::Done(shown) => {
            state.ask_for_pictures(&entry, shown);
            view! { <Analysis shown=shown.clone() /> }.into_any()
        }
    };
    let name = entry.name;
    view! {
        <article class="result" data-name=name.clone()>
            <h2>{name.clone()}</h2>
            {body}
        </article>
    }
}

#[component]
fn Analysis(shown: Arc<Shown>) -> impl IntoView {
    let state = expect_context::<PageState>();
    let a = &shown.numbers;
    let names = shown.class_names.clone();
    let erm_class = argmax(&a.erm_probabilities);
    let masktune_class = argmax(&a.masktune_probabilities);
    let confidence = a.combined.confidence;
    let combined_class = names[a.combined.prediction].clone();
    let (erm_name, masktune_name) = (names[erm_class].clone(), names[masktune_class].clone());
    let agree = erm_class == masktune_class;
    let masking = masking_caption(&a.mask, a.side);
    let label = shown.label.map(|label| {
        let verdict = |class| if class == label { "right" } else { "wrong" };
        view! {
            <p class="label" data-label=names[label].clone()>
                {format!(
                    "Its folder names its class: “{}”. ERM is {}, MaskTune is {}.",
                    names[label],
                    verdict(erm_class),
                    verdict(masktune_class)
                )}
            </p>
        }
    });

    let decision = move || state.decision(confidence);
    let explanation = {
        let (erm_name, masktune_name, combined_class) = (
            erm_name.clone(),
            masktune_name.clone(),
            combined_class.clone(),
        );
        // Each reads on from the decision word in bold: "Accept “cat”: …", "Abstain: …".
        move || {
            let threshold = state.threshold().map_or(f64::NAN, |t| t.threshold);
            match (decision(), agree) {
                (Some(Decision::Accept), true) => format!(
                    " “{combined_class}”: both models say it, and their combined confidence {confidence:.3} reaches the threshold {threshold:.3}."
                ),
                (Some(Decision::Accept), false) => format!(
                    " “{combined_class}”: the models disagree (ERM “{erm_name}”, MaskTune “{masktune_name}”), but their combined confidence {confidence:.3} still reaches the threshold {threshold:.3}."
                ),
                (Some(Decision::Abstain), false) => format!(
                    ": ERM says “{erm_name}” but MaskTune, trained without what ERM looked at, says “{masktune_name}”; their combined confidence {confidence:.3} is below the threshold {threshold:.3}."
                ),
                (Some(Decision::Abstain), true) => format!(
                    ": both models say “{combined_class}”, but their combined confidence {confidence:.3} is below the threshold {threshold:.3}."
                ),
                (None, _) => " No decision: these models carry no thresholds.".to_string(),
            }
        }
    };
    let times = a.times.clone();
    // A picture's address once the worker has sent them (`src` stays unset until then).
    let picture = |which: fn(&Pictures) -> &ObjectUrl| {
        let pictures = shown.pictures.clone();
        move || pictures.with(|p| Some(which(p.as_ref()?.as_ref().ok()?).as_str().to_owned()))
    };
    let not_drawn = {
        let pictures = shown.pictures.clone();
        move || {
            pictures.with(|p| match p {
                Some(Err(message)) => {
                    Some(view! { <p class="error" role="alert">{message.clone()}</p> })
                }
                _ => None,
            })
        }
    };

    view! {
        <div class="panels">
            <figure>
                <div class="overlay">
                    <img src=picture(|p| &p.input) alt="the input image" />
                    <img class="heat" src=picture(|p| &p.heatmap) alt="XGradCAM heatmap of the ERM model"
                        style:opacity=move || format!("{}", f64::from(state.opacity.get()) / 100.0) />
                </div>
                <figcaption>"What ERM looked at (XGradCAM)"</figcaption>
            </figure>
            <figure>
                <img src=picture(|p| &p.masked) alt="the image with the salient pixels hidden" class="masked" />
                <figcaption title=MASKING_RULE>{masking}</figcaption>
            </figure>
        </div>
        {not_drawn}
        <div class="predictions">
            <Prediction title="ERM" id="erm" probabilities=a.erm_probabilities.clone() names=names.clone() />
            <Prediction title="MaskTune" id="masktune" probabilities=a.masktune_probabilities.clone() names=names.clone() />
        </div>
        <p class="decision" data-decision=move || decision().map_or("none", Decision::as_str)
            data-erm-class=erm_name.clone() data-masktune-class=masktune_name.clone()
            data-confidence=format!("{confidence:.6}") data-masked-pixels=a.mask.masked_pixels
            data-masking-engine=times.masking_engine.clone()>
            <strong>{move || match decision() {
                Some(Decision::Accept) => "Accept",
                Some(Decision::Abstain) => "Abstain",
                None => "—",
            }}</strong>
            {explanation}
        </p>
        {label}
        <p class="fine-print" data-decode-ms=a.decode_ms data-erm-ms=times.erm_ms
            data-masking-ms=times.saliency_and_masking_ms data-masktune-ms=times.masktune_ms>{timing_caption(a)}</p>
    }
}

/// Where the image's time went. The models' steps are timed per batch, and a batch of several
/// images says so: its times are not this image's alone.
fn timing_caption(a: &AnalysedImage) -> String {
    let times = &a.times;
    let batch = match a.batch_size {
        1 => String::new(),
        n => format!("For its batch of {n} images: "),
    };
    format!(
        "From a {}×{} image, decoded and resized in {}. {batch}ERM {}, XGradCAM + masking {} ({}), MaskTune {}.",
        a.source_size.0,
        a.source_size.1,
        milliseconds(a.decode_ms),
        milliseconds(times.erm_ms),
        milliseconds(times.saliency_and_masking_ms),
        times.masking_engine,
        milliseconds(times.masktune_ms),
    )
}

/// A duration as the card prints it: a tenth of a millisecond below 10 ms, where a small model's
/// steps take well under one (rounded to whole milliseconds they read "0 ms", as if skipped).
fn milliseconds(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// How MaskTune picks the pixels it hides (DESIGN.md, step 3), for the caption's tooltip.
const MASKING_RULE: &str = "MaskTune hides the pixels whose saliency is above the mean plus two \
                            standard deviations of the map's values above 0.";

/// What masking did to the `side`×`side` input, and by which threshold: a map whose attention is
/// spread out may have no pixel above its mean + 2 std, and the image is then left untouched
/// (MaskTune's model sees it as it is).
fn masking_caption(mask: &MaskStats, side: usize) -> String {
    let rule = "mean + 2 std of the map";
    if mask.masked_pixels == 0 {
        return format!("Untouched: no pixel above {:.2} ({rule})", mask.threshold);
    }
    let pixels = side * side;
    format!(
        "Masked: {} of {pixels} pixels ({:.1}%), those above {:.2} ({rule})",
        mask.masked_pixels,
        mask.masked_pixels as f64 * 100.0 / pixels as f64,
        mask.threshold
    )
}

#[component]
fn Prediction(
    title: &'static str,
    id: &'static str,
    probabilities: Vec<f32>,
    names: Arc<Vec<String>>,
) -> impl IntoView {
    let mut ranked: Vec<(usize, f32)> = probabilities.into_iter().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(TOP);
    view! {
        <div class="prediction" data-model=id>
            <h3>{title}</h3>
            <ol>
                {ranked.into_iter().map(|(class, p)| view! {
                    <li>
                        <span class="class">{names[class].clone()}</span>
                        <meter min="0" max="1" value=p></meter>
                        <span class="p">{format!("{:.1}%", p * 100.0)}</span>
                    </li>
                }).collect_view()}
            </ol>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test]
    fn the_masking_caption_says_what_was_hidden_and_by_which_threshold() {
        for (threshold, masked_pixels, caption) in [
            (
                0.6834,
                25,
                "Masked: 25 of 1024 pixels (2.4%), those above 0.68 (mean + 2 std of the map)",
            ),
            (
                1.0172,
                0,
                "Untouched: no pixel above 1.02 (mean + 2 std of the map)",
            ),
        ] {
            let mask = MaskStats {
                threshold,
                masked_pixels,
            };
            assert_eq!(masking_caption(&mask, 32), caption);
        }
    }

    #[wasm_bindgen_test]
    fn durations_below_ten_milliseconds_keep_a_tenth() {
        for (ms, text) in [(0.34, "0.3 ms"), (4.0, "4.0 ms"), (12.6, "13 ms")] {
            assert_eq!(milliseconds(ms), text);
        }
    }

    #[wasm_bindgen_test]
    fn a_card_from_a_batch_says_its_times_are_the_batch_times() {
        let mut image = AnalysedImage {
            side: 32,
            mask: MaskStats {
                threshold: 0.5,
                masked_pixels: 0,
            },
            erm_probabilities: vec![1.0, 0.0],
            masktune_probabilities: vec![1.0, 0.0],
            combined: masktune::selective::combined_confidence(&[1.0, 0.0], &[1.0, 0.0]).unwrap(),
            decode_ms: 0.72,
            times: masktune::inference::StepTimes {
                masking_engine: "WGSL kernels".into(),
                erm_ms: 46.3,
                saliency_and_masking_ms: 7.44,
                masktune_ms: 45.0,
            },
            batch_size: 1,
            source_size: (256, 256),
            saliency: crate::protocol::Saliency {
                map_levels: Vec::new(),
                changed: Vec::new(),
            },
        };
        assert_eq!(
            timing_caption(&image),
            "From a 256×256 image, decoded and resized in 0.7 ms. ERM 46 ms, XGradCAM + masking 7.4 ms (WGSL kernels), MaskTune 45 ms."
        );
        image.batch_size = 4;
        assert_eq!(
            timing_caption(&image),
            "From a 256×256 image, decoded and resized in 0.7 ms. For its batch of 4 images: ERM 46 ms, XGradCAM + masking 7.4 ms (WGSL kernels), MaskTune 45 ms."
        );
    }
}
