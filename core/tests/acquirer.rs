//! The simulated acquirer on its own (issue 5): every response code it can
//! give and its class in the one table, each test card of the module doc's
//! table, RRN / auth code / host time, duplicates, reversals, queries,
//! settlement balanced and unbalanced (counts and amounts), batch upload,
//! returns and the statement, fault rates and late replies.

use posflow_core::acquirer::{
    Fault, FaultKind, FaultRates, LineStatus, Permille, ReturnReason, SimulatedAcquirer,
    UploadOutcome, UploadRecord,
};
use posflow_core::card::PaymentMethod;
use posflow_core::host::{
    classify, HostReply, HostRequest, MessageType, NoReply, OriginalRef, ResponseClass,
    SettlementSummary, RESPONSE_CODES,
};
use posflow_core::prelude::*;
use posflow_core::sim::fast_config;
use posflow_core::time::DAY_MS;

const T0: Timestamp = Timestamp(1_795_365_000_000);
const TID: &str = "10000001";
const APPROVES: &str = "6222021234567890123";

fn cny(text: &str) -> Money {
    Money::parse(text, Currency::Cny).unwrap()
}

fn card(pan: &str) -> Card {
    Card::from_pan(pan).unwrap()
}

fn trace(n: u32) -> TraceNo {
    TraceNo::new(n).unwrap()
}

fn batch(n: u32) -> BatchNo {
    BatchNo::new(n).unwrap()
}

/// A request of `message` for `amount` on `card`, trace `n`, batch 1.
fn request(message: MessageType, n: u32, amount: &str, card: Card) -> HostRequest {
    HostRequest {
        message,
        merchant_id: "898440350480001".into(),
        terminal_id: TID.into(),
        trace_no: trace(n),
        batch_no: batch(1),
        amount: Some(cny(amount)),
        card: Some(card),
        original: None,
        summary: None,
        upload: None,
        sent_at: T0,
    }
}

/// `message` acting on the request `original`, with trace `n`.
fn acting_on(message: MessageType, n: u32, amount: &str, original: &HostRequest) -> HostRequest {
    HostRequest {
        original: Some(OriginalRef {
            message: original.message,
            trace_no: original.trace_no,
            batch_no: original.batch_no,
            amount: original.amount.unwrap(),
            rrn: None,
            auth_code: None,
            at: original.sent_at,
        }),
        ..request(message, n, amount, original.card.clone().unwrap())
    }
}

fn settlement(debits: (u32, &str), credits: (u32, &str)) -> HostRequest {
    HostRequest {
        message: MessageType::Settlement,
        amount: None,
        card: None,
        summary: Some(SettlementSummary {
            debit_count: debits.0,
            debit_amount: Money::parse(debits.1, Currency::Cny)
                .unwrap_or(Money::zero(Currency::Cny)),
            credit_count: credits.0,
            credit_amount: Money::parse(credits.1, Currency::Cny)
                .unwrap_or(Money::zero(Currency::Cny)),
        }),
        ..request(MessageType::Settlement, 999, "1", card(APPROVES))
    }
}

#[test]
fn every_issue_5_code_is_in_the_one_table_with_its_class() {
    use ResponseClass::*;
    let expected = [
        ("00", Approved),
        ("05", Declined),
        ("12", Declined),
        ("13", Declined),
        ("14", Declined),
        ("25", Declined),
        ("51", Retryable),
        ("54", Declined),
        ("61", Retryable),
        ("62", Declined),
        ("94", Declined),
        ("96", Unknown),
        ("98", Unknown),
    ];
    for (code, class) in expected {
        let row = RESPONSE_CODES.iter().find(|r| r.0 == code);
        assert!(row.is_some(), "{code} is missing from RESPONSE_CODES");
        assert_eq!(classify(code), class, "{code}");
    }
}

