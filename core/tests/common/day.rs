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
        let now = self.tick();
        let key = self.key();
        let amount = Some(self.money(amount));
        Driver::new(&mut self.term, &mut self.host)
            .refund(
                &RefundOriginal::Journal(OriginalSelector::Id(original)),
                amount,
                reason,
                vec![approval("90", "246810")],
                None,
                &key,
                now,
            )
            .expect("refund")
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

/// A terminal whose journal holds `n` approved sales of one business day
/// (every half second from [`OPENING`], one batch), and the acquirer's
/// postings for them, with every `returned_every`-th posting returned.
///
/// Built as journal records and replayed with `Terminal::open` rather than
/// driven command by command: `Terminal::execute` scans every transaction
/// (free trace numbers, the host channel), which makes a 100,000-sale day
/// quadratic to drive, while replay is linear.
pub fn synthetic_day(
    n: u32,
    returned_every: u32,
) -> (Terminal, Vec<posflow_core::acquirer::Posting>) {
    use posflow_core::acquirer::Posting;
    use posflow_core::host::{MessageType, TraceNo};
    use posflow_core::journal::Journal;
    use posflow_core::record::{Purpose, Record, Request};

    assert!(n < 999_999, "one batch holds at most 999,999 trace numbers");
    let config = fast_config(Currency::Cny);
    let mut journal = Journal::<Record>::new();
    journal.append(Record::Opened {
        merchant_id: config.merchant_id.clone(),
        terminal_id: config.terminal_id.clone(),
        currency: config.currency,
        at: OPENING,
    });
    journal.append(Record::SignedIn {
        operator_id: "01".into(),
        at: OPENING,
    });
    let card = Card::from_pan(PAN).expect("pan");
    let mut postings = Vec::with_capacity(n as usize);
    for i in 0..n {
        let at = Timestamp(OPENING.0 + i64::from(i) * 500);
        let trace_no = TraceNo::new(i + 1).expect("trace");
        let cents = 100 + i64::from(i % 99_900);
        let amount = Money::parse(
            &format!("{}.{:02}", cents / 100, cents % 100),
            Currency::Cny,
        )
        .expect("amount");
        let rrn = format!("{:012}", i + 1);
        let auth_code = format!("{:06}", (i * 7_919) % 1_000_000);
        let requested_seq = journal
            .append(Record::Requested(Box::new(Request {
                kind: Kind::Sale,
                key: format!("s{i}"),
                fingerprint: format!("sale|{amount}"),
                amount,
                card: card.clone(),
                trace_no,
                batch_no: BatchNo::FIRST,
                original: None,
                operator_id: "01".into(),
                approvals: Vec::new(),
                reason: None,
                fallback: None,
                voucher: None,
                at,
            })))
            .seq;
        journal.append(Record::Answered {
            purpose: Purpose::Request {
                txn: TxnId(requested_seq),
            },
            code: "00".into(),
            rrn: Some(rrn.clone()),
            auth_code: Some(auth_code.clone()),
            balanced: None,
            at,
        });
        postings.push(Posting {
            terminal_id: config.terminal_id.clone(),
            batch_no: BatchNo::FIRST,
            trace_no,
            message: MessageType::Sale,
            amount: Some(amount),
            card: Some(card.clone()),
            original: None,
            code: "00".into(),
            rrn: Some(rrn),
            auth_code: Some(auth_code),
            reversed: false,
            returned: returned_every > 0 && i % returned_every == returned_every - 1,
            return_reason: None,
            returns_at: None,
            at,
        });
    }
    let term = Terminal::open(config, journal.entries().to_vec(), OPENING).expect("replay");
    (term, postings)
}
