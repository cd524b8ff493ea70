#!/usr/bin/env bash
# The page's layers and models, one image at a time, and the Lab's convolutions in training, in headless Chromium (app/benches/page_layers.rs):
#
#     bench/page_layers/run.sh [mnist|cifar10|celeba|models|lab_training]
#
# Each run compares its times with the previous run's, kept in $CARGO_TARGET_DIR/page-layers.json
# (set WASM_BINDGEN_BENCH_RESULT to keep another). For a before / after: run it on the build
# before a change, then on the build after. Prints criterion's report, then a Markdown table.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"
wasm_env
export WASM_BINDGEN_BENCH_RESULT="${WASM_BINDGEN_BENCH_RESULT:-$CARGO_TARGET_DIR/page-layers.json}"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
# The runner's limit is for the whole run (20 s by default); all rows take about 2.5 minutes.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-900}"
cd "$REPO_ROOT/app"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# The same profile and features as the browser tests (scripts/test.sh): their build is reused.
cargo bench --locked --target wasm32-unknown-unknown --profile wasm-release -p app \
    --bench page_layers -- "$@" | tee "$log"
node "$REPO_ROOT/bench/page_layers/table.mjs" < "$log"