/// One row per response code the acquirer gives: how it is reached, and
/// the class the terminal reads from the table.
#[test]
fn the_acquirer_reaches_every_code_and_class() {
    let mut host = SimulatedAcquirer::new(1);
    let sale = request(MessageType::Sale, 1, "100.00", card(APPROVES));
    let mut rows: Vec<(&str, HostReply)> = Vec::new();
    rows.push(("approved card", host.process(&sale, T0)));
    rows.push((
        "05 card",
        host.process(
            &request(MessageType::Sale, 2, "1.00", card("6222020200000005")),
            T0,
        ),
    ));
    let prepaid = request(MessageType::Sale, 3, "50.00", card("6210990000000001"));
    host.process(&prepaid, T0);
    rows.push((
        "prepaid refund",
        host.process(&acting_on(MessageType::Refund, 4, "10.00", &prepaid), T0),
    ));
    rows.push((
        "void for another amount",
        host.process(&acting_on(MessageType::Void, 5, "99.00", &sale), T0),
    ));
    rows.push((
        "14 card",
        host.process(
            &request(MessageType::Sale, 6, "1.00", card("6222020200000014")),
            T0,
        ),
    ));
    let stranger = request(MessageType::Sale, 500, "1.00", card(APPROVES));
    rows.push((
        "refund of an original the host never saw",
        host.process(&acting_on(MessageType::Refund, 7, "1.00", &stranger), T0),
    ));
    rows.push((
        "51 card",
        host.process(
            &request(MessageType::Sale, 8, "1.00", card("6222020200000051")),
            T0,
        ),
    ));
    rows.push((
        "54 card",
        host.process(
            &request(MessageType::Sale, 9, "1.00", card("6222020200000054")),
            T0,
        ),
    ));
    rows.push((
        "61 card above its limit",
        host.process(
            &request(MessageType::Sale, 10, "1000.01", card("6222020200000061")),
            T0,
        ),
    ));
    rows.push((
        "62 card",
        host.process(
            &request(MessageType::Sale, 11, "1.00", card("6222020200000062")),
            T0,
        ),
    ));
    rows.push(("the same trace again", host.process(&sale, T0)));
    rows.push((
        "96 card",
        host.process(
            &request(MessageType::Sale, 12, "1.00", card("6222020200000096")),
            T0,
        ),
    ));
    rows.push((
        "98 card",
        host.process(
            &request(MessageType::Sale, 13, "1.00", card("6222020200000098")),
            T0,
        ),
    ));
    let expected = [
        ("00", ResponseClass::Approved),
        ("05", ResponseClass::Declined),
        ("12", ResponseClass::Declined),
        ("13", ResponseClass::Declined),
        ("14", ResponseClass::Declined),
        ("25", ResponseClass::Declined),
        ("51", ResponseClass::Retryable),
        ("54", ResponseClass::Declined),
        ("61", ResponseClass::Retryable),
        ("62", ResponseClass::Declined),
        ("94", ResponseClass::Declined),
        ("96", ResponseClass::Unknown),
        ("98", ResponseClass::Unknown),
    ];
    assert_eq!(rows.len(), expected.len());
    for ((why, reply), (code, class)) in rows.iter().zip(expected) {
        assert_eq!(reply.code, code, "{why}");
        assert_eq!(classify(&reply.code), class, "{why}");
        assert_eq!(
            reply.rrn.is_some(),
            code == "00",
            "{why}: RRN only on approval"
        );
    }
    // The void for another amount was something a correct terminal never
    // sends: the acquirer kept it as an anomaly.
    assert_eq!(host.anomalies().len(), 1);
    assert!(host.anomalies()[0].what.contains("amount"));
}

