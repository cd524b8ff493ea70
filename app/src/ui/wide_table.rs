//! A table wider than a phone's screen scrolls inside its own box, so the page never scrolls
//! sideways. The box is a labelled region that takes focus: keyboard users scroll it too.

use leptos::prelude::*;

#[component]
pub fn WideTable(#[prop(into)] label: String, children: Children) -> impl IntoView {
    view! {
        <div class="wide-table" role="region" aria-label=label tabindex="0">
            {children()}
        </div>
    }
}
