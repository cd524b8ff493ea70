#!/usr/bin/env bash
# Runs every test: set-up (idempotent), then lanes at once: the native tests and the lints,
# beside the wasm tools, the page's builds and its browser-only unit tests in headless Chromium;
# then the built page end to end in headless Chromium with and without WebGPU.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
bash scripts/setup.sh --without-cargo-tools

# Native wgpu runs on Mesa's lavapipe where there is no GPU; the loader wants a runtime dir.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

# One build leaves much of two cores idle (a single crate's long compile, a link), so the work
# runs in lanes, each in a build folder of its own: the native tests and lints, the threaded
# build once the tools are there, and the rest of the wasm work (the native lane took a new
# machine's run from 79 to 64 minutes: docs/CI_TIMES.md). A lane's lines start with its name.
declare -A lanes
start_lane() { # name, command...
    local name=$1
    shift
    # In a process group of its own, so that the whole lane stops when this script does.
    set -m
    ("$@" 2>&1 | sed -u "s/^/$name | /") &
    lanes[$name]=$!
    set +m
}
finish_lane() { # name, what it does
    step "Waiting for the $1 lane (its lines start with \"$1 | \")"
    wait "${lanes[$1]}" || die "$2 failed" "the lines starting with \"$1 | \" above say where"
    unset "lanes[$1]"
}
stop_lanes() {
    local pid
    for pid in "${lanes[@]}"; do kill -- -"$pid" 2>/dev/null || true; done
}
trap stop_lanes EXIT

native_lane() {
    step "Native tests (masktune, kernels on lavapipe/GPU, trainer-native)"
    cargo test --locked
    step "Lints: rustfmt, and clippy with warnings as errors (README: Development has the wasm32 lint)"
    if ! cargo clippy --version >/dev/null 2>&1 || ! cargo fmt --version >/dev/null 2>&1; then
        { command -v rustup >/dev/null && timeout 90 rustup component add clippy rustfmt; } \
            || die "the lints need clippy and rustfmt" "install them: rustup component add clippy rustfmt"
    fi
    cargo fmt --all --check
    cargo clippy --locked --workspace --all-targets -- -D warnings
}
start_lane native native_lane

# The wasm work: the tools cargo builds (the rest of the set-up is done: seconds), then the
# threaded build in its lane beside the WebGPU build and the browser tests (their own build
# folder), then the page, which copies the other two builds.
bash scripts/setup.sh
start_lane threads build_threaded_worker
build_webgpu_worker

step "Browser tests: the page's unit tests and the WGSL kernels' parity (wasm-bindgen-test in headless Chromium with WebGPU)"
(
    wasm_env
    export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
    export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
    # The runner reads webdriver.json (Chromium flags, WebGPU on) from the package's folder.
    # The page's profile, and app and kernels together, so that the dependencies trunk just
    # compiled (same features) are reused.
    # The runner's own limit for a test binary is 20 s, which the page's unit tests come near
    # on a busy machine; speed is the benchmarks' business.
    WASM_BINDGEN_TEST_TIMEOUT=600 timeout 3600 cargo test --locked --target wasm32-unknown-unknown \
        --profile wasm-release -p app -p kernels
)

finish_lane threads "the threaded build"
build_cpu_page

step "A first visit of any task downloads at most 3 MB gzipped (issue 19)"
node bench/download_size/measure.mjs --dist "$REPO_ROOT/dist" --limit 3

finish_lane native "the native tests or the lints"

step "trainer-native's answers for the images the page tests use (the page must agree)"
mkdir -p target/e2e
# The binary `cargo test` built for the trainer's integration tests (same features, no rebuild).
predict() { # task, images...
    local task=$1
    shift
    "$CARGO_TARGET_DIR/debug/trainer-native" predict \
        --erm "app/assets/models/$task-erm.mtb" --masktune "app/assets/models/$task-masktune.mtb" \
        --out "target/e2e/trainer-predictions-$task.json" "$@"
}
predict spurious-mnist app/assets/examples/digit-*.png
predict cifar10 e2e/fixtures/cat-chelsea-32.png e2e/fixtures/rocket-32*.png app/assets/examples/cat-chelsea.png
predict celeba e2e/fixtures/face-*-64.png app/assets/examples/face-astronaut.png e2e/fixtures/face-astronaut-turned.jpg

step "A run on an image folder, as README's \"MaskTune on your own images\" does (the page loads its bundles)"
own=target/e2e/own
rm -rf "$own"
node scripts/example-image-folder.mjs "$own/shapes"
"$CARGO_TARGET_DIR/debug/trainer-native" pipeline --experiment folder --data "$own/shapes" \
    --image-size 32 --model vgg --width 4 --epochs 1 --batch-size 16 --runs-dir "$own/runs" --name shapes
"$CARGO_TARGET_DIR/debug/trainer-native" predict --erm "$own/runs/shapes/bundles/erm.bundle" \
    --masktune "$own/runs/shapes/bundles/masktune.bundle" --out target/e2e/trainer-predictions-own.json \
    "$own"/shapes/test/*/*-00[0-2].png
# The whole test split, whose folders name the classes: the page counts it as the trainer does.
"$CARGO_TARGET_DIR/debug/trainer-native" predict --erm "$own/runs/shapes/bundles/erm.bundle" \
    --masktune "$own/runs/shapes/bundles/masktune.bundle" --out target/e2e/trainer-predictions-own-test.json \
    --labelled target/e2e/trainer-labelled-own-test.json "$own"/shapes/test/*/*.png

step "The page end to end in headless Chromium"
# The Lab's test checks the bundles it downloads with the same trainer binary.
(cd e2e && MASKTUNE_TRAINER="$CARGO_TARGET_DIR/debug/trainer-native" timeout 1800 npm test)
