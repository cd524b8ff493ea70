//! The result cards, a page at a time. A folder of hundreds of images would otherwise put
//! hundreds of cards in the page, and the browser's work for every result (style, layout,
//! paint) grows with each card shown (docs/BENCHMARKS.md, "Many images at once"). The summary
//! above the cards counts and downloads every result; the cards are for looking at them.

use leptos::prelude::*;

use super::result_card::ResultCard;
use super::state::PageState;

/// Cards shown at first, and added by each "Show more" (a multiple of 2, 3 and 4 columns).
const PAGE: usize = 48;

#[component]
pub fn CardList() -> impl IntoView {
    let state = expect_context::<PageState>();
    let limit = RwSignal::new(PAGE);
    // Counted once per change of the cards, for the three places that say how many are hidden.
    let count = Memo::new(move |_| state.shown_count());
    let hidden = move || count.get().saturating_sub(limit.get());
    view! {
        <section id="results" aria-label="Results" aria-live="polite">
            <For each=move || state.shown_entries(limit.get()) key=|entry| entry.key() let:entry>
                <ResultCard entry />
            </For>
        </section>
        <Show when=move || { hidden() > 0 }>
            <p id="more-cards">
                {move || format!("{} more {} not shown. ", hidden(), cards(hidden()))}
                <button type="button" on:click=move |_| limit.update(|l| *l += PAGE)>
                    {move || format!("Show {} more", hidden().min(PAGE))}
                </button>
            </p>
        </Show>
    }
}

fn cards(count: usize) -> &'static str {
    if count == 1 { "card is" } else { "cards are" }
}
