//! posflow for JavaScript: the wasm-bindgen binding over `posflow-core`.
//!
//! Each exported method parses its input, calls the core and converts the
//! result; no business rule lives here. Amounts and ids are strings both
//! ways; errors are thrown as `Error` objects named `PosError` with a stable
//! `code`, a message in the terminal's locale and `details`.
//!
//! ```js
//! import init, { Terminal, SimulatedAcquirer } from "posflow";
//! await init();
//! const host = new SimulatedAcquirer({ seed: 7 });
//! const term = await Terminal.open({ merchantId: "898440350480001", terminalId: "10000001",
//!   currency: "CNY", storage: { kind: "memory" }, host,
//!   operators: [{ id: "01", role: "cashier", pin: "1234" }] });
//! await term.signIn({ operatorId: "01", pin: "1234" });
//! const sale = await term.sale({ amount: "100.00", card: { pan: "6222020200112233445" }, key: "k1" });
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod acquirer;
mod convert;
mod error;
mod history;
mod input;
mod locks;
mod panic;
mod policy;
mod queue;
mod refunds;
mod restore;
mod settlement;
mod slices;
mod storage;
mod terminal;
mod types;

pub use acquirer::SimulatedAcquirer;
pub use terminal::Terminal;

#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub use panic::panic_for_test;

#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub use history::{snapshot_counts_for_test, snapshot_pace_for_test};