#[test]
fn approvals_carry_rrn_auth_code_and_host_time_deterministic_from_the_seed() {
    let replies = |seed| {
        let mut host = SimulatedAcquirer::new(seed);
        (1..=5)
            .map(|n| {
                let at = Timestamp(T0.0 + i64::from(n) * 1000);
                host.process(&request(MessageType::Sale, n, "10.00", card(APPROVES)), at)
            })
            .collect::<Vec<_>>()
    };
    let a = replies(7);
    assert_eq!(a, replies(7), "same seed, same answers");
    assert_ne!(
        a.iter().map(|r| r.auth_code.clone()).collect::<Vec<_>>(),
        replies(8)
            .iter()
            .map(|r| r.auth_code.clone())
            .collect::<Vec<_>>(),
        "another seed, other auth codes"
    );
    for (n, r) in a.iter().enumerate() {
        let rrn = r.rrn.as_deref().unwrap();
        let auth = r.auth_code.as_deref().unwrap();
        assert_eq!(rrn.len(), 12, "{rrn}");
        assert!(rrn.bytes().all(|b| b.is_ascii_digit()), "{rrn}");
        assert_eq!(auth.len(), 6, "{auth}");
        assert_eq!(r.host_time, Timestamp(T0.0 + (n as i64 + 1) * 1000));
    }
    let rrns: std::collections::BTreeSet<_> = a.iter().map(|r| r.rrn.clone()).collect();
    assert_eq!(rrns.len(), a.len(), "RRNs are unique");
}

#[test]
fn duplicates_are_detected_by_terminal_and_trace() {
    let mut host = SimulatedAcquirer::new(1);
    let sale = request(MessageType::Sale, 42, "10.00", card(APPROVES));
    assert_eq!(host.process(&sale, T0).code, "00");
    assert_eq!(host.process(&sale, T0).code, "94");
    // The same trace from another terminal is another transaction.
    let other = HostRequest {
        terminal_id: "10000002".into(),
        ..sale.clone()
    };
    assert_eq!(host.process(&other, T0).code, "00");
    // The duplicate changed nothing: one posting per terminal.
    assert_eq!(host.ledger().count(), 2);
    assert!(host.posting(TID, batch(1), trace(42)).unwrap().stands());
}

#[test]
fn reversals_are_honoured_and_not_found_is_a_valid_answer() {
    let mut host = SimulatedAcquirer::new(1);
    let sale = request(MessageType::Sale, 1, "10.00", card(APPROVES));
    host.process(&sale, T0);
    let reversal = acting_on(MessageType::Reversal, 1, "10.00", &sale);
    let query = acting_on(MessageType::Query, 1, "10.00", &sale);
    assert_eq!(
        host.process(&query, T0).code,
        "00",
        "query before: approved"
    );
    assert_eq!(host.process(&reversal, T0).code, "00");
    assert!(!host.posting(TID, batch(1), trace(1)).unwrap().stands());
    assert_eq!(host.process(&reversal, T0).code, "00", "idempotent");
    assert_eq!(
        host.process(&query, T0).code,
        "25",
        "query after: not found"
    );
    // A request that never arrived: 25.
    let never = request(MessageType::Sale, 2, "10.00", card(APPROVES));
    let reversal = acting_on(MessageType::Reversal, 2, "10.00", &never);
    assert_eq!(host.process(&reversal, T0).code, "25");
    // A reversal with no original is malformed.
    let bare = request(MessageType::Reversal, 3, "10.00", card(APPROVES));
    assert_eq!(host.process(&bare, T0).code, "12");
}

#[test]
fn settlement_compares_counts_and_amounts_with_the_ledger() {
    let mut host = SimulatedAcquirer::new(1);
    let s1 = request(MessageType::Sale, 1, "100.00", card(APPROVES));
    let s2 = request(MessageType::Sale, 2, "50.00", card(APPROVES));
    let s3 = request(MessageType::Sale, 3, "20.00", card(APPROVES));
    for r in [&s1, &s2, &s3] {
        host.process(r, T0);
    }
    host.process(&acting_on(MessageType::Void, 4, "20.00", &s3), T0);
    host.process(&acting_on(MessageType::Refund, 5, "30.00", &s1), T0);
    // A declined sale and a reversed one do not count.
    host.process(
        &request(MessageType::Sale, 6, "9.00", card("6222020200000051")),
        T0,
    );
    let s7 = request(MessageType::Sale, 7, "70.00", card(APPROVES));
    host.process(&s7, T0);
    host.process(&acting_on(MessageType::Reversal, 7, "70.00", &s7), T0);

    let answer = |host: &mut SimulatedAcquirer, req| host.process(&req, T0).balanced;
    assert_eq!(
        answer(&mut host, settlement((2, "150.00"), (1, "30.00"))),
        Some(true)
    );
    // Right counts, wrong amount; right amount, wrong count.
    assert_eq!(
        answer(&mut host, settlement((2, "150.01"), (1, "30.00"))),
        Some(false)
    );
    assert_eq!(
        answer(&mut host, settlement((3, "150.00"), (1, "30.00"))),
        Some(false)
    );
    assert_eq!(
        answer(&mut host, settlement((2, "150.00"), (1, "29.99"))),
        Some(false)
    );
    let settled: Vec<bool> = host.settled.iter().map(|s| s.2).collect();
    assert_eq!(settled, [true, false, false, false]);
    // A settlement without totals is malformed.
    let mut bare = settlement((0, ""), (0, ""));
    bare.summary = None;
    assert_eq!(host.process(&bare, T0).code, "12");
}

