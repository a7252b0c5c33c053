#!/usr/bin/env bash
# Builds the npm package in pkg/ (see ../shared/TOOLCHAIN.md):
#   main    pkg/           wasm-pack --target web (ES module; Chrome/WebView 96+),
#                          package.json with exports, types, sideEffects: false
#   legacy  pkg/legacy/    for smart-POS WebViews 57–95: pure-MVP wasm (the nightly
#                          named in scripts/legacy-toolchain,
#                          -Ctarget-cpu=mvp, build-std), validated by wasm-opt
#                          with --mvp-features, no-modules glue lowered by
#                          esbuild to chrome57; the same API on `wasm_bindgen`
# Usage: scripts/build.sh [main] [legacy]     (both when none is named)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/.tools/bin:$root/node_modules/.bin:$PATH"

say() { printf '\033[1mbuild:\033[0m %s\n' "$*"; }
die() { printf '\033[31mbuild: FAILED: %s\033[0m\n' "$*" >&2; exit 1; }

build_main() {
  say "main: wasm-pack build --release --target web --out-dir pkg"
  # wasm-pack rewrites pkg/ but leaves other files: keep legacy/ only if
  # it is rebuilt below or was built from the same sources.
  wasm-pack build --release --target web --mode no-install --out-dir pkg
  write_package_json
}

build_legacy() {
  local out=pkg/legacy nightly
  nightly=$(<scripts/legacy-toolchain)
  say "legacy: $nightly, -Ctarget-cpu=mvp, build-std, --target no-modules --out-dir pkg/legacy"
  # Its own target dir: other RUSTFLAGS would rebuild the main one each time.
  CARGO_TARGET_DIR="$root/target/legacy" RUSTUP_TOOLCHAIN="$nightly" RUSTFLAGS="-Ctarget-cpu=mvp" \
    wasm-pack build --release --no-opt --target no-modules --mode no-install \
      --out-dir "$out" --out-name posflow . -Zbuild-std=std,panic_abort
  # -Oz with MVP features only (wasm-opt would otherwise re-add sign-ext),
  # and without the target_features section, so that the validation below
  # judges the code by MVP rules instead of the features the section names.
  wasm-opt -Oz --mvp-features --strip-target-features "$out/posflow_bg.wasm" -o "$out/posflow_bg.wasm"
  wasm-opt -q --mvp-features "$out/posflow_bg.wasm" -o /dev/null \
    || die "$out/posflow_bg.wasm uses a post-MVP feature (see the validator's message above)"
  say "legacy: $out/posflow_bg.wasm validates with MVP features only"
  esbuild "$out/posflow.js" --target=chrome57 --log-level=warning --allow-overwrite --outfile="$out/posflow.js"
  # The legacy build ships inside the main package, not as its own.
  rm -f "$out/package.json" "$out/README.md" "$out/.gitignore"
  [ -f pkg/package.json ] && write_package_json
}

# wasm-pack writes no `exports` and a sideEffects list; rewrite both.
write_package_json() {
  node --input-type=module -e '
    import { readFileSync, writeFileSync, existsSync } from "node:fs";
    const file = "pkg/package.json";
    const p = JSON.parse(readFileSync(file, "utf8"));
    const legacy = existsSync("pkg/legacy/posflow.js");
    p.types = "./posflow.d.ts";
    p.module = "./posflow.js";
    p.sideEffects = false;
    p.exports = {
      ".": { types: "./posflow.d.ts", default: "./posflow.js" },
      "./posflow_bg.wasm": "./posflow_bg.wasm",
      ...(legacy ? {
        "./legacy": "./legacy/posflow.js",
        "./legacy/posflow_bg.wasm": "./legacy/posflow_bg.wasm",
      } : {}),
      "./package.json": "./package.json",
    };
    p.files = ["posflow_bg.wasm", "posflow.js", "posflow.d.ts", "posflow_bg.wasm.d.ts",
      ...(legacy ? ["legacy/posflow_bg.wasm", "legacy/posflow.js", "legacy/posflow.d.ts"] : [])];
    writeFileSync(file, JSON.stringify(p, null, 2) + "\n");
  '
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(main legacy)
for t in "${targets[@]}"; do
  case $t in
    main) build_main ;;
    legacy) build_legacy ;;
    *) die "unknown target '$t' (main, legacy)" ;;
  esac
done
