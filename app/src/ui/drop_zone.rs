//! A region files can be dropped on (it shows when a drag is over it), around a file input.

use leptos::prelude::*;

#[component]
pub fn DropZone(
    /// Extra CSS classes besides `picker`.
    class: &'static str,
    /// Called with what was dropped.
    on_drop: impl Fn(web_sys::DataTransfer) + Copy + 'static,
    children: Children,
) -> impl IntoView {
    let dragging = RwSignal::new(false);
    view! {
        <div class=format!("picker {class}") class:dragging=move || dragging.get()
            on:dragover=move |ev: web_sys::DragEvent| { ev.prevent_default(); dragging.set(true); }
            on:dragleave=move |_| dragging.set(false)
            on:drop=move |ev: web_sys::DragEvent| {
                ev.prevent_default();
                dragging.set(false);
                if let Some(transfer) = ev.data_transfer() {
                    on_drop(transfer);
                }
            }>
            {children()}
        </div>
    }
}