#[test]
fn an_unbalanced_batch_is_paid_only_after_its_upload() {
    let mut host = SimulatedAcquirer::new(1);
    let s1 = request(MessageType::Sale, 1, "100.00", card(APPROVES));
    let s2 = request(MessageType::Sale, 2, "40.00", card(APPROVES));
    host.process(&s1, T0);
    host.process(&s2, T0);
    // The terminal also holds an offline advice the host never got (trace 3).
    let reply = host.process(&settlement((3, "160.00"), (0, "")), T0);
    assert_eq!(reply.balanced, Some(false));
    let upload = |n, message, amount: &str, original| UploadRecord {
        message,
        trace_no: trace(n),
        amount: cny(amount),
        rrn: None,
        auth_code: None,
        original,
    };
    // Never uploaded: the statement shows the batch unpaid.
    let mut unpaid = host.clone();
    let statement = unpaid.statement(TID, T0);
    assert!(statement.lines.iter().all(|l| l.status
        == LineStatus::Returned {
            reason: ReturnReason::BatchNotUploaded
        }));
    assert!(unpaid.posting(TID, batch(1), trace(1)).unwrap().returned);

    let outcome = host.accept_batch_upload(
        TID,
        batch(1),
        &[
            upload(1, MessageType::Sale, "100.00", None),
            upload(2, MessageType::Sale, "40.00", None),
            upload(3, MessageType::CompletionAdvice, "20.00", None),
        ],
        T0,
    );
    assert_eq!(
        outcome,
        UploadOutcome {
            matched: 2,
            adjusted: 0,
            added: 1,
            dropped: 0
        }
    );
    let statement = host.statement(TID, T0);
    assert_eq!(statement.batches.len(), 1);
    assert!(statement.batches[0].uploaded && statement.batches[0].balanced);
    assert_eq!(statement.lines.len(), 3);
    assert!(statement
        .lines
        .iter()
        .all(|l| l.status == LineStatus::Approved));
    let zero = Money::zero(Currency::Cny);
    let totals = host.totals(TID, batch(1), zero);
    assert_eq!(
        (totals.debit_count, totals.debit_amount),
        (3, cny("160.00"))
    );
}

#[test]
fn an_upload_that_leaves_a_posting_out_returns_it() {
    let mut host = SimulatedAcquirer::new(1);
    host.process(&request(MessageType::Sale, 1, "100.00", card(APPROVES)), T0);
    host.process(&request(MessageType::Sale, 2, "40.00", card(APPROVES)), T0);
    host.process(&settlement((1, "100.00"), (0, "")), T0);
    let outcome = host.accept_batch_upload(
        TID,
        batch(1),
        &[UploadRecord {
            message: MessageType::Sale,
            trace_no: trace(1),
            amount: cny("100.00"),
            rrn: None,
            auth_code: None,
            original: None,
        }],
        T0,
    );
    assert_eq!((outcome.matched, outcome.dropped), (1, 1));
    let p = host.posting(TID, batch(1), trace(2)).unwrap();
    assert!(p.returned);
    assert_eq!(p.return_reason, Some(ReturnReason::BatchNotUploaded));
}

// ----- the test cards, through a terminal ----------------------------------

