#!/usr/bin/env bash
# Installs everything posflow needs, idempotently, from the package registries
# only (see ../shared/TOOLCHAIN.md). Tools land in .tools/ (git-ignored); a copy
# of each built binary is kept in ~/.cache/posflow-tools so a fresh clone on the
# same machine does not spend minutes compiling them again.
# Usage: scripts/setup.sh [--no-browser]   (the demo does not need Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools="$root/.tools"
cache="${POSFLOW_TOOLS_CACHE:-$HOME/.cache/posflow-tools}"
mkdir -p "$tools/bin" "$cache"
export PATH="$tools/bin:$root/node_modules/.bin:$PATH"

want_browser=1
[ "${1:-}" = "--no-browser" ] && want_browser=0

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
die() { printf '\033[31msetup: FAILED: %s\033[0m\n' "$*" >&2; exit 1; }

# One setup at a time per user. Two at once (`make demo` and `make test` side
# by side on a fresh machine) raced in rustup's shared toolchains: the second
# rust-src install failed with "detected conflict"; and in the tool cache.
# The second waits here, then finds everything in place.
if command -v flock >/dev/null; then
  exec 9>"$cache/.setup.lock"
  if ! flock -n 9; then
    say "waiting for another setup to finish"
    flock 9
  fi
fi

# 1. The wasm target.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown || die "rustup could not add wasm32-unknown-unknown"
fi

# 1b. A nightly with rust-src, for the legacy (pure-MVP) build's -Zbuild-std.
# Pinned by date in scripts/legacy-toolchain (the one the build was last
# checked with), so that a fresh machine does not build with whatever nightly
# came out that morning; the dated toolchain comes from the same rustup
# server as any nightly (~15 s, minimal profile).
nightly=$(<scripts/legacy-toolchain)
if ! rustup component list --toolchain "$nightly" --installed 2>/dev/null | grep -q '^rust-src'; then
  say "adding $nightly with rust-src (legacy WebView build)"
  rustup toolchain install "$nightly" --profile minimal --component rust-src \
    || die "rustup could not install $nightly with rust-src"
fi

# 2. wasm-bindgen CLI at exactly the version pinned in Cargo.toml.
wb_version=$(sed -n 's/^wasm-bindgen = { *version = "=\([0-9.]*\)".*/\1/p; s/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' Cargo.toml | head -n1)
[ -n "$wb_version" ] || die "Cargo.toml does not pin wasm-bindgen with =x.y.z"

# install_cargo_tool CRATE VERSION BIN...: from the cache when it has this
# exact version, otherwise `cargo install` (no --locked: see TOOLCHAIN.md).
install_cargo_tool() {
  local crate=$1 version=$2; shift 2
  local stamp="$tools/.$crate-$version" cached="$cache/$crate-$version"
  [ -f "$stamp" ] && return 0
  if [ -d "$cached" ]; then
    say "$crate $version from $cached"
    cp "$cached"/* "$tools/bin/"
  else
    say "installing $crate $version with cargo install (a few minutes, once)"
    cargo install "$crate" --version "$version" --root "$tools" --quiet \
      || die "cargo install $crate --version $version failed"
    mkdir -p "$cached.tmp"
    for b in "$@"; do cp "$tools/bin/$b" "$cached.tmp/"; done
    rm -rf "$cached" && mv "$cached.tmp" "$cached"
  fi
  touch "$stamp"
}
install_cargo_tool wasm-bindgen-cli "$wb_version" wasm-bindgen wasm-bindgen-test-runner
[ "$(wasm-bindgen --version)" = "wasm-bindgen $wb_version" ] \
  || die "wasm-bindgen on PATH is $(wasm-bindgen --version), not $wb_version"
install_cargo_tool wasm-pack 0.15.1 wasm-pack
wasm-pack --version >/dev/null || die "wasm-pack does not run"

# 3. Chromium and its driver, from Debian's packages.
if [ "$want_browser" = 1 ] && ! { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && [ -d /usr/share/fonts/truetype/wqy ]; }; then
  say "installing chromium and chromium-driver from Debian's packages"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei >/dev/null \
    || die "apt-get could not install chromium chromium-driver"
fi

# 4. npm packages (playwright-core, binaryen's wasm-opt, esbuild, typescript).
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.posflow-lock ] || [ "$(cat node_modules/.posflow-lock)" != "$lock_sum" ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed"
  echo "$lock_sum" > node_modules/.posflow-lock
fi
# wasm-pack looks for wasm-opt on PATH: point it at binaryen's.
ln -sf "$root/node_modules/.bin/wasm-opt" "$tools/bin/wasm-opt"

say "ready: $(wasm-bindgen --version), wasm-pack $(wasm-pack --version | cut -d' ' -f2), wasm-opt $(wasm-opt --version | cut -d' ' -f3)$([ "$want_browser" = 1 ] && echo ", $(chromium --version 2>/dev/null)")"
