//! One test per fault kind (issue 5), each showing the designed handling
//! end to end: terminal, driver and simulated acquirer, with the wire as the
//! host saw it and the acquirer's ledger as the proof.

mod common;

use common::{Recorder, Wire};
use posflow_core::acquirer::Fault;
use posflow_core::host::MessageType::{self, *};
use posflow_core::journal::Entry;
use posflow_core::prelude::*;
use posflow_core::record::{Purpose, Resolution};
use posflow_core::sim::fast_config;
use posflow_core::terminal::ReplyEffect;

const T0: Timestamp = Timestamp(1_795_365_000_000);
const PAN: &str = "6222021234567890123";
const TID: &str = "10000001";

fn cny(text: &str) -> Money {
    Money::parse(text, Currency::Cny).unwrap()
}

fn supervisor() -> Vec<ApprovalInput> {
    vec![ApprovalInput {
        operator_id: "90".into(),
        pin: "246810".into(),
    }]
}

fn sale(amount: &str) -> Command {
    Command::Sale {
        amount: cny(amount),
        card: Card::from_pan(PAN).unwrap(),
    }
}

/// A terminal, the recording acquirer, what is durable, and a clock.
struct Bench {
    term: Terminal,
    host: Recorder,
    stored: Vec<Entry<Record>>,
    now: Timestamp,
}

impl Bench {
    fn new() -> Bench {
        let mut term = Terminal::open(fast_config(), Vec::new(), T0).unwrap();
        term.sign_in("01", "1234", T0).unwrap();
        let stored = term.take_unpersisted();
        Bench {
            term,
            host: Recorder::new(3),
            stored,
            now: T0,
        }
    }

    fn tick(&mut self, ms: i64) -> Timestamp {
        self.now = Timestamp(self.now.0 + ms);
        self.now
    }

    /// Runs a command through a Driver over the durable entries.
    fn run(&mut self, command: Command, key: &str) -> TxnId {
        let now = self.tick(10_000);
        let mut d = Driver::new(&mut self.term, &mut self.host);
        d.stored = std::mem::take(&mut self.stored);
        let id = d.run(command, key, now).unwrap();
        self.stored = std::mem::take(&mut d.stored);
        id
    }

    fn flush(&mut self, after_ms: i64) {
        let now = self.tick(after_ms);
        let mut d = Driver::new(&mut self.term, &mut self.host);
        d.stored = std::mem::take(&mut self.stored);
        d.flush(now);
        self.stored = std::mem::take(&mut d.stored);
    }

    fn status(&self, id: TxnId) -> Status {
        self.term.view(id, self.now).unwrap().status
    }

    fn refundable(&self, id: TxnId) -> Money {
        self.term.view(id, self.now).unwrap().refundable
    }

    /// The acquirer's posting for a transaction: whether it stands.
    fn host_holds(&self, id: TxnId) -> Option<bool> {
        let r = &self.term.transaction(id).unwrap().request;
        self.host
            .inner
            .posting(TID, r.batch_no, r.trace_no)
            .map(|p| p.stands())
    }

    /// Restarts from what is durable and signs the cashier in again.
    fn restart(&mut self) {
        self.term = Terminal::open(fast_config(), self.stored.clone(), self.now).unwrap();
        self.term.sign_in("01", "1234", self.now).unwrap();
        self.stored.extend(self.term.take_unpersisted());
    }

    fn records(&self, name: &str) -> usize {
        self.term
            .journal()
            .entries()
            .iter()
            .filter(|e| e.record.type_name() == name)
            .count()
    }

    fn invariants(&self) {
        self.term.check_invariants(self.now).unwrap();
        assert_eq!(self.stored, self.term.journal().entries(), "all durable");
        assert!(self.host.inner.anomalies().is_empty());
    }
}

#[test]
fn timeout_on_a_refund_leaves_it_in_doubt_and_its_reversal_goes_before_the_next_sale() {
    let mut b = Bench::new();
    let original = b.run(sale("100.00"), "k1");
    b.host.inject(Fault::Timeout);
    let command = b
        .term
        .refund_command(
            &RefundOriginal::Journal(OriginalSelector::Id(original)),
            Some(cny("30.00")),
            "customer return",
            supervisor(),
            None,
            b.now,
        )
        .unwrap();
    let refund = b.run(command, "r1");
    // In doubt, never declined; its amount still holds headroom (Rule 2).
    assert_eq!(b.status(refund), Status::InDoubt);
    assert_eq!(b.refundable(original), cny("70.00"));
    assert_eq!(b.host_holds(refund), Some(true), "the host did refund it");
    b.invariants();

    let next = b.run(sale("50.00"), "k2");
    assert_eq!(b.host.messages(), [Sale, Refund, Reversal, Sale]);
    assert_eq!(b.status(refund), Status::Reversed);
    assert_eq!(b.host_holds(refund), Some(false), "reversed at the host");
    assert_eq!(b.status(next), Status::Approved);
    assert_eq!(b.refundable(original), cny("100.00"));
    b.invariants();
}

