//! A business day at one terminal, for the settlement, reconciliation and
//! receipt tests: a clock that moves a minute per step, the demo terminal
//! (one PBKDF2 round, see `fast_config`) and a recording simulated acquirer.
//!
//! Every refund of these tests is built by [`Day::refund`], the one place to
//! change when `Command::Refund` starts taking a `RefundPlan`.
#![allow(dead_code)]

use posflow_core::acquirer::Fault;
use posflow_core::prelude::*;
use posflow_core::time::DAY_MS;

use crate::common::{fast_config, Recorder};

/// 2026-11-23 10:00 in Beijing (02:00 UTC), a Monday morning.
pub const OPENING: Timestamp = Timestamp(1_795_365_000_000 + 9 * 3_600_000 + 1_800_000);

/// A domestic UnionPay card.
pub const PAN: &str = "6222020200112233445";
/// A foreign (Visa) card.
pub const FOREIGN_PAN: &str = "4111111111111111";

/// One terminal's day.
pub struct Day {
    /// The terminal.
    pub term: Terminal,
    /// The acquirer, recording the wire.
    pub host: Recorder,
    /// The current time; each step moves it one minute on.
    pub now: Timestamp,
    keys: u32,
}

impl Day {
    /// The demo terminal opened and signed in at [`OPENING`], in CNY.
    pub fn new(seed: u64) -> Day {
        Day::with_config(seed, fast_config(Currency::Cny))
    }

    /// The same with another configuration.
    pub fn with_config(seed: u64, config: TerminalConfig) -> Day {
        let mut term = Terminal::open(config, Vec::new(), OPENING).expect("open");
        term.sign_in("01", "1234", OPENING).expect("sign in");
        Day {
            term,
            host: Recorder::new(seed),
            now: OPENING,
            keys: 0,
        }
    }

    fn tick(&mut self) -> Timestamp {
        self.now = self.now.plus_minutes(1);
        self.now
    }

    fn key(&mut self) -> String {
        self.keys += 1;
        format!("day-{}", self.keys)
    }

    /// Moves the clock to the same time `days` later.
    pub fn next_day(&mut self, days: u32) {
        self.now = Timestamp(self.now.0 + i64::from(days) * DAY_MS);
    }

    /// Queues a fault for the next request the host sees.
    pub fn fault(&mut self, fault: Fault) {
        self.host.inject(fault);
    }

    /// Runs a command and returns its transaction (whatever its outcome).
    pub fn run(&mut self, command: Command) -> Result<TxnId, PosError> {
        let now = self.tick();
        let key = self.key();
        Driver::new(&mut self.term, &mut self.host).run(command, &key, now)
    }

    fn money(&self, amount: &str) -> Money {
        Money::parse(amount, self.term.config().currency).expect("amount")
    }

    /// 消费 with `pan`.
    pub fn sale_with(&mut self, amount: &str, pan: &str) -> TxnId {
        let command = Command::Sale {
            amount: self.money(amount),
            card: Card::from_pan(pan).expect("pan"),
        };
        self.run(command).expect("sale")
    }

    /// 消费 with the domestic card.
    pub fn sale(&mut self, amount: &str) -> TxnId {
        self.sale_with(amount, PAN)
    }

    /// 撤销 of a sale or completion, approved by supervisor 90.
    pub fn void(&mut self, original: TxnId) -> TxnId {
        let command = Command::Void {
            original: OriginalSelector::Id(original),
            approvals: vec![approval("90", "246810")],
        };
        self.run(command).expect("void")
    }

    /// 退货, approved by supervisor 90. The one place refunds are built.
    pub fn refund(&mut self, original: TxnId, amount: &str, reason: &str) -> TxnId {
        let command = Command::Refund {
            original: OriginalSelector::Id(original),
            amount: self.money(amount),
            reason: reason.to_owned(),
            approvals: vec![approval("90", "246810")],
        };
        self.run(command).expect("refund")
    }

    /// 预授权 with the domestic card.
    pub fn pre_auth(&mut self, amount: &str) -> TxnId {
        let command = Command::PreAuth {
            amount: self.money(amount),
            card: Card::from_pan(PAN).expect("pan"),
        };
        self.run(command).expect("pre-auth")
    }

    /// 预授权完成, online or as an offline advice.
    pub fn complete(&mut self, pre_auth: TxnId, amount: &str, advice: bool) -> TxnId {
        let command = Command::Complete {
            original: OriginalSelector::Id(pre_auth),
            amount: self.money(amount),
            advice,
        };
        self.run(command).expect("completion")
    }

    /// 预授权撤销.
    pub fn cancel(&mut self, pre_auth: TxnId) -> TxnId {
        let command = Command::CancelPreAuth {
            original: OriginalSelector::Id(pre_auth),
        };
        self.run(command).expect("cancel")
    }

    /// Sends pending reversals and advices.
    pub fn flush(&mut self) {
        let now = self.tick();
        Driver::new(&mut self.term, &mut self.host).flush(now);
    }

    /// 结算 of the open batch (after flushing).
    pub fn settle(&mut self) -> Result<(), PosError> {
        let now = self.tick();
        Driver::new(&mut self.term, &mut self.host).settle(now)
    }

    /// The status of `id` now.
    pub fn status(&self, id: TxnId) -> Status {
        self.term.view(id, self.now).expect("known txn").status
    }
}

/// An approval input.
pub fn approval(operator_id: &str, pin: &str) -> ApprovalInput {
    ApprovalInput {
        operator_id: operator_id.to_owned(),
        pin: pin.to_owned(),
    }
}
