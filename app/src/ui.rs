//! The page: which backend computes, and whether it computes correctly.

use leptos::prelude::*;

use crate::compute::{self, SELF_CHECK_EXPECTED};

/// Outcome of starting the compute backend, shown in the header.
#[derive(Clone, Debug)]
struct BackendStatus {
    id: &'static str,
    label: &'static str,
    detail: String,
    check: Result<Vec<f32>, String>,
}

#[component]
pub fn App() -> impl IntoView {
    let status = LocalResource::new(|| async {
        let backend = compute::pick_backend().await;
        let check = compute::self_check(&backend.device).await;
        BackendStatus {
            id: backend.kind.id(),
            label: backend.kind.label(),
            detail: backend.detail,
            check,
        }
    });

    view! {
        <header>
            <h1>"MaskTune"</h1>
            <p class="tagline">
                "See what a classifier looks at, hide it, and let two models decide when to abstain."
            </p>
        </header>
        <main>
            <Suspense fallback=|| view! { <p id="backend-status" data-state="starting">"Starting the compute backend…"</p> }>
                {move || status.get().map(|status| view! { <BackendBadge status /> })}
            </Suspense>
        </main>
    }
}

#[component]
fn BackendBadge(status: BackendStatus) -> impl IntoView {
    let (state, check_text) = match &status.check {
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
        <p id="backend-status" data-state=state data-backend=status.id>
            "Compute: " <strong>{status.label}</strong> " — " {status.detail}
        </p>
        <p id="self-check" data-state=state>{check_text}</p>
    }
}
