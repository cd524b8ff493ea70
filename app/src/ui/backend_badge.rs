//! Which backend the compute worker runs on, and the proof that it computes correctly.

use leptos::prelude::*;

use super::state::{BackendState, PageState};
use crate::protocol::{BackendReport, SELF_CHECK_EXPECTED};

#[component]
pub fn BackendBadge() -> impl IntoView {
    let state = expect_context::<PageState>();
    move || match state.backend.get() {
        BackendState::Starting => view! {
            <p id="backend-status" data-state="starting">"Starting the compute worker…"</p>
        }
        .into_any(),
        BackendState::Failed(message) => view! {
            <p id="backend-status" data-state="failed" role="alert">
                "Compute: " <strong>"not available"</strong> " — " {message}
            </p>
        }
        .into_any(),
        BackendState::Ready(report) => ready(report).into_any(),
    }
}

fn ready(report: BackendReport) -> impl IntoView {
    let (state, check_text) = match &report.check {
        Ok(values) if values.as_slice() == SELF_CHECK_EXPECTED => {
            ("ready", format!("self-check passed: {values:?}"))
        }
        Ok(values) => (
            "wrong",
            format!("self-check gave {values:?}, expected {SELF_CHECK_EXPECTED:?}"),
        ),
        Err(error) => ("failed", format!("self-check failed: {error}")),
    };
    view! {
        <p id="backend-status" data-state=state data-backend=report.kind.id()>
            "Compute (in a worker): " <strong>{report.label}</strong> " — " {report.detail}
        </p>
        <p id="self-check" class="fine-print" data-state=state>{check_text}</p>
    }
}
