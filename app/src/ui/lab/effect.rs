//! The shortcut in numbers: how far the biased test falls below the original test, for the last
//! ERM epoch and for MaskTune, and how much of that gap the fine-tuning closed.

use leptos::prelude::*;

use crate::protocol::lab::{EpochPoint, LabModel};
use crate::ui::state::PageState;

/// Below this many points between the original and the biased test, ERM has hardly learned the
/// shortcut (a short run on few images): a share of such a gap "closed" would be noise.
const SHORTCUT_POINTS: f64 = 2.0;

#[component]
pub fn Effect() -> impl IntoView {
    let lab = expect_context::<PageState>().lab;
    move || {
        let epochs = lab.epochs.get();
        let last = |model| epochs.iter().rev().find(|p| p.model == model);
        let erm = gap(last(LabModel::Erm)?)?;
        let text = effect_sentence(erm, last(LabModel::MaskTune).and_then(gap));
        Some(view! { <p id="lab-effect">{text}</p> })
    }
}

/// Points of accuracy the biased test lies below the original test (spurious MNIST's; a folder
/// has no such pair).
fn gap(point: &EpochPoint) -> Option<f64> {
    let test = |name| point.tests.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    Some((test("test_original")? - test("test_biased")?) * 100.0)
}

/// What the gaps say, ERM's alone while MaskTune has not been trained yet.
fn effect_sentence(erm_gap: f64, masktune_gap: Option<f64>) -> String {
    let measured = match masktune_gap {
        Some(masktune_gap) => format!(
            "The biased test lies {} the original test for ERM, {} for MaskTune",
            below(erm_gap),
            below(masktune_gap)
        ),
        None => format!(
            "The biased test lies {} the original test for ERM",
            below(erm_gap)
        ),
    };
    let meaning = match masktune_gap {
        _ if erm_gap < SHORTCUT_POINTS => {
            "ERM has hardly learned the shortcut yet; train on more images or for more epochs to see \
             it fall for the square"
                .to_string()
        }
        None => "the square is doing part of ERM's work".to_string(),
        Some(masktune_gap) if masktune_gap < erm_gap => format!(
            "fine-tuning on the masked images closed {:.0} % of the gap",
            100.0 * (1.0 - masktune_gap / erm_gap)
        ),
        Some(_) => "fine-tuning on the masked images did not close the gap".to_string(),
    };
    format!("{measured}: {meaning}.")
}

/// "4.2 points below", or "above" where the biased test is the better one.
fn below(points: f64) -> String {
    let side = if points < 0.0 { "above" } else { "below" };
    format!("{:.1} points {side}", points.abs())
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::effect_sentence;

    #[wasm_bindgen_test]
    fn a_learned_shortcut_gets_the_share_of_its_gap_closed() {
        assert_eq!(
            effect_sentence(31.5, Some(1.5)),
            "The biased test lies 31.5 points below the original test for ERM, 1.5 points below \
             for MaskTune: fine-tuning on the masked images closed 95 % of the gap."
        );
        assert!(effect_sentence(10.0, None).ends_with(
            "10.0 points below the original test for ERM: the square is doing part of ERM's work."
        ));
    }

    #[wasm_bindgen_test]
    fn no_share_of_a_gap_that_is_not_there_or_grew() {
        let small = effect_sentence(0.5, Some(0.8));
        assert!(
            small.contains("ERM has hardly learned the shortcut"),
            "{small}"
        );
        assert!(!small.contains('%'), "{small}");
        let above = effect_sentence(-1.0, None);
        assert!(above.contains("1.0 points above"), "{above}");
        let grew = effect_sentence(5.0, Some(7.0));
        assert!(grew.ends_with("did not close the gap."), "{grew}");
    }
}
