//! Which result cards the page shows: all of them, or those the pair accepts, abstains on,
//! where ERM and MaskTune disagree, where a model is wrong about an image whose folder names its
//! class (`masktune::labelled`), or that could not be analysed.

use masktune::metrics::argmax;
use masktune::selective::{Decision, decide};

use super::state::{Entry, Outcome};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CardFilter {
    #[default]
    All,
    Accepted,
    Abstained,
    Disagree,
    ErmWrong,
    MasktuneWrong,
    Failed,
}

/// What a card came to at a decision threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardFacts {
    Waiting,
    Failed,
    Done {
        decision: Decision,
        /// ERM and MaskTune predict different classes.
        disagree: bool,
        /// Whether ERM and MaskTune are right, where the image's folder names its class.
        right: Option<(bool, bool)>,
    },
}

impl CardFacts {
    pub fn of(entry: &Entry, threshold: f64) -> Self {
        match &entry.outcome {
            Outcome::Waiting => CardFacts::Waiting,
            Outcome::Failed(_) | Outcome::NotAnalysed(_) => CardFacts::Failed,
            Outcome::Done(shown) => {
                let a = &shown.numbers;
                let (erm, masktune) = (
                    argmax(&a.erm_probabilities),
                    argmax(&a.masktune_probabilities),
                );
                CardFacts::Done {
                    decision: decide(a.combined.confidence, threshold),
                    disagree: erm != masktune,
                    right: shown.label.map(|label| (erm == label, masktune == label)),
                }
            }
        }
    }
}

impl CardFilter {
    pub const ALL: [CardFilter; 7] = [
        CardFilter::All,
        CardFilter::Accepted,
        CardFilter::Abstained,
        CardFilter::Disagree,
        CardFilter::ErmWrong,
        CardFilter::MasktuneWrong,
        CardFilter::Failed,
    ];

    /// Whether the filter needs images whose folder names their class (the page offers it only
    /// where some have one).
    pub fn needs_labels(self) -> bool {
        matches!(self, CardFilter::ErmWrong | CardFilter::MasktuneWrong)
    }

    /// The filter's name in the page's markup (`data-filter`).
    pub fn id(self) -> &'static str {
        match self {
            CardFilter::All => "all",
            CardFilter::Accepted => "accepted",
            CardFilter::Abstained => "abstained",
            CardFilter::Disagree => "disagree",
            CardFilter::ErmWrong => "erm-wrong",
            CardFilter::MasktuneWrong => "masktune-wrong",
            CardFilter::Failed => "failed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CardFilter::All => "all",
            CardFilter::Accepted => "accepted",
            CardFilter::Abstained => "abstained",
            CardFilter::Disagree => "the models disagree",
            CardFilter::ErmWrong => "ERM is wrong",
            CardFilter::MasktuneWrong => "MaskTune is wrong",
            CardFilter::Failed => "failed",
        }
    }

    pub fn keeps(self, facts: CardFacts) -> bool {
        match (self, facts) {
            (CardFilter::All, _) => true,
            (CardFilter::Failed, CardFacts::Failed) => true,
            (CardFilter::Accepted, CardFacts::Done { decision, .. }) => {
                decision == Decision::Accept
            }
            (CardFilter::Abstained, CardFacts::Done { decision, .. }) => {
                decision == Decision::Abstain
            }
            (CardFilter::Disagree, CardFacts::Done { disagree, .. }) => disagree,
            (CardFilter::ErmWrong, CardFacts::Done { right, .. }) => {
                right.is_some_and(|(erm, _)| !erm)
            }
            (CardFilter::MasktuneWrong, CardFacts::Done { right, .. }) => {
                right.is_some_and(|(_, masktune)| !masktune)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn done(right: Option<(bool, bool)>) -> CardFacts {
        CardFacts::Done {
            decision: Decision::Accept,
            disagree: false,
            right,
        }
    }

    #[wasm_bindgen_test]
    fn the_right_and_wrong_filters_keep_only_labelled_cards_a_model_got_wrong() {
        let keeps = |filter: CardFilter, facts| filter.keeps(facts);
        assert!(keeps(CardFilter::ErmWrong, done(Some((false, true)))));
        assert!(!keeps(CardFilter::MasktuneWrong, done(Some((false, true)))));
        assert!(keeps(CardFilter::MasktuneWrong, done(Some((true, false)))));
        // Without a label, neither model is known to be wrong.
        for filter in [CardFilter::ErmWrong, CardFilter::MasktuneWrong] {
            assert!(!keeps(filter, done(None)));
            assert!(!keeps(filter, CardFacts::Failed));
            assert!(filter.needs_labels());
        }
        assert!(keeps(CardFilter::All, done(None)));
        assert!(!CardFilter::Disagree.needs_labels());
    }
}
