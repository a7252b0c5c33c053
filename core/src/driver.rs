//! A synchronous driver: the caller's side of the sans-IO contract, for
//! native tests, the simulator and examples. The wasm binding does the same
//! steps with promises.
//!
//! Every step persists the terminal's new entries *before* the request goes
//! to the host, flushes pending reversals and advices before new work, and
//! hands back every reply (duplicates and late ones included).

use crate::error::{Locale, PosError};
use crate::host::{HostReply, HostRequest, NoReply};
use crate::journal::Entry;
use crate::money::{Currency, Money};
use crate::operator::{ApprovalInput, Operator, Role};
use crate::planner::{Action, Destination, RangeStep, Reason, RefundOriginal};
use crate::policy::Policy;
use crate::record::{Record, TxnId};
use crate::terminal::{Command, OriginalSelector, Terminal, TerminalConfig};
use crate::time::Timestamp;

/// What a time-range refund did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSummary {
    /// Original, the transaction that gave the money back, and how.
    pub refunded: Vec<(TxnId, TxnId, Action)>,
    /// Originals not refunded, with the planner's decision and reasons.
    pub skipped: Vec<(TxnId, Action, Vec<Reason>)>,
    /// Originals whose refund was refused when run, with the error.
    pub failed: Vec<(TxnId, PosError)>,
}

/// A host the driver can talk to synchronously.
pub trait Host {
    /// Sends one request. `Ok` holds every reply that came back (more than
    /// one when the network duplicated it); `Err` says why none came.
    fn send(&mut self, request: &HostRequest, now: Timestamp) -> Result<Vec<HostReply>, NoReply>;

    /// Replies that arrived late, after their request was given up on.
    fn take_late(&mut self, _now: Timestamp) -> Vec<HostReply> {
        Vec::new()
    }
}

/// Drives a [`Terminal`] against a [`Host`], persisting into `stored`.
pub struct Driver<'a> {
    term: &'a mut Terminal,
    host: &'a mut dyn Host,
    /// What has been made durable, in order: what a restart reopens from
    /// (the entries from the journal's base on: all of them unless the
    /// terminal was opened from a snapshot).
    pub stored: Vec<Entry<Record>>,
}

