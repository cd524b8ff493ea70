//! Which result cards the page shows: all of them, or those the pair accepts, abstains on,
//! where ERM and MaskTune disagree, or that could not be analysed.

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
    },
}

impl CardFacts {
    pub fn of(entry: &Entry, threshold: f64) -> Self {
        match &entry.outcome {
            Outcome::Waiting => CardFacts::Waiting,
            Outcome::Failed(_) => CardFacts::Failed,
            Outcome::Done(shown) => {
                let a = &shown.numbers;
                CardFacts::Done {
                    decision: decide(a.combined.confidence, threshold),
                    disagree: argmax(&a.erm_probabilities) != argmax(&a.masktune_probabilities),
                }
            }
        }
    }
}

impl CardFilter {
    pub const ALL: [CardFilter; 5] = [
        CardFilter::All,
        CardFilter::Accepted,
        CardFilter::Abstained,
        CardFilter::Disagree,
        CardFilter::Failed,
    ];

    /// The filter's name in the page's markup (`data-filter`).
    pub fn id(self) -> &'static str {
        match self {
            CardFilter::All => "all",
            CardFilter::Accepted => "accepted",
            CardFilter::Abstained => "abstained",
            CardFilter::Disagree => "disagree",
            CardFilter::Failed => "failed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CardFilter::All => "all",
            CardFilter::Accepted => "accepted",
            CardFilter::Abstained => "abstained",
            CardFilter::Disagree => "the models disagree",
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
            _ => false,
        }
    }
}
