//! Which backend computes, and the proof that it computes correctly.

use leptos::prelude::*;

use crate::compute::{ComputeBackend, SELF_CHECK_EXPECTED};

#[component]
pub fn BackendBadge(backend: ComputeBackend, check: Result<Vec<f32>, String>) -> impl IntoView {
    let (state, check_text) = match &check {
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
        <p id="backend-status" data-state=state data-backend=backend.kind.id()>
            "Compute: " <strong>{backend.kind.label()}</strong> " — " {backend.detail}
        </p>
        <p id="self-check" class="fine-print" data-state=state>{check_text}</p>
    }
}