#[test]
fn lost_reply_on_a_void_is_resolved_by_a_query() {
    let mut b = Bench::new();
    let original = b.run(sale("100.00"), "k1");
    b.host.inject(Fault::LostReply);
    let void = b.run(
        Command::Void {
            original: OriginalSelector::Id(original),
            approvals: supervisor(),
        },
        "v1",
    );
    assert_eq!(b.status(void), Status::InDoubt);
    assert_eq!(b.status(original), Status::Approved, "not voided yet");

    let now = b.tick(5_000);
    let mut d = Driver::new(&mut b.term, &mut b.host);
    d.stored = std::mem::take(&mut b.stored);
    d.query(&OriginalSelector::Id(void), now).unwrap();
    b.stored = std::mem::take(&mut d.stored);

    assert_eq!(b.status(void), Status::Approved, "the host had voided it");
    assert_eq!(b.status(original), Status::Voided);
    assert_eq!(b.host_holds(void), Some(true));
    // Resolved: nothing left to reverse.
    b.flush(1_000);
    assert_eq!(b.host.messages(), [Sale, Void, Query]);
    b.invariants();
}

#[test]
fn duplicate_reply_is_ignored() {
    let mut b = Bench::new();
    b.host.inject(Fault::DuplicateReply);
    let id = b.run(sale("100.00"), "k1");
    assert_eq!(b.status(id), Status::Approved);
    let twice = b.host.log.iter().find_map(|w| match w {
        Wire::Replies(r) => Some(r.clone()),
        _ => None,
    });
    let twice = twice.unwrap();
    assert_eq!(twice.len(), 2);
    assert_eq!(b.records("answered"), 1, "one answer recorded");
    assert_eq!(b.records("late_reply"), 0, "the copy is not even logged");
    // Handing the copy in again is recognised as a duplicate.
    assert_eq!(
        b.term.handle_reply(&twice[1], b.now).unwrap(),
        ReplyEffect::Duplicate
    );
    assert_eq!(b.host.inner.ledger().count(), 1);
    b.stored.extend(b.term.take_unpersisted());
    b.invariants();
}

#[test]
fn restart_after_append_but_before_send_reverses_on_restart_and_loses_nothing() {
    let mut b = Bench::new();
    let first = b.run(sale("10.00"), "k0");
    // The sale is recorded and made durable; the process dies before the
    // request leaves.
    let now = b.tick(10_000);
    let submitted = b.term.execute(sale("100.00"), "k1", now).unwrap();
    assert!(submitted.request.is_some());
    b.stored.extend(b.term.take_unpersisted());
    b.restart();
    assert_eq!(b.status(submitted.txn), Status::InDoubt);
    assert_eq!(b.records("unanswered"), 1);

    let next = b.run(sale("100.00"), "k2");
    assert_eq!(b.host.messages(), [Sale, Reversal, Sale]);
    // "25 not found" is the valid answer: the host never had it.
    assert_eq!(b.host.last_reply().map(|r| r.code.as_str()), Some("00"));
    let reversal_answer = b
        .term
        .journal()
        .entries()
        .iter()
        .find_map(|e| match &e.record {
            Record::Answered {
                purpose: Purpose::Reversal { txn, .. },
                code,
                ..
            } if *txn == submitted.txn => Some(code.clone()),
            _ => None,
        });
    assert_eq!(reversal_answer.as_deref(), Some("25"));
    assert_eq!(b.status(submitted.txn), Status::Reversed);
    assert_eq!(b.host_holds(submitted.txn), None);
    // Nothing lost: the other sales stand on both sides, and the batch
    // settles balanced.
    for id in [first, next] {
        assert_eq!(
            (b.status(id), b.host_holds(id)),
            (Status::Approved, Some(true))
        );
    }
    let now = b.tick(1_000);
    let mut d = Driver::new(&mut b.term, &mut b.host);
    d.stored = std::mem::take(&mut b.stored);
    d.settle(now).unwrap();
    b.stored = std::mem::take(&mut d.stored);
    assert!(b.term.closed_batches()[0].balanced);
    assert_eq!(b.host.inner.settled.last().map(|s| s.2), Some(true));
    b.invariants();
}

#[test]
fn restart_after_the_reply_but_before_its_append_reverses_what_the_host_did() {
    let mut b = Bench::new();
    let now = b.tick(10_000);
    let submitted = b.term.execute(sale("100.00"), "k1", now).unwrap();
    b.stored.extend(b.term.take_unpersisted());
    // The host approves; the process dies before appending the answer.
    let reply = b.host.send(&submitted.request.unwrap(), now).unwrap();
    assert_eq!(reply[0].code, "00");
    b.restart();
    assert_eq!(b.status(submitted.txn), Status::InDoubt);
    b.flush(1_000);
    assert_eq!(b.status(submitted.txn), Status::Reversed);
    assert_eq!(
        b.host_holds(submitted.txn),
        Some(false),
        "undone at the host"
    );
    b.invariants();
}

