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

# The compute worker's threaded build (feature `threads`): wasm atomics need std rebuilt with
# them, so it always takes Debian's rustc-web and build-std, in a build folder of its own.
threaded_wasm_env() {
    export PATH="$TOOLS_DIR/debian-rust:$TOOLS_DIR/bin:$PATH"
    export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/wasm-threads"
    export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
    export CARGO_UNSTABLE_BUILD_STD="std,panic_abort"
    # .cargo/config.toml's target features plus those of threads (this variable replaces the
    # file's flags).
    export RUSTFLAGS="-C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals"
}

# Whether Debian's rustc-web and its std sources are there (scripts/setup.sh installs them
# where apt-get is).
has_debian_wasm_toolchain() {
    [ -x /usr/bin/rustc ] \
        && [ -f "$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust/library/Cargo.toml" ]
}

# The compute worker's threaded build into dist-threads/, which the page's build copies to
# dist/threads/ (app/worker.js runs it on cross-origin isolated pages). Without the toolchain
# dist-threads/ stays empty and the page runs on one thread, saying why.
build_threaded_worker() {
    mkdir -p "$REPO_ROOT/dist-threads"
    if ! has_debian_wasm_toolchain; then
        note "no Debian rustc-web with std sources: the threaded build is skipped (scripts/setup.sh)"
        return 0
    fi
    step "Building the compute worker's threaded build (trunk build threads.html)"
    ( threaded_wasm_env && timeout 3600 trunk build --release --filehash false \
        --dist "$REPO_ROOT/dist-threads" "$REPO_ROOT/threads.html" )
}

# The compute worker's WebGPU build into dist-webgpu/, which the page's build copies to
# dist/webgpu/ (app/worker.js runs it where the page asks for WebGPU). It shares the page's
# build folder: only the crates whose features differ are compiled twice.
build_webgpu_worker() {
    step "Building the compute worker's WebGPU build (trunk build webgpu.html)"
    ( wasm_env && timeout 3600 trunk build --release --filehash false \
        --dist "$REPO_ROOT/dist-webgpu" "$REPO_ROOT/webgpu.html" )
}

# The page's CPU build into dist/, with the threaded and WebGPU builds copied in: they must be
# built first.
build_cpu_page() {
    step "Building the page (trunk build --release)"
    ( wasm_env && timeout 3600 trunk build --release )
}

# Builds the page into dist/ as it is hosted (quick when nothing changed).
build_page() {
    build_threaded_worker
    build_webgpu_worker
    build_cpu_page
}

# The npm packages the page's browser tests and benches drive Chromium with, once.
browser_packages() {
    [ -d "$REPO_ROOT/e2e/node_modules/playwright-core" ] \
        || (cd "$REPO_ROOT/e2e" && npm ci --no-audit --no-fund)
}
