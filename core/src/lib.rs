//! posflow-core: the card-present transaction and refund logic of a
//! point-of-sale terminal, as a deterministic, sans-IO engine.
//!
//! It performs no I/O and reads no clock: commands and host replies go in
//! with the current time; requests to send and journal entries to persist
//! come out. The wasm binding (`posflow`) and the native tests drive the same
//! [`terminal::Terminal`].
//!
//! ```
//! use posflow_core::prelude::*;
//!
//! let mut host = SimulatedAcquirer::new(7);
//! let mut term = Terminal::open(demo_config(), Vec::new(), Timestamp(0)).unwrap();
//! term.sign_in("01", "1234", Timestamp(0)).unwrap();
//! let mut driver = Driver::new(&mut term, &mut host);
//! let card = Card::from_pan("6222020200112233445").unwrap();
//! let amount = Money::parse("100.00", Currency::Cny).unwrap();
//! let id = driver.run(Command::Sale { amount, card }, "k1", Timestamp(1)).unwrap();
//! let view = term.view(id, Timestamp(2)).unwrap();
//! assert_eq!(view.status, Status::Approved);
//! assert_eq!(view.txn.request.card.masked_pan, "622202*********3445");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod acquirer;
pub mod card;
pub mod digits;
pub mod driver;
pub mod error;
pub mod host;
pub mod journal;
pub mod json;
pub mod money;
pub mod operator;
pub mod planner;
pub mod policy;
pub mod receipt;
pub mod reconcile;
pub mod record;
pub mod sim;
pub mod sorted;
mod tagged;
pub mod terminal;
pub mod time;
pub mod totals;
pub mod tracking;

pub use error::PosError;

/// Runs a stepwise reader or matcher (`step(budget)` gives `None` until it
/// is done) to its end in one go: what the one-shot APIs are.
pub(crate) fn in_one_go<T>(
    mut step: impl FnMut(usize) -> Result<Option<T>, PosError>,
) -> Result<T, PosError> {
    loop {
        if let Some(done) = step(usize::MAX)? {
            return Ok(done);
        }
    }
}

/// The names most callers need.
pub mod prelude {
    pub use crate::acquirer::SimulatedAcquirer;
    pub use crate::card::Card;
    pub use crate::driver::{demo_config, Driver, Host};
    pub use crate::error::{Locale, PosError};
    pub use crate::host::{BatchNo, HostReply, HostRequest, NoReply, TraceNo};
    pub use crate::money::{Currency, Money};
    pub use crate::operator::{ApprovalInput, Operator, Role};
    pub use crate::planner::{
        Action, Destination, Reason, RefundOriginal, RefundPlan, Route, Voucher,
    };
    pub use crate::policy::Policy;
    pub use crate::record::{Kind, Record, TxnId};
    pub use crate::terminal::{Command, OriginalSelector, Status, Terminal, TerminalConfig};
    pub use crate::time::{Date, Timestamp};
    pub use crate::tracking::{Filter, NextStep, RefundStatus};
}