struct Shop {
    term: Terminal,
    host: SimulatedAcquirer,
    now: Timestamp,
}

impl Shop {
    fn new() -> Shop {
        let mut term = Terminal::open(fast_config(), Vec::new(), T0).unwrap();
        term.sign_in("01", "1234", T0).unwrap();
        Shop {
            term,
            host: SimulatedAcquirer::new(5),
            now: T0,
        }
    }

    fn run(&mut self, command: Command, key: &str) -> TxnId {
        self.now = Timestamp(self.now.0 + 60_000);
        let mut d = Driver::new(&mut self.term, &mut self.host);
        d.run(command, key, self.now).unwrap()
    }

    fn sale(&mut self, amount: &str, card: Card, key: &str) -> TxnId {
        self.run(
            Command::Sale {
                amount: cny(amount),
                card,
            },
            key,
        )
    }

    fn refund(&mut self, original: TxnId, amount: &str, key: &str) -> TxnId {
        let approvals = vec![ApprovalInput {
            operator_id: "90".into(),
            pin: "246810".into(),
        }];
        let command = self
            .term
            .refund_command(
                &RefundOriginal::Journal(OriginalSelector::Id(original)),
                Some(cny(amount)),
                "customer return",
                approvals,
                None,
                self.now,
            )
            .unwrap();
        self.run(command, key)
    }

    fn status(&self, id: TxnId) -> Status {
        self.term.view(id, self.now).unwrap().status
    }

    fn code(&self, id: TxnId) -> String {
        let t = self.term.transaction(id).unwrap();
        let p = self
            .host
            .posting(TID, t.request.batch_no, t.request.trace_no)
            .unwrap();
        p.code.clone()
    }

    fn settle(&mut self) {
        self.now = Timestamp(self.now.0 + 60_000);
        let mut d = Driver::new(&mut self.term, &mut self.host);
        d.settle(self.now).unwrap();
        assert!(self.term.closed_batches().last().unwrap().balanced);
    }

    fn line(&mut self, id: TxnId) -> posflow_core::acquirer::StatementLine {
        let t = self.term.transaction(id).unwrap().clone();
        let statement = self.host.statement(TID, self.now);
        statement
            .lines
            .into_iter()
            .find(|l| l.trace_no == t.request.trace_no && l.batch_no == t.request.batch_no)
            .unwrap()
    }
}

#[test]
fn card_approved() {
    let mut shop = Shop::new();
    let id = shop.sale("100.00", card(APPROVES), "k1");
    assert_eq!(shop.status(id), Status::Approved);
    assert_eq!(shop.line(id).status, LineStatus::Approved);
}

#[test]
fn card_insufficient_funds() {
    let mut shop = Shop::new();
    let id = shop.sale("100.00", card("6222020200000051"), "k1");
    assert_eq!(
        (shop.status(id), shop.code(id)),
        (Status::Declined, "51".into())
    );
}

#[test]
fn card_expired() {
    let mut shop = Shop::new();
    let id = shop.sale("100.00", card("6222020200000054"), "k1");
    assert_eq!(
        (shop.status(id), shop.code(id)),
        (Status::Declined, "54".into())
    );
}

#[test]
fn card_over_its_limit() {
    let mut shop = Shop::new();
    let small = shop.sale("1000.00", card("6222020200000061"), "k1");
    let big = shop.sale("1000.01", card("6222020200000061"), "k2");
    assert_eq!(shop.status(small), Status::Approved);
    assert_eq!(
        (shop.status(big), shop.code(big)),
        (Status::Declined, "61".into())
    );
}

#[test]
fn card_whose_refunds_are_refused_on_the_original_route() {
    let mut shop = Shop::new();
    let sale = shop.sale("100.00", card("6222020200000071"), "k1");
    assert_eq!(shop.status(sale), Status::Approved);
    let refund = shop.refund(sale, "30.00", "r1");
    // 62: the card is frozen; the planner reads it as "original route closed".
    assert_eq!(
        (shop.status(refund), shop.code(refund)),
        (Status::Declined, "62".into())
    );
    assert_eq!(
        shop.term.view(sale, shop.now).unwrap().refundable,
        cny("100.00")
    );
}

