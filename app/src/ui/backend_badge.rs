//! Which backend the compute worker runs on, and the proof that it computes correctly.

use leptos::prelude::*;

use super::backend_choice::{self, Adapter};
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
        BackendState::Restarting(message) => view! {
            <p id="backend-status" data-state="restarting" role="alert">
                "Compute: " <strong>"restarting"</strong> " — " {message}
                "; a new worker is starting…"
            </p>
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
            <Restarted />
            <Switch />
        }
        .into_any(),
    }
}

/// Why the compute worker stopped, when the page started a new one in its place.
#[component]
fn Restarted() -> impl IntoView {
    let state = expect_context::<PageState>();
    move || {
        state.restarted.get().map(|message| {
            view! {
                <p id="worker-restarted" class="fine-print">
                    "Earlier, " {message} "; a new worker took its place and loaded the same \
                     models again."
                </p>
            }
        })
    }
}

/// A link to the page on the other backend: to WebGPU where the browser offers an adapter (saying
/// so where it is only the browser's software renderer), back to the CPU from WebGPU.
#[component]
fn Switch() -> impl IntoView {
    let state = expect_context::<PageState>();
    move || {
        let download = format!(
            "about {:.1} MB more to download, once",
            backend_choice::WEBGPU_BUILD_MB
        );
        let adapter = state.webgpu_offered.get();
        let (target, text) = match (state.requested_backend, adapter) {
            (BackendKind::Cpu, Some(Adapter::Hardware)) => (
                BackendKind::WebGpu,
                format!("This browser offers WebGPU: run on it instead ({download})"),
            ),
            (BackendKind::Cpu, Some(Adapter::Software)) => (
                BackendKind::WebGpu,
                format!(
                    "This browser offers WebGPU in software only, without a GPU: run on it anyway \
                     (much slower than the CPU here; {download})"
                ),
            ),
            (BackendKind::Cpu, None) => return None,
            (BackendKind::WebGpu, _) => (BackendKind::Cpu, "Run on the CPU instead".to_string()),
        };
        // The address keeps the fragment (the task or the Lab), which changes with them.
        state.task.track();
        state.view.track();
        let href = backend_choice::address_for(target)?;
        Some(view! {
            <p class="fine-print">
                <a id="backend-switch" data-backend=target.id() data-adapter=adapter.map(Adapter::id) href=href>{text}</a>
            </p>
        })
    }
}

fn ready(report: BackendReport) -> impl IntoView {
    let (state, check_text) = match &report.check {
        Ok(values) if values.as_slice() == SELF_CHECK_EXPECTED => (
            "ready",
            format!(
                "Self-check passed: a 2×2 matrix product on this backend gave exactly {values:?}."
            ),
        ),
        Ok(values) => (
            "wrong",
            format!(
                "Self-check failed: a 2×2 matrix product on this backend gave {values:?}, not {SELF_CHECK_EXPECTED:?}: its results cannot be trusted."
            ),
        ),
        Err(error) => ("failed", format!("Self-check failed: {error}")),
    };
    view! {
        <p id="backend-status" data-state=state data-backend=report.kind.id()>
            "Compute (in a worker): " <strong>{report.label}</strong> " — " {report.detail}
        </p>
        <p id="self-check" class="fine-print" data-state=state>{check_text}</p>
    }
}
