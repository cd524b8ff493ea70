//! Entry point of the MaskTune page (built by Trunk from the repository's index.html).

mod assets;
mod compute;
mod image_input;
mod tasks;
mod ui;

// Browser-only unit tests run in headless Chromium (see app/webdriver.json).
#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(ui::App);
}
