//! Progress bars with throughput and ETA. indicatif draws nothing when stderr is not a terminal,
//! so logs and tests get only the one-line summaries.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `images` images, labelled `label`.
pub fn images_bar(images: usize, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(images as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>22} [{bar:30}] {pos}/{len} img  {per_sec:.1}  ETA {eta}  {prefix}",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

/// A bar over a download of `bytes` bytes (a spinner when the server does not say).
pub fn bytes_bar(bytes: Option<u64>, label: &str) -> ProgressBar {
    let bar = match bytes {
        Some(bytes) => ProgressBar::new(bytes),
        None => ProgressBar::new_spinner(),
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>28} [{bar:30}] {bytes}/{total_bytes}  {bytes_per_sec}  ETA {eta}",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}
