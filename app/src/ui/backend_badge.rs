//! Which backend the compute worker runs on, and the proof that it computes correctly.

use leptos::prelude::*;

use super::backend_choice;
use super::state::{BackendState, PageState};
use crate::protocol::{BackendKind, BackendReport, SELF_CHECK_EXPECTED};

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
        BackendState::Ready(report) => view! {
            {ready(report)}
            <Switch />
        }
        .into_any(),
    }
}

/// A link to the page on the other backend: to WebGPU where the browser offers an adapter, back
/// to the CPU from WebGPU.
#[component]
fn Switch() -> impl IntoView {
    let state = expect_context::<PageState>();
    move || {
        let (target, text) = match state.requested_backend {
            BackendKind::Cpu if state.webgpu_offered.get() => (
                BackendKind::WebGpu,
                format!(
                    "This browser offers WebGPU: run on it instead (about {:.1} MB more to download, once)",
                    backend_choice::WEBGPU_BUILD_MB
                ),
            ),
            BackendKind::Cpu => return None,
            BackendKind::WebGpu => (BackendKind::Cpu, "Run on the CPU instead".to_string()),
        };
        // The address keeps the fragment (the task or the Lab), which changes with them.
        state.task.track();
        state.view.track();
        let href = backend_choice::address_for(target)?;
        Some(view! {
            <p class="fine-print"><a id="backend-switch" data-backend=target.id() href=href>{text}</a></p>
        })
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