#[test]
fn late_reply_after_the_reversal_is_logged_and_changes_nothing() {
    let mut b = Bench::new();
    b.host.inject(Fault::LateReplyAfterMs(90_000));
    let id = b.run(sale("100.00"), "k1");
    assert_eq!(b.status(id), Status::InDoubt);
    // 10 s later the reply is not due yet; the reversal goes out.
    b.flush(10_000);
    assert_eq!(b.host.messages(), [Sale, Reversal]);
    assert_eq!(b.status(id), Status::Reversed);
    // 90 s after the request the approval arrives: logged, no effect.
    b.flush(90_000);
    assert!(b
        .host
        .log
        .iter()
        .any(|w| matches!(w, Wire::Late(r) if r[0].code == "00")));
    assert_eq!(b.records("late_reply"), 1);
    assert_eq!(b.status(id), Status::Reversed);
    assert_eq!(b.host_holds(id), Some(false));
    b.invariants();
}

#[test]
fn transport_error_leaves_the_request_in_doubt_and_the_reversal_finds_nothing() {
    let mut b = Bench::new();
    b.host.inject(Fault::TransportError);
    let id = b.run(sale("100.00"), "k1");
    assert_eq!(b.status(id), Status::InDoubt, "in doubt, never declined");
    assert_eq!(b.host_holds(id), None, "it never arrived");
    b.flush(1_000);
    assert_eq!(b.status(id), Status::Reversed);
    assert_eq!(b.host.last_reply().map(|r| r.code.as_str()), Some("25"));
    b.invariants();
}

#[test]
fn decline_fault_is_definitive_and_needs_no_reversal() {
    let mut b = Bench::new();
    b.host.inject(Fault::Decline("05".into()));
    let id = b.run(sale("100.00"), "k1");
    assert_eq!(b.status(id), Status::Declined);
    b.flush(1_000);
    assert_eq!(b.host.messages(), [Sale]);
    assert_eq!(b.host_holds(id), None);
    b.invariants();
}

#[test]
fn reversals_that_keep_failing_go_to_manual_review_and_block_until_resolved() {
    let mut b = Bench::new();
    b.host.inject(Fault::Timeout);
    for _ in 0..3 {
        b.host.inject(Fault::TransportError);
    }
    let id = b.run(sale("100.00"), "k1");
    b.flush(1_000);
    assert_eq!(b.status(id), Status::ManualReview);
    assert_eq!(b.host.messages(), [Sale, Reversal, Reversal, Reversal]);
    let now = b.tick(1_000);
    let blocked = b.term.execute(sale("5.00"), "k2", now).unwrap_err();
    assert_eq!(blocked.code(), "MANUAL_REVIEW_PENDING");
    // The supervisor asks the acquirer: it holds the sale approved.
    let p = {
        let r = &b.term.transaction(id).unwrap().request;
        b.host
            .inner
            .posting(TID, r.batch_no, r.trace_no)
            .unwrap()
            .clone()
    };
    assert!(p.stands());
    let approval = [ApprovalInput {
        operator_id: "91".into(),
        pin: "135790".into(),
    }];
    let resolution = Resolution::Approved {
        rrn: p.rrn.clone(),
        auth_code: p.auth_code.clone(),
    };
    b.term
        .resolve_review(&OriginalSelector::Id(id), resolution, &approval, now)
        .unwrap();
    b.stored.extend(b.term.take_unpersisted());
    assert_eq!(b.status(id), Status::Approved);
    let next = b.run(sale("5.00"), "k2");
    assert_eq!(b.status(next), Status::Approved);
    b.invariants();
}

#[test]
fn every_fault_kind_is_counted_by_the_acquirer() {
    let mut b = Bench::new();
    let faults = [
        Fault::Timeout,
        Fault::LostReply,
        Fault::DuplicateReply,
        Fault::LateReplyAfterMs(1),
        Fault::TransportError,
        Fault::Decline("05".into()),
    ];
    for (n, fault) in faults.iter().enumerate() {
        b.host.inject(fault.clone());
        b.run(sale("1.00"), &format!("k{n}"));
    }
    b.flush(1_000);
    let counts = b.host.inner.faults_applied();
    for fault in &faults {
        assert_eq!(counts.get(fault.kind()), 1, "{fault:?}");
    }
    let sent: Vec<MessageType> = b.host.messages();
    assert!(sent.contains(&Reversal));
    b.invariants();
}
