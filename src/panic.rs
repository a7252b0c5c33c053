//! A panic is a bug; after one the terminal refuses further work.
//!
//! Release builds use `panic = "abort"` and wasm32 cannot unwind, so
//! `catch_unwind` catches nothing: the panic hook runs, then the module
//! traps and the JS caller sees a `RuntimeError`. The memory the trap left
//! behind (a `RefCell` still borrowed, a half-made change) must not be
//! trusted, so the hook marks the whole module poisoned and every later
//! call answers `INTERNAL` — halting the core terminal too, where it can
//! still be reached — instead of running on a broken state.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use posflow_core::error::PosError;

static POISONED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static WHY: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Installs the hook once, keeping whatever hook was there before (a test
/// harness's, a console hook) so its output still appears.
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            POISONED.store(true, Ordering::SeqCst);
            let what: String = format!("panic: {info}").chars().take(300).collect();
            WHY.with(|w| {
                if let Ok(mut w) = w.try_borrow_mut() {
                    *w = what;
                }
            });
            previous(info);
        }));
    });
}

/// `Err(INTERNAL)` once a panic has happened in this module.
pub(crate) fn check() -> Result<(), PosError> {
    if !POISONED.load(Ordering::SeqCst) {
        return Ok(());
    }
    let what = WHY.with(|w| w.try_borrow().map(|w| w.clone()).unwrap_or_default());
    Err(PosError::Internal { what })
}

/// Panics on purpose, to test the above from JS. Only in builds with the
/// `test-hooks` feature (the browser tests); never in a package.
#[cfg(feature = "test-hooks")]
#[wasm_bindgen::prelude::wasm_bindgen(js_name = __posflowPanicForTest)]
pub fn panic_for_test() {
    panic!("posflow test panic");
}
