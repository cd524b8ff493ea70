//! Entry point of the MaskTune page (built by Trunk from the repository's index.html).

mod compute;
mod ui;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(ui::App);
}