#[test]
fn card_cancelled_after_the_sale_returns_an_accepted_refund_later() {
    let mut shop = Shop::new();
    shop.host.set_return_delay_ms(DAY_MS);
    let sale = shop.sale("100.00", card("6222020200000072"), "k1");
    // Partial, so the planner refunds rather than voids.
    let refund = shop.refund(sale, "60.00", "r1");
    assert_eq!(
        shop.status(refund),
        Status::Approved,
        "the terminal saw success"
    );
    assert_eq!(shop.line(refund).status, LineStatus::Approved, "not yet");
    shop.now = Timestamp(shop.now.0 + DAY_MS);
    assert_eq!(
        shop.line(refund).status,
        LineStatus::Returned {
            reason: ReturnReason::CardCancelled
        }
    );
    let t = shop.term.transaction(refund).unwrap();
    let p = shop
        .host
        .posting(TID, t.request.batch_no, t.request.trace_no)
        .unwrap();
    assert!(p.returned && p.stands(), "returned, not reversed: {p:?}");
}

#[test]
fn prepaid_card_cannot_be_refunded() {
    let mut shop = Shop::new();
    let prepaid = card("6210990000000001");
    assert_eq!(prepaid.method, PaymentMethod::Prepaid);
    let sale = shop.sale("100.00", prepaid, "k1");
    assert_eq!(shop.status(sale), Status::Approved);
    // The planner never sends it: the method cannot take money back.
    let original = RefundOriginal::Journal(OriginalSelector::Id(sale));
    let plan = shop
        .term
        .plan_refund(&original, Some(cny("10.00")), shop.now)
        .unwrap();
    assert_eq!(plan.action(), Action::Fallback);
    assert!(plan.reasons().contains(&Reason::MethodCannotRefund));
    // Should a terminal send one anyway, the host refuses it with 12: ask
    // the host directly with a refund request built from the sale's.
    let t = shop.term.transaction(sale).unwrap().clone();
    let posting = shop
        .host
        .posting(TID, t.request.batch_no, t.request.trace_no)
        .unwrap()
        .clone();
    let request = HostRequest {
        message: MessageType::Refund,
        merchant_id: "898440350480001".into(),
        terminal_id: TID.into(),
        trace_no: TraceNo::new(999).unwrap(),
        batch_no: t.request.batch_no,
        amount: Some(cny("10.00")),
        card: Some(t.request.card.clone()),
        original: Some(OriginalRef {
            message: MessageType::Sale,
            trace_no: t.request.trace_no,
            batch_no: t.request.batch_no,
            amount: t.request.amount,
            rrn: posting.rrn.clone(),
            auth_code: posting.auth_code.clone(),
            at: t.request.at,
        }),
        summary: None,
        upload: None,
        sent_at: shop.now,
    };
    assert_eq!(shop.host.process(&request, shop.now).code, "12");
}

#[test]
fn qr_wallet_payment_is_approved_and_refunded() {
    let mut shop = Shop::new();
    let wallet = Card::from_qr("134567890123456789").unwrap();
    let sale = shop.sale("88.00", wallet, "k1");
    let refund = shop.refund(sale, "8.00", "r1");
    assert_eq!(shop.status(sale), Status::PartiallyRefunded);
    assert_eq!(shop.status(refund), Status::Approved);
    let line = shop.line(sale);
    assert_eq!(line.method, Some(PaymentMethod::QrWallet));
    assert!(!line.foreign);
}

#[test]
fn foreign_card_is_approved_and_marked_foreign() {
    let mut shop = Shop::new();
    let sale = shop.sale("200.00", card("5413330089020011"), "k1");
    assert_eq!(shop.status(sale), Status::Approved);
    let line = shop.line(sale);
    assert!(line.foreign);
    assert_eq!(line.method, Some(PaymentMethod::BankCard));
    assert_eq!(line.masked_pan.as_deref(), Some("541333******0011"));
}

