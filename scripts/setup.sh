#!/usr/bin/env bash
# One-time, idempotent set-up of everything the build, the demo and the tests need:
# the wasm32 toolchain, trunk, the wasm-bindgen CLI, Chromium + chromedriver (WebGPU tests),
# Mesa's lavapipe (native wgpu without a GPU) and the browser-test npm packages.
# A second run on the same machine takes seconds: every step checks before it installs.
# With --without-cargo-tools it leaves out the tools cargo builds (trunk and the wasm-bindgen
# CLI: minutes on a new machine), so that scripts/test.sh can build them beside the native tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdir -p "$TOOLS_DIR/bin"
CARGO_TOOLS=yes
case "${1:-}" in
    "") ;;
    --without-cargo-tools) CARGO_TOOLS="" ;;
    *) die "unknown option: $1" "usage: scripts/setup.sh [--without-cargo-tools]" ;;
esac

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "installing system packages needs root: $*" "run this script as root or install sudo"
    fi
}

APT_UPDATED=""
apt_install() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "missing system packages: ${missing[*]}" \
        "this script installs them with apt-get (Debian/Ubuntu); install the equivalents by hand"
    step "Installing system packages: ${missing[*]}"
    if [ -z "$APT_UPDATED" ]; then
        as_root timeout 600 apt-get update -qq || die "apt-get update failed or timed out" \
            "check that this machine reaches its Debian mirror"
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive timeout 1200 apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed or timed out" \
            "check the Debian mirror, or install these packages by hand"
}

# cargo install NAME VERSION [ARGS...] into TOOLS_DIR, skipped when BIN --version already matches.
cargo_tool() {
    local bin="$1" crate="$2" version="$3"
    shift 3
    if "$TOOLS_DIR/bin/$bin" --version 2>/dev/null | grep -qF "$version"; then
        note "$bin $version: already installed"
        return 0
    fi
    step "Building $crate $version (cached in $TOOLS_DIR; several minutes, once)"
    # Its own temporary build folder, not the project's.
    timeout 3600 env -u CARGO_TARGET_DIR cargo install "$crate" --version "$version" --root "$TOOLS_DIR" "$@" \
        || die "cargo install $crate $version failed or timed out" \
            "check access to crates.io; the log above names the crate that failed"
}

# Debian's rustc-web has the wasm32 target, and std is rebuilt from its sources (build-std),
# linked by rust-lld (lld-22): the page's build where no rustup target can be downloaded, and
# always the compute worker's threaded build (wasm atomics need std rebuilt with them).
debian_wasm_toolchain() {
    apt_install rustc-web cargo-web rust-web-src rust-web-llvm lld-22
    mkdir -p "$TOOLS_DIR/debian-rust"
    ln -sf /usr/bin/cargo "$TOOLS_DIR/debian-rust/cargo"
    ln -sf /usr/bin/rustc "$TOOLS_DIR/debian-rust/rustc"
    # build-std compiles std's own dependencies (dlmalloc, compiler_builtins, ...) and Trunk builds
    # offline, so they must be in cargo's cache beforehand.
    local library
    library="$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust/library/Cargo.toml"
    [ -f "$library" ] || die "Debian's std sources are missing ($library)" "apt-get install rust-web-src"
    RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc timeout 600 /usr/bin/cargo fetch --quiet --manifest-path "$library" \
        || die "fetching the dependencies of std (for build-std) failed" "check access to crates.io"
}

debian_wasm_route() {
    debian_wasm_toolchain
    echo debian > "$TOOLS_DIR/wasm-route"
}

step "Checking the host toolchain"
command -v cargo >/dev/null || die "cargo is not installed" "install Rust with rustup: https://rustup.rs"
note "$(cargo --version)"
command -v node >/dev/null && command -v npm >/dev/null \
    || die "node and npm are needed for the browser tests" "install Node.js 20 or newer"

step "wasm32-unknown-unknown toolchain"
# MASKTUNE_WASM_ROUTE=debian takes the fallback route even where rustup works (to test it).
if [ "${MASKTUNE_WASM_ROUTE:-}" = debian ]; then
    note "MASKTUNE_WASM_ROUTE=debian: using Debian's rustc-web with build-std"
    debian_wasm_route
elif command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
    note "rustup target already installed"
    echo rustup > "$TOOLS_DIR/wasm-route"
elif command -v rustup >/dev/null && timeout 90 rustup target add wasm32-unknown-unknown; then
    echo rustup > "$TOOLS_DIR/wasm-route"
else
    note "rustup could not add the target; using Debian's rustc-web with build-std"
    debian_wasm_route
fi
step "Debian's rustc-web for the compute worker's threaded build (wasm atomics)"
if command -v apt-get >/dev/null; then
    debian_wasm_toolchain
else
    note "no apt-get here: the threaded build is skipped, and the page's CPU backend runs on one thread"
fi

step "Browser and GPU software for the tests"
apt_install chromium chromium-driver mesa-vulkan-drivers vulkan-tools
note "$(chromium --version 2>/dev/null | tail -n 1)"

if [ -n "$CARGO_TOOLS" ]; then
    # Without their default features they leave out TLS (and trunk its update check): they
    # download nothing here, and ring and rustls are minutes of a new machine's build.
    cargo_tool trunk trunk "$TRUNK_VERSION" --locked --no-default-features
    # --locked fails for this CLI (a locked dependency is no longer served), so it resolves afresh.
    cargo_tool wasm-bindgen wasm-bindgen-cli "$(wasm_bindgen_version)" --no-default-features
fi

step "The project's crates (Trunk builds offline)"
# Every build's crates, the threaded and WebGPU builds' included: a cargo build downloads only
# those of its own target and features, and the first build may be one of Trunk's.
timeout 600 cargo fetch --locked --quiet --manifest-path "$REPO_ROOT/Cargo.toml" \
    || die "fetching the project's crates failed" "check access to crates.io"

step "Browser-test packages (npm)"
if [ -d "$REPO_ROOT/e2e/node_modules/playwright-core" ]; then
    note "already installed"
else
    (cd "$REPO_ROOT/e2e" && timeout 600 npm ci --no-audit --no-fund) \
        || die "npm ci in e2e/ failed" "check access to the npm registry"
fi

step "Set-up complete"
