#!/usr/bin/env bash
# The demo: sets up what is missing, builds the page and serves it at http://127.0.0.1:8080/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
bash scripts/setup.sh
# trunk serve rebuilds the page on every change, not the threaded and WebGPU builds it copies.
build_threaded_worker
build_webgpu_worker
wasm_env
step "Serving the page at http://127.0.0.1:8080/ (the first build takes a while; Ctrl-C stops)"
exec trunk serve --release --address 127.0.0.1 --port 8080 "$@"