impl<'a> Driver<'a> {
    /// A driver whose storage already holds the terminal's journal.
    pub fn new(term: &'a mut Terminal, host: &'a mut dyn Host) -> Driver<'a> {
        // Whatever the terminal appended so far counts as persisted now.
        term.take_unpersisted_seqs();
        let stored = term.journal().entries().to_vec();
        Driver { term, host, stored }
    }

    /// The terminal.
    pub fn terminal(&mut self) -> &mut Terminal {
        self.term
    }

    fn persist(&mut self) {
        let entries = self.term.take_unpersisted();
        self.stored.extend(entries);
    }

    /// Sends one request and hands back what came (see
    /// [`Terminal::handle_exchange`]).
    fn exchange(&mut self, request: &HostRequest, now: Timestamp) {
        self.persist();
        // Invariant 4: the request leaves only once its record is durable.
        assert_eq!(
            self.stored.len(),
            self.term.journal().entries().len(),
            "persist before send"
        );
        let outcome = self.host.send(request, now);
        self.term.handle_exchange(outcome, now);
        self.persist();
    }

    /// Delivers late replies, then sends what `poll_transmit` gives for one
    /// flush round: each reversal up to the policy's attempts (then manual
    /// review), each advice and batch-upload step once.
    pub fn flush(&mut self, now: Timestamp) {
        for reply in self.host.take_late(now) {
            let _ = self.term.handle_reply(&reply, now);
        }
        self.persist();
        // Reversals are bounded by the policy's attempts; advices and upload
        // steps are not, so the core bounds the round (`begin_flush`): a
        // host that stays down ends it instead of being asked for ever.
        self.term.begin_flush();
        while let Some(request) = self.term.poll_transmit(now) {
            self.exchange(&request, now);
        }
    }

    /// Runs a command: flush first, then [`Driver::submit`].
    pub fn run(&mut self, command: Command, key: &str, now: Timestamp) -> Result<TxnId, PosError> {
        self.flush(now);
        self.submit(command, key, now)
    }

    /// Runs a command without flushing first: the command, then its
    /// exchange. A flush round retries what failed in the last one, and may
    /// deliver a late reply that arrived during it, so a caller that judges
    /// the terminal between a flush and a command uses this.
    pub fn submit(
        &mut self,
        command: Command,
        key: &str,
        now: Timestamp,
    ) -> Result<TxnId, PosError> {
        let result = self.term.execute(command, key, now);
        self.persist();
        let submitted = result?;
        if let Some(request) = submitted.request {
            self.exchange(&request, now);
        }
        Ok(submitted.txn)
    }

    /// Plans a refund on what the terminal knows after flushing, and runs
    /// the plan (see [`Terminal::plan_refund`]).
    #[allow(clippy::too_many_arguments)]
    pub fn refund(
        &mut self,
        original: &RefundOriginal,
        amount: Option<Money>,
        reason: &str,
        approvals: Vec<ApprovalInput>,
        destination: Option<Destination>,
        key: &str,
        now: Timestamp,
    ) -> Result<TxnId, PosError> {
        self.flush(now);
        let command =
            self.term
                .refund_command(original, amount, reason, approvals, destination, now)?;
        self.run(command, key, now)
    }

    /// Refunds everything made in `[from, to)` (Rule 2's refund by time
    /// range): plans each original, runs the ones the planner allows one by
    /// one with `approvals`, under keys `{key_prefix}:{original}` (so a
    /// repeated run refunds nothing twice), and says what was refunded,
    /// skipped and why. Fallbacks are skipped: they need each customer's
    /// destination details.
    pub fn refund_range(
        &mut self,
        from: Timestamp,
        to: Timestamp,
        reason: &str,
        approvals: &[ApprovalInput],
        key_prefix: &str,
        now: Timestamp,
    ) -> RangeSummary {
        self.flush(now);
        let mut summary = RangeSummary::default();
        let steps = self
            .term
            .range_steps(from, to, reason, approvals, key_prefix, now);
        for step in steps {
            match step {
                RangeStep::Done {
                    original,
                    txn,
                    action,
                } => summary.refunded.push((original, txn, action)),
                RangeStep::Skip { original, plan } => {
                    summary
                        .skipped
                        .push((original, plan.action(), plan.reasons().to_vec()))
                }
                RangeStep::Run {
                    original,
                    action,
                    command,
                    key,
                } => match self.run(command, &key, now) {
                    Ok(id) => summary.refunded.push((original, id, action)),
                    Err(e) => summary.failed.push((original, e)),
                },
            }
        }
        summary
    }

    /// Queries the host about an in-doubt transaction.
    pub fn query(&mut self, original: &OriginalSelector, now: Timestamp) -> Result<(), PosError> {
        let result = self.term.query(original, now);
        self.persist();
        let request = result?;
        self.exchange(&request, now);
        Ok(())
    }

    /// Settles the open batch (after flushing); an unbalanced answer is
    /// followed by the batch upload.
    pub fn settle(&mut self, now: Timestamp) -> Result<(), PosError> {
        self.flush(now);
        let result = self.term.settle(now);
        self.persist();
        let request = result?;
        self.exchange(&request, now);
        // Unbalanced: the batch upload goes out at once (and resumes with
        // the next flush if it is interrupted).
        self.flush(now);
        Ok(())
    }
}

/// The demo terminal of DESIGN.md's JavaScript example: merchant
/// 898440350480001, terminal 10000001, CNY, cashier 01 (PIN 1234) and
/// supervisors 90 (246810) and 91 (135790). The salts are fixed, which is
/// fine for a demo and tests and wrong anywhere else.
pub fn demo_config() -> TerminalConfig {
    demo_config_with(Policy::default())
}

/// [`demo_config`] under another policy: tests, benches and the simulator
/// take one PBKDF2 round per PIN (`pin_hash_iterations: 1`), so thousands of
/// sign-ins cost nothing. Never for a real terminal.
pub fn demo_config_with(policy: Policy) -> TerminalConfig {
    let op = |id: &str, role, pin: &str, salt: u8| {
        Operator::new(id, role, pin, [salt; 16], policy.pin_hash_iterations)
            .expect("valid demo operator")
    };
    TerminalConfig {
        merchant_id: "898440350480001".into(),
        terminal_id: "10000001".into(),
        currency: Currency::Cny,
        operators: vec![
            op("01", Role::Cashier, "1234", 1),
            op("90", Role::Supervisor, "246810", 2),
            op("91", Role::Supervisor, "135790", 3),
        ],
        policy,
        locale: Locale::ZhCn,
    }
}