#[test]
fn terminal_saw_success_but_the_money_is_returned_at_settlement() {
    let mut shop = Shop::new();
    let sale = shop.sale("300.00", card("6222020200000073"), "k1");
    let other = shop.sale("10.00", card(APPROVES), "k2");
    assert_eq!(shop.status(sale), Status::Approved);
    assert_eq!(
        shop.line(sale).status,
        LineStatus::Approved,
        "before settlement"
    );
    shop.settle();
    // The batch balanced (the terminal and the host agreed on the totals);
    // then the issuer returned the money: only the statement shows it.
    assert_eq!(shop.status(sale), Status::Approved);
    assert_eq!(
        shop.line(sale).status,
        LineStatus::Returned {
            reason: ReturnReason::IssuerReturned
        }
    );
    assert_eq!(shop.line(other).status, LineStatus::Approved);
}

#[test]
fn every_test_card_of_the_table_is_reachable_through_a_terminal() {
    // Cards that refuse everything, with the code the terminal records.
    for (pan, code, status) in [
        ("6222020200000005", "05", Status::Declined),
        ("6222020200000014", "14", Status::Declined),
        ("6222020200000062", "62", Status::Declined),
        ("6222020200000096", "96", Status::InDoubt),
    ] {
        let mut shop = Shop::new();
        let id = shop.sale("10.00", card(pan), "k1");
        assert_eq!(
            (shop.status(id), shop.code(id)),
            (status, code.into()),
            "{pan}"
        );
    }
}

