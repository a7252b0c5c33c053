#!/usr/bin/env bash
# The whole posflow suite, in the order CI runs it. Run scripts/setup.sh first
# (`make test` does). Nothing here is optional: a missing tool is a failure,
# never a skipped step.
#
# Usage: scripts/test.sh            every step
#        scripts/test.sh STEP...    only these steps, in the order given
# Steps: fmt clippy doc core-deps unit wasm-core wasm-test pkg types legacy e2e size
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/.tools/bin:$root/node_modules/.bin:$PATH"

all_steps=(fmt clippy doc core-deps unit wasm-core wasm-test pkg types legacy e2e size)

fail() { printf '\ntest.sh: FAILED: %s\n' "$*" >&2; exit 1; }

step_no=0
header() {
  step_no=$((step_no + 1))
  printf '\n==> [%d/%d] %s\n' "$step_no" "$step_count" "$*"
}

run_step() {
  case $1 in
    fmt)
      header "rustfmt: cargo fmt --all -- --check"
      cargo fmt --all -- --check
      ;;
    clippy)
      header "clippy: cargo clippy --workspace --all-targets -- -D warnings (native, and the binding for wasm32)"
      cargo clippy --workspace --all-targets -- -D warnings
      cargo clippy --target wasm32-unknown-unknown -p posflow --all-targets -- -D warnings
      ;;
    doc)
      header "rustdoc: RUSTDOCFLAGS=\"-D warnings\" cargo doc --workspace --no-deps"
      RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
      ;;
    core-deps)
      # The core must stay free of wasm and browser crates (DESIGN.md,
      # Architecture). --target all also shows target-specific dependencies,
      # which a plain `cargo tree` hides on the host.
      header "core dependencies: no wasm-bindgen, js-sys, web-sys or gloo in posflow-core"
      local tree banned
      tree=$(cargo tree -p posflow-core -e normal,build --target all --prefix none --format '{p}')
      banned=$(cut -d' ' -f1 <<<"$tree" | sort -u | grep -E '^(wasm-bindgen.*|js-sys|web-sys|gloo.*)$' || true)
      if [ -n "$banned" ]; then
        echo "posflow-core depends on:" $banned >&2
        cargo tree -p posflow-core -e normal,build --target all -i "$(head -n1 <<<"$banned")" >&2 || true
        fail "posflow-core must not depend on $(tr '\n' ' ' <<<"$banned")(see DESIGN.md, Architecture)"
      fi
      echo "ok: posflow-core has $(wc -l <<<"$tree") normal/build dependency nodes, none of them wasm-bindgen, js-sys, web-sys or gloo"
      ;;
    unit)
      # Release semantics at opt-level 3 (the `native` profile): the
      # proptest model and the fault simulator are slow in debug, and half
      # as fast at the wasm's opt-level "z".
      header "native tests: cargo test --workspace --profile native"
      cargo test --workspace --profile native
      ;;
    wasm-core)
      header "core for wasm32: cargo build -p posflow-core --target wasm32-unknown-unknown --release"
      cargo build -p posflow-core --target wasm32-unknown-unknown --release
      ;;
    wasm-test)
      # wasm-bindgen-test-runner reads the browser capabilities from
      # ./webdriver.json (relative to its working directory) unless
      # WASM_BINDGEN_TEST_WEBDRIVER_JSON names a file; name ours explicitly.
      header "browser tests: wasm-pack test --headless --chrome (Chromium, tests/*.rs)"
      [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] \
        || fail "/usr/bin/chromium and /usr/bin/chromedriver are needed: run scripts/setup.sh"
      CHROMEDRIVER=/usr/bin/chromedriver \
        WASM_BINDGEN_TEST_TIMEOUT=120 \
        WASM_BINDGEN_TEST_WEBDRIVER_JSON="$root/webdriver.json" \
        wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver --mode no-install
      ;;
    pkg)
      header "release package: scripts/build.sh (pkg/ for --target web, pkg/legacy/ for WebView 57–95)"
      scripts/build.sh
      ;;
    types)
      header "TypeScript: tsc --noEmit of tests/types/usage.ts against pkg/posflow.d.ts"
      [ -f pkg/posflow.d.ts ] || fail "pkg/ is not built: run the pkg step (or make build) first"
      tsc --noEmit -p tests/types/tsconfig.json
      echo "ok: tests/types/usage.ts type-checks against pkg/posflow.d.ts"
      ;;
    legacy)
      header "legacy WebView build and the README example in Chromium: node --test tests/legacy/*.test.mjs"
      [ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is needed: run scripts/setup.sh"
      [ -f pkg/legacy/posflow.js ] || fail "pkg/legacy/ is not built: run the pkg step (or make build) first"
      node --test tests/legacy/*.test.mjs
      ;;
    e2e)
      header "POS screen end-to-end: node --test tests/e2e/*.test.mjs (Playwright, Chromium)"
      [ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is needed: run scripts/setup.sh"
      [ -f pkg/posflow.js ] || fail "pkg/ is not built: run the pkg step (or make build) first"
      # The files, not the directory: Node 21+ no longer searches a directory
      # argument to --test.
      node --test tests/e2e/*.test.mjs
      ;;
    size)
      header "release size (gzip -9): main and legacy, wasm + JS glue"
      local build dir f total
      for build in main legacy; do
        dir=pkg; [ "$build" = legacy ] && dir=pkg/legacy
        total=0
        for f in "$dir/posflow_bg.wasm" "$dir/posflow.js"; do
          [ -f "$f" ] || fail "$f is missing: run the pkg step (or make build) first"
          local gz; gz=$(gzip -9 -c "$f" | wc -c)
          total=$((total + gz))
          printf '%-7s %-24s %8d bytes raw, %7d bytes gzipped\n' "$build" "$f" "$(wc -c <"$f")" "$gz"
        done
        printf '%-7s %-24s %34d bytes gzipped\n' "$build" "wasm + glue" "$total"
      done
      ;;
    *)
      fail "unknown step '$1' (steps: ${all_steps[*]})"
      ;;
  esac
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=("${all_steps[@]}")
for s in "${steps[@]}"; do
  case " ${all_steps[*]} " in *" $s "*) ;; *) fail "unknown step '$s' (steps: ${all_steps[*]})" ;; esac
done
step_count=${#steps[@]}

started=$SECONDS
for s in "${steps[@]}"; do
  run_step "$s"
done
printf '\ntest.sh: passed: %s (%ds)\n' "${steps[*]}" $((SECONDS - started))
