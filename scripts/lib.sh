# Shared by the project's scripts: where tools live and how to reach the wasm32 toolchain.
# Source it; it defines functions and variables only.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Tool builds survive between runs on the same machine here (override with MASKTUNE_TOOLS).
TOOLS_DIR="${MASKTUNE_TOOLS:-$HOME/.cache/masktune-tools}"
# Cargo's build folder; CI points it outside the fresh clone so that builds are incremental.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
TRUNK_VERSION="0.21.14"

step() { printf '\n==> %s\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
die() {
    printf '\nerror: %s\n' "$1" >&2
    shift
    for line in "$@"; do printf '  %s\n' "$line" >&2; done
    exit 1
}

# The wasm-bindgen version pinned by Cargo.lock: the CLI must be exactly this version.
wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' \
        "$REPO_ROOT/Cargo.lock"
}

# Puts the tools on PATH and, when the wasm32 target comes from Debian's rustc-web (no rustup
# target could be installed), routes cargo/rustc to it and builds std from source.
wasm_env() {
    export PATH="$TOOLS_DIR/bin:$PATH"
    # wasm builds get their own build folder so they never wait on the native build's lock.
    export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/wasm"
    local route
    route="$(cat "$TOOLS_DIR/wasm-route" 2>/dev/null || true)"
    case "$route" in
        rustup) ;;
        debian)
            export PATH="$TOOLS_DIR/debian-rust:$PATH"
            export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
            export CARGO_UNSTABLE_BUILD_STD="std,panic_abort"
            ;;
        *) die "no wasm32 toolchain is set up" "run: scripts/setup.sh" ;;
    esac
}

# Builds the page into dist/ as it is hosted (quick when nothing changed).
build_page() {
    step "Building the page (trunk build --release)"
    ( wasm_env && timeout 3600 trunk build --release )
}

# The npm packages the page's browser tests and benches drive Chromium with, once.
browser_packages() {
    [ -d "$REPO_ROOT/e2e/node_modules/playwright-core" ] \
        || (cd "$REPO_ROOT/e2e" && npm ci --no-audit --no-fund)
}