#[test]
fn card_whose_issuer_answer_is_lost_is_in_doubt_though_the_host_approved_it() {
    let mut shop = Shop::new();
    let id = shop.sale("10.00", card("6222020200000098"), "k1");
    assert_eq!(shop.status(id), Status::InDoubt, "told 98: unknown");
    assert_eq!(shop.code(id), "00", "the ledger holds it approved");
    // A query finds it approved, with the RRN the terminal never got.
    shop.now = Timestamp(shop.now.0 + 1_000);
    let mut d = Driver::new(&mut shop.term, &mut shop.host);
    d.query(&OriginalSelector::Id(id), shop.now).unwrap();
    assert_eq!(shop.status(id), Status::Approved);
    let rrn = match &shop.term.transaction(id).unwrap().state {
        posflow_core::terminal::TxnState::Approved { rrn, .. } => rrn.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(rrn, shop.line(id).rrn);
    assert!(rrn.is_some());
}

// ----- faults by rate --------------------------------------------------------

#[test]
fn fault_rates_are_bounded() {
    let rates = |timeout, lost_reply, duplicate, late, transport, garbled| FaultRates {
        timeout: Permille(timeout),
        lost_reply: Permille(lost_reply),
        duplicate: Permille(duplicate),
        late: Permille(late),
        transport: Permille(transport),
        garbled: Permille(garbled),
    };
    let mut host = SimulatedAcquirer::new(1);
    assert!(host
        .set_fault_rates(rates(200, 100, 400, 100, 100, 100))
        .is_ok());
    for (bad, why) in [
        (
            rates(200, 101, 0, 0, 0, 0),
            "timeouts + lost replies above 30 %",
        ),
        (rates(0, 0, 501, 0, 0, 0), "duplicates above 50 %"),
        (rates(150, 150, 500, 150, 51, 0), "above 100 % in all"),
        (
            rates(150, 150, 500, 150, 0, 51),
            "above 100 % in all, garbled",
        ),
    ] {
        let err = host.set_fault_rates(bad).unwrap_err();
        assert_eq!(err.code(), "INVALID_INPUT", "{why}");
    }
}

#[test]
fn fault_rates_draw_the_same_faults_from_the_same_seed() {
    let rates = FaultRates {
        timeout: Permille(100),
        lost_reply: Permille(100),
        duplicate: Permille(300),
        late: Permille(100),
        transport: Permille(100),
        garbled: Permille(50),
    };
    let outcomes = |seed| {
        let mut host = SimulatedAcquirer::new(seed);
        host.set_fault_rates(rates).unwrap();
        let out: Vec<Result<usize, NoReply>> = (1..=400)
            .map(|n| {
                let r = request(MessageType::Sale, n, "1.00", card(APPROVES));
                host.send(&r, T0).map(|replies| replies.len())
            })
            .collect();
        (out, host.faults_applied())
    };
    let (a, counts) = outcomes(11);
    assert_eq!((a.clone(), counts), outcomes(11));
    assert_ne!(a, outcomes(12).0);
    // Every kind drawn by rate: a decline is only ever injected.
    for kind in FaultKind::ALL
        .into_iter()
        .filter(|k| *k != FaultKind::Decline)
    {
        assert!(counts.get(kind) > 0, "{kind:?} never drawn in 400 requests");
    }
    assert_eq!(counts.get(FaultKind::Decline), 0);
    // Rates off: no fault at all.
    let mut host = SimulatedAcquirer::new(11);
    for n in 1..=100 {
        let r = request(MessageType::Sale, n, "1.00", card(APPROVES));
        assert_eq!(host.send(&r, T0).map(|r| r.len()), Ok(1));
    }
    assert_eq!(host.faults_applied().total(), 0);
}

#[test]
fn injected_faults_come_first_and_in_order() {
    let mut host = SimulatedAcquirer::new(1);
    host.inject(Fault::TransportError);
    host.inject(Fault::Decline("05".into()));
    host.inject(Fault::DuplicateReply);
    let mut send = |n| host.send(&request(MessageType::Sale, n, "1.00", card(APPROVES)), T0);
    assert_eq!(send(1), Err(NoReply::TransportError));
    assert_eq!(send(2).unwrap()[0].code, "05");
    let twice = send(3).unwrap();
    assert_eq!((twice.len(), twice[0].clone()), (2, twice[1].clone()));
    assert_eq!(send(4).unwrap().len(), 1);
    // The transport error never reached the host; the decline was not
    // processed; the duplicate was processed once.
    assert!(host.posting(TID, batch(1), trace(1)).is_none());
    assert!(host.posting(TID, batch(1), trace(2)).is_none());
    assert!(host.posting(TID, batch(1), trace(3)).unwrap().stands());
}

#[test]
fn late_replies_come_out_by_when_they_are_due_then_as_they_were_held() {
    let mut host = SimulatedAcquirer::new(1);
    for ms in [70_000, 30_000, 30_000] {
        host.inject(Fault::LateReplyAfterMs(ms));
    }
    for n in 1..=3 {
        let sale = request(MessageType::Sale, n, "1.00", card(APPROVES));
        assert_eq!(host.send(&sale, T0), Err(NoReply::Timeout));
    }
    let traces = |r: Vec<posflow_core::host::HostReply>| -> Vec<_> {
        r.iter().map(|r| r.trace_no).collect()
    };
    assert_eq!(traces(host.take_late(Timestamp(T0.0 + 29_999))), []);
    assert_eq!(
        traces(host.take_late(Timestamp(T0.0 + 30_000))),
        [trace(2), trace(3)]
    );
    assert_eq!(traces(host.take_late(Timestamp(T0.0 + 80_000))), [trace(1)]);
}

#[test]
fn a_late_reply_is_handed_out_once_its_delay_has_passed() {
    let mut host = SimulatedAcquirer::new(1);
    host.inject(Fault::LateReplyAfterMs(70_000));
    let sale = request(MessageType::Sale, 1, "1.00", card(APPROVES));
    assert_eq!(host.send(&sale, T0), Err(NoReply::Timeout));
    assert!(
        host.posting(TID, batch(1), trace(1)).unwrap().stands(),
        "processed"
    );
    assert!(host.take_late(Timestamp(T0.0 + 69_999)).is_empty());
    let late = host.take_late(Timestamp(T0.0 + 70_000));
    assert_eq!(late.len(), 1);
    assert_eq!((late[0].trace_no, late[0].code.as_str()), (trace(1), "00"));
    assert!(host.take_late(Timestamp(T0.0 + 999_999)).is_empty(), "once");
    assert_eq!(host.faults_applied().get(FaultKind::LateReply), 1);
}
