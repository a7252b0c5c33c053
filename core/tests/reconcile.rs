//! Settlement totals and reconciliation against the acquirer's statement.
//!
//! - Totals equal what the journal's records add up to (invariant 8) and
//!   the summary the host is sent.
//! - Crafted statements reach every reconciliation category, read from JSON
//!   and from CSV alike.
//! - Malformed statements are refused whole, naming line and field.
//! - A day with faults, settled, reconciles against the simulated
//!   acquirer's own statement with nothing unexplained.
//! - Read and reconciled in steps, at any budget, a statement gives the
//!   one-shot report or error.
//! - A 100,000-line statement reconciles in linear time.

mod common;
#[path = "common/day.rs"]
mod day;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use day::{synthetic_day, Day, FOREIGN_PAN};
use posflow_core::acquirer::{Fault, Posting};
use posflow_core::host::{classify, ResponseClass};
use posflow_core::prelude::*;
use posflow_core::receipt::{Receipt, ReceiptCopy, ReceiptOptions, Width};
use posflow_core::reconcile::{
    reconcile, statement_from_ledger, Category, CsvStatementReader, Finding, LineStatus, MatchedBy,
    ReconReport, Reconciler, Statement,
};
use posflow_core::record::Purpose;
use posflow_core::totals::{BatchState, BatchTotals, SettlementReport};

fn ledger_statement(d: &Day) -> Statement {
    statement_from_ledger(
        d.host.inner.ledger(),
        &d.term.config().merchant_id,
        d.term.config().currency,
        d.term.config().policy.utc_offset_minutes,
    )
    .unwrap()
}

/// The category and finding of each terminal record in the report.
fn by_txn(report: &ReconReport) -> HashMap<TxnId, (Category, Finding)> {
    report
        .items
        .iter()
        .filter_map(|i| i.txn.map(|t| (t, (i.category, i.finding))))
        .collect()
}

// ----- totals -------------------------------------------------------------

/// A day of every kind, both card groups, declines, a reversal and an
/// in-batch completion void: the totals' raw material.
fn busy_day() -> Day {
    let mut d = Day::new(21);
    let a = d.sale("100.00");
    let b = d.sale_with("250.50", FOREIGN_PAN);
    d.void(b);
    let c = d.sale("80.00");
    d.refund(c, "30.00", "退货");
    d.refund(c, "20.00", "partial return");
    d.sale_with("66.00", "6222020200110051"); // declined 51
    let p = d.pre_auth("500.00");
    let comp = d.complete(p, "560.00", false);
    d.void(comp);
    let p2 = d.pre_auth("200.00");
    d.complete(p2, "150.00", true);
    let p3 = d.pre_auth("90.00");
    d.cancel(p3);
    d.refund(a, "100.00", "full return");
    d.flush();
    d.fault(Fault::Timeout);
    d.sale("12.34"); // in doubt, then reversed by the next flush
    d.flush();
    d
}

/// Sums per (kind, foreign) computed straight from the journal's records,
/// without the terminal's state: a request is approved when its own
/// exchange, a query of it, or a supervisor's resolution says so, or when
/// it is an offline advice.
fn journal_sums(term: &Terminal) -> BTreeMap<(&'static str, bool), (u32, rust_decimal::Decimal)> {
    use posflow_core::record::{Record, Resolution};
    let mut requests = HashMap::new();
    let mut approved: HashSet<TxnId> = HashSet::new();
    for e in term.journal().entries() {
        match &e.record {
            Record::Requested(r) => {
                let id = TxnId(e.seq);
                if r.kind == Kind::CompletionAdvice {
                    approved.insert(id);
                }
                requests.insert(id, r.clone());
            }
            Record::Answered {
                purpose: Purpose::Request { txn } | Purpose::Query { txn },
                code,
                ..
            } if classify(code) == ResponseClass::Approved => {
                approved.insert(*txn);
            }
            Record::ReviewResolved {
                txn,
                resolution: Resolution::Approved { .. },
                ..
            } => {
                approved.insert(*txn);
            }
            _ => {}
        }
    }
    let mut sums = BTreeMap::new();
    for id in approved {
        let r = &requests[&id];
        let slot = sums
            .entry((r.kind.as_str(), r.card.foreign))
            .or_insert((0u32, rust_decimal::Decimal::ZERO));
        slot.0 += 1;
        slot.1 += r.amount.amount();
    }
    sums
}

#[test]
fn totals_equal_the_journal_sums_and_the_host_summary() {
    let mut d = busy_day();
    let batch = d.term.batch_no();
    let totals = BatchTotals::compute(&d.term, batch).unwrap();
    let sums = journal_sums(&d.term);
    let mut net = rust_decimal::Decimal::ZERO;
    for kind in Kind::ALL {
        for (foreign, side) in [(false, &totals.domestic), (true, &totals.foreign)] {
            let row = side.get(kind);
            let (count, amount) = sums
                .get(&(kind.as_str(), foreign))
                .copied()
                .unwrap_or((0, rust_decimal::Decimal::ZERO));
            assert_eq!(row.count, count, "{kind:?} foreign={foreign}");
            assert_eq!(row.amount.amount(), amount, "{kind:?} foreign={foreign}");
            match posflow_core::totals::net_direction(kind) {
                Some(false) => net += amount,
                Some(true) => net -= amount,
                None => {}
            }
        }
        let all = totals.all.get(kind);
        let parts = totals.domestic.get(kind).count + totals.foreign.get(kind).count;
        assert_eq!(all.count, parts, "{kind:?}");
    }
    assert_eq!(totals.all.net.amount(), net);
    // The printed way: the voided foreign sale is one sale and one void.
    assert_eq!(
        (totals.foreign.sale.count, totals.foreign.void.count),
        (1, 1)
    );
    assert!(totals.foreign.net.is_zero());
    assert_eq!(totals.all.pre_auth.count, 3);
    assert_eq!(totals.all.offline.count, 1);
    assert_eq!(totals.all.completion_void.count, 1);
    // 100 + 80 + 150 - 30 - 20 - 100 (the declined sale and the reversed
    // one count nowhere; completion and its void cancel out).
    assert_eq!(totals.all.net.to_string(), "180.00");
    // The same figures as the summary the settlement sends.
    let summary = d.term.summary(batch, d.now);
    assert_eq!(totals.host_summary().unwrap(), summary);
    d.settle().unwrap();
    let closed = &d.term.closed_batches()[0];
    assert_eq!(closed.summary, summary);
    // A closed batch's totals do not move when the next batch fills.
    d.sale("5.00");
    assert_eq!(BatchTotals::compute(&d.term, batch).unwrap(), totals);
}

#[test]
fn settlement_reports_open_closed_and_unknown_batches() {
    let mut d = busy_day();
    let open = d.term.batch_no();
    let report = SettlementReport::new(&d.term, open, d.now).unwrap();
    assert_eq!(report.state, BatchState::Open);
    assert_eq!(report.host_summary, None);
    d.settle().unwrap();
    let report = SettlementReport::new(&d.term, open, d.now).unwrap();
    assert_eq!(report.state, BatchState::Balanced);
    assert_eq!(report.at, d.term.closed_batches()[0].at);
    assert_eq!(report.totals.all.net.to_string(), "180.00");
    assert_eq!(
        report.host_summary.as_ref(),
        Some(&d.term.closed_batches()[0].summary)
    );
    let next = SettlementReport::new(&d.term, d.term.batch_no(), d.now).unwrap();
    assert_eq!(next.state, BatchState::Open);
    assert!(next.totals.all.net.is_zero());
    let unknown = posflow_core::host::BatchNo::new(42).unwrap();
    let err = SettlementReport::new(&d.term, unknown, d.now).unwrap_err();
    assert_eq!(err.code(), "BATCH_NOT_FOUND");
    assert!(err.details().contains(&("batchNo", "000042".to_owned())));
}

// ----- crafted statements: every category -----------------------------------

struct Crafted {
    day: Day,
    statement: Statement,
    ids: BTreeMap<&'static str, TxnId>,
}

/// A day whose acquirer statement is then edited so that every category
/// appears once at least.
fn crafted() -> Crafted {
    let mut d = Day::new(99);
    let mut ids = BTreeMap::new();
    ids.insert("matched", d.sale("100.00"));
    ids.insert("terminal_only", d.sale("200.00"));
    ids.insert("amount", d.sale("300.00"));
    ids.insert("returned", d.sale("400.00"));
    ids.insert("reversed_at_acquirer", d.sale("150.00"));
    ids.insert("by_rrn", d.sale("60.00"));
    let base = ids["matched"];
    ids.insert("refund_credited", d.refund(base, "10.00", "r1"));
    ids.insert("refund_returned", d.refund(base, "20.00", "r2"));
    ids.insert("refund_pending", d.refund(base, "5.00", "r3"));
    ids.insert("declined_here", d.sale_with("70.00", "6222020200110051"));
    // The host did it, the reply was lost, the reversal undid it.
    d.fault(Fault::LostReply);
    ids.insert("reversed_both", d.sale("33.00"));
    d.flush();
    d.fault(Fault::Timeout);
    ids.insert("in_doubt", d.sale("44.00"));
    assert_eq!(d.status(ids["in_doubt"]), Status::InDoubt);
    assert_eq!(d.status(ids["reversed_both"]), Status::Reversed);
    assert_eq!(d.status(ids["declined_here"]), Status::Declined);

    let mut st = ledger_statement(&d);
    let trace = |d: &Day, name: &str| d.term.transaction(ids[name]).unwrap().request.trace_no;
    let find = |st: &Statement, t| st.lines.iter().position(|l| l.trace_no == t).unwrap();
    // Terminal only: the acquirer never got it.
    let i = find(&st, trace(&d, "terminal_only"));
    st.lines.remove(i);
    let i = find(&st, trace(&d, "amount"));
    st.lines[i].amount = Money::parse("310.00", Currency::Cny).unwrap();
    let i = find(&st, trace(&d, "returned"));
    st.lines[i].status = LineStatus::Returned;
    let i = find(&st, trace(&d, "reversed_at_acquirer"));
    st.lines[i].status = LineStatus::Reversed;
    // Posted the next day with another trace: only the RRN matches.
    let i = find(&st, trace(&d, "by_rrn"));
    st.lines[i].trace_no = posflow_core::host::TraceNo::new(777).unwrap();
    st.lines[i].date.day += 1;
    let i = find(&st, trace(&d, "refund_returned"));
    st.lines[i].status = LineStatus::Returned;
    let i = find(&st, trace(&d, "refund_pending"));
    st.lines[i].status = LineStatus::Pending;
    // The acquirer cleared what the terminal saw declined.
    let i = find(&st, trace(&d, "declined_here"));
    st.lines[i].status = LineStatus::Settled;
    // A line the terminal never made, and one of another terminal.
    let mut stranger = st.lines[0].clone();
    stranger.trace_no = posflow_core::host::TraceNo::new(999).unwrap();
    stranger.rrn = Some("999999999999".into());
    st.lines.push(stranger);
    let mut neighbour = st.lines[0].clone();
    neighbour.terminal_id = "10000002".into();
    st.lines.push(neighbour);
    // A reversed line nobody here knows: no effect.
    let mut ghost = st.lines[0].clone();
    ghost.trace_no = posflow_core::host::TraceNo::new(998).unwrap();
    ghost.rrn = None;
    ghost.status = LineStatus::Reversed;
    st.lines.push(ghost);
    // As the edited file would read.
    for (i, l) in st.lines.iter_mut().enumerate() {
        l.line = i as u64 + 1;
    }
    st.dates = st.lines.iter().map(|l| l.date).collect();
    Crafted {
        day: d,
        statement: st,
        ids,
    }
}

fn check_every_category(c: &Crafted, report: &ReconReport) {
    let found = by_txn(report);
    let expect = [
        ("matched", Category::Matched, Finding::Agreed),
        (
            "terminal_only",
            Category::TerminalOnly,
            Finding::NotOnStatement,
        ),
        ("amount", Category::AmountMismatch, Finding::AmountDiffers),
        ("returned", Category::ReturnedOrReversed, Finding::Returned),
        (
            "reversed_at_acquirer",
            Category::ReturnedOrReversed,
            Finding::Reversed,
        ),
        ("by_rrn", Category::Matched, Finding::Agreed),
        (
            "refund_credited",
            Category::RefundCredited,
            Finding::RefundCredited,
        ),
        (
            "refund_returned",
            Category::RefundReturned,
            Finding::RefundReturned,
        ),
        (
            "refund_pending",
            Category::RefundPending,
            Finding::RefundPending,
        ),
        (
            "declined_here",
            Category::AcquirerOnly,
            Finding::NotApprovedOnTerminal,
        ),
        ("reversed_both", Category::Matched, Finding::NothingMoved),
        (
            "in_doubt",
            Category::Unresolved,
            Finding::InDoubtAcquirerHasIt,
        ),
    ];
    for (name, category, finding) in expect {
        assert_eq!(
            found.get(&c.ids[name]),
            Some(&(category, finding)),
            "{name}"
        );
    }
    let rrn_item = report
        .items
        .iter()
        .find(|i| i.txn == Some(c.ids["by_rrn"]))
        .unwrap();
    assert_eq!(rrn_item.matched_by, Some(MatchedBy::Rrn));
    let stranger: Vec<_> = report
        .of(Category::AcquirerOnly)
        .filter(|i| i.txn.is_none())
        .collect();
    assert_eq!(stranger.len(), 1);
    assert_eq!(stranger[0].finding, Finding::NotOnTerminal);
    assert_eq!(stranger[0].trace_no.to_string(), "000999");
    assert_eq!(report.summary.other_terminal_lines, 1);
    assert_eq!(report.summary.lines_without_effect, 1);
    for category in Category::ALL {
        assert!(report.total(category).count > 0, "{category:?} reached");
    }
    assert_eq!(report.credited, vec![c.ids["refund_credited"]]);
    assert_eq!(report.returned, vec![c.ids["refund_returned"]]);
    // terminal only, amount, returned, reversed, declined here, stranger,
    // in doubt.
    assert_eq!(report.summary.unexplained, 7);
    assert!(!report.summary.balanced);
    let amount = report.total(Category::AmountMismatch);
    assert_eq!(
        (
            amount.terminal_amount.to_string(),
            amount.acquirer_amount.to_string()
        ),
        ("300.00".into(), "310.00".into())
    );
    for item in &report.items {
        assert!(!item.next_step.zh.is_empty() && !item.next_step.en.is_empty());
    }
}

#[test]
fn crafted_statements_reach_every_category_from_json_and_csv() {
    let c = crafted();
    let now = c.day.now;
    let direct = reconcile(&c.day.term, &c.statement, now).unwrap();
    check_every_category(&c, &direct);

    let json = c.statement.to_json();
    let from_json = Statement::from_json(&json).unwrap();
    assert_eq!(from_json, c.statement);
    check_every_category(&c, &reconcile(&c.day.term, &from_json, now).unwrap());

    let csv = c.statement.to_csv();
    let from_csv = Statement::from_csv(&csv, Currency::Cny).unwrap();
    check_every_category(&c, &reconcile(&c.day.term, &from_csv, now).unwrap());
    // The same lines; only where they were read differs (CSV counts the
    // header as line 1).
    assert_eq!(from_csv.lines.len(), c.statement.lines.len());
    for (a, b) in from_csv.lines.iter().zip(&c.statement.lines) {
        assert_eq!(a.line, b.line + 1);
        assert_eq!((&a.rrn, a.amount, a.status), (&b.rrn, b.amount, b.status));
    }
    // The report crosses the boundary as JSON with decimal strings.
    let report_json = serde_json::to_string(&direct).unwrap();
    assert!(report_json.contains("\"category\":\"refund_returned\""));
    assert!(report_json.contains("\"amount\":\"310.00\""));

    // The findings move the refunds' statuses, once; the returned refund
    // frees its headroom and its original now plans a fallback.
    let mut term = c.day.term.clone();
    assert_eq!(term.apply_reconciliation(&direct, now).unwrap(), 2);
    assert_eq!(term.apply_reconciliation(&direct, now).unwrap(), 0);
    term.check_invariants(now).unwrap();
    let credited = term.refund_view(c.ids["refund_credited"], now).unwrap();
    assert_eq!(credited.status, RefundStatus::Credited);
    let returned = term.refund_view(c.ids["refund_returned"], now).unwrap();
    assert_eq!(returned.status, RefundStatus::Returned);
    assert_eq!(returned.next_step, NextStep::PlanFallback);
    let original = returned.txn.request.original.unwrap();
    let plan = term
        .plan_refund(
            &RefundOriginal::Journal(OriginalSelector::Id(original)),
            Some(returned.txn.request.amount),
            now,
        )
        .unwrap();
    assert_eq!(plan.action(), Action::Fallback);
    assert!(plan.reasons().contains(&Reason::CardClosed));
}

#[test]
fn a_successful_sale_whose_money_was_returned_is_found() {
    let mut d = Day::new(8);
    let sale = d.sale("128.00");
    let ok = d.sale("12.00");
    d.settle().unwrap();
    let mut postings: Vec<Posting> = d.host.inner.ledger().cloned().collect();
    let i = postings
        .iter()
        .position(|p| {
            p.rrn
                == d.term.view(sale, d.now).and_then(|v| match &v.txn.state {
                    posflow_core::terminal::TxnState::Approved { rrn, .. } => rrn.clone(),
                    _ => None,
                })
        })
        .unwrap();
    postings[i].returned = true;
    let st = statement_from_ledger(&postings, "898440350480001", Currency::Cny, 480).unwrap();
    assert_eq!(st.lines[i].status, LineStatus::Returned);
    let report = reconcile(&d.term, &st, d.now).unwrap();
    let found = by_txn(&report);
    assert_eq!(
        found[&sale],
        (Category::ReturnedOrReversed, Finding::Returned)
    );
    assert_eq!(found[&ok], (Category::Matched, Finding::Agreed));
    assert!(!report.summary.balanced);
    assert_eq!(report.summary.terminal_net.to_string(), "140.00");
    assert_eq!(report.summary.acquirer_net.to_string(), "12.00");
    let item = report.of(Category::ReturnedOrReversed).next().unwrap();
    assert!(item.next_step.zh.contains("资金已被退回"));
}

#[test]
fn an_unsent_advice_and_a_missing_day_are_terminal_only() {
    let mut d = Day::new(4);
    let p = d.pre_auth("100.00");
    let statement_before = ledger_statement(&d);
    let advice = d.complete(p, "90.00", true);
    // The statement was cut before the advice reached the host.
    let report = reconcile(&d.term, &statement_before, d.now).unwrap();
    assert_eq!(
        by_txn(&report)[&advice],
        (Category::TerminalOnly, Finding::AdviceNotSent)
    );
    // An empty statement of that date: everything approved is missing.
    let mut empty = Statement::new(Currency::Cny);
    empty
        .dates
        .insert(d.now.local_date(d.term.config().policy.utc_offset_minutes));
    let report = reconcile(&d.term, &empty, d.now).unwrap();
    assert_eq!(report.of(Category::TerminalOnly).count(), 2);
    // A statement of another day says nothing about this one.
    let report = reconcile(&d.term, &Statement::new(Currency::Cny), d.now).unwrap();
    assert!(report.items.is_empty() && report.summary.balanced);
}

#[test]
fn statements_of_another_currency_or_merchant_are_refused() {
    let c = crafted();
    let mut yen = c.statement.clone();
    yen.currency = Currency::Jpy;
    let err = reconcile(&c.day.term, &yen, c.day.now).unwrap_err();
    assert_eq!(err.code(), "CURRENCY_MISMATCH");
    let mut other = c.statement.clone();
    // Two other merchants, the later one first: named sorted, each once.
    for (i, l) in other.lines.iter_mut().enumerate() {
        l.merchant_id = ["898440350489999", "898440350480002"][i % 2].into();
    }
    assert!(other.lines.len() >= 4);
    let err = reconcile(&c.day.term, &other, c.day.now).unwrap_err();
    assert_eq!(err.code(), "STATEMENT_NOT_FOR_TERMINAL");
    assert!(err.message(Locale::ZhCn).contains("898440350489999"));
    assert!(
        err.details()
            .contains(&("found", "898440350480002,898440350489999".to_owned())),
        "{:?}",
        err.details()
    );
}

// ----- reading statements ---------------------------------------------------

const HEADER: &str = "交易日期,交易时间,商户编号,终端编号,批次号,凭证号,参考号,授权码,卡号,交易类型,交易金额,手续费,清算状态";
const ROW: &str = "20261123,100100,898440350480001,10000001,000001,000001,000000000001,123456,622202*********3445,消费,100.00,0.38,已清算";

#[test]
fn csv_reads_bom_quotes_english_headers_extra_columns_and_negative_credits() {
    let text = "\u{feff}Date,TIME,merchant_id,terminal_id,batch_no,trace_no,rrn,auth_code,card_no,type,amount,fee,status,清算日期\r\n\
         2026-11-23,10:01:00,898440350480001,10000001,`000001,'000001,000000000001,,\"622202*********3445\",sale,\"1,000.00\",,settled,20261124\r\n\
         \r\n\
         20261123,100200,898440350480001,10000001,000001,000002,000000000002,654321,,退货,-30.00,-0.10,已退回,20261124\r\n"
        .to_owned();
    // "1,000.00" is quoted but still not a plain decimal: refused, naming
    // line 2's amount.
    let err = Statement::from_csv(&text, Currency::Cny).unwrap_err();
    assert_eq!(err.code(), "STATEMENT_MALFORMED");
    assert!(err.details().contains(&("line", "2".into())), "{err:?}");
    assert!(
        err.details().contains(&("field", "amount".into())),
        "{err:?}"
    );
    let text = text.replace("\"1,000.00\"", "\"1000.00\"");
    let st = Statement::from_csv(&text, Currency::Cny).unwrap();
    assert_eq!(st.lines.len(), 2);
    let (a, b) = (&st.lines[0], &st.lines[1]);
    assert_eq!(a.line, 2);
    assert_eq!(b.line, 4, "the blank line still counts");
    assert_eq!(a.amount.to_string(), "1000.00");
    assert_eq!(a.auth_code, None);
    assert_eq!(a.trace_no.to_string(), "000001");
    assert_eq!(b.kind, Kind::Refund);
    assert_eq!(b.amount.to_string(), "30.00");
    assert_eq!(b.fee.to_string(), "-0.10");
    assert_eq!(b.status, LineStatus::Returned);
    assert_eq!(b.card, None);
    assert_eq!(st.dates.len(), 1);
}

#[test]
fn malformed_csv_names_the_line_and_field() {
    let good = format!("{HEADER}\n{ROW}\n{ROW}\n");
    assert_eq!(
        Statement::from_csv(&good, Currency::Cny)
            .unwrap()
            .lines
            .len(),
        2
    );
    for (text, line, field, secret) in malformed_csv() {
        let err = Statement::from_csv(&text, Currency::Cny).unwrap_err();
        assert_eq!(err.code(), "STATEMENT_MALFORMED", "{text}");
        let details = err.details();
        assert!(
            details.contains(&("line", line.to_owned()))
                && details.contains(&("field", field.to_owned())),
            "expected line {line} field {field}, got {details:?}"
        );
        let zh = err.message(Locale::ZhCn);
        assert!(zh.contains(&format!("第 {line} 行")), "{zh}");
        if let Some(secret) = secret {
            assert!(!format!("{err} {details:?} {zh}").contains(secret));
        }
    }
}

/// Malformed CSV statements: (text, line, field, what `found` must not
/// contain).
fn malformed_csv() -> Vec<(String, &'static str, &'static str, Option<&'static str>)> {
    let row3 = |from: &str, to: &str| format!("{HEADER}\n{ROW}\n{}\n", ROW.replacen(from, to, 1));
    vec![
        (row3("100.00", "100.001"), "3", "amount", None),
        (row3("100.00", "-100.00"), "3", "amount", None),
        (row3("100.00", "1e2"), "3", "amount", None),
        (row3("20261123", "20261131"), "3", "date", None),
        (row3("100100", "256100"), "3", "time", None),
        (
            row3("898440350480001", "89844035048000"),
            "3",
            "merchant_id",
            None,
        ),
        (row3(",10000001,", ",1000001,"), "3", "terminal_id", None),
        (
            row3(",000001,000001,", ",000000,000001,"),
            "3",
            "batch_no",
            None,
        ),
        (
            row3(",000001,000000000001", ",1,000000000001"),
            "3",
            "trace_no",
            None,
        ),
        (row3("000000000001", "00000000001?"), "3", "rrn", None),
        (row3("123456", "12345"), "3", "auth_code", None),
        (
            row3("622202*********3445", "6222-0202-0011-2233-445"),
            "3",
            "card_no",
            Some("6222-0202"),
        ),
        (row3("消费", "刷卡"), "3", "type", None),
        (row3("0.38", "0.385"), "3", "fee", None),
        (row3("已清算", "成功了"), "3", "status", None),
        (
            format!("{HEADER}\n{ROW}\n{ROW},extra\n"),
            "3",
            "(extra field)",
            None,
        ),
        (
            format!("{HEADER}\n{ROW}\n20261123,100100,898440350480001\n"),
            "3",
            "终端编号",
            None,
        ),
        (
            format!("{HEADER}\n{ROW}\n{ROW},\"open\n"),
            "3",
            "field 14",
            None,
        ),
        (
            format!("{}\n{ROW}\n", HEADER.replace(",清算状态", "")),
            "1",
            "status",
            None,
        ),
        (format!("{HEADER},凭证号\n{ROW},1\n"), "1", "trace_no", None),
        (String::new(), "1", "header", None),
        (
            format!("{HEADER}\n{ROW}\n{}\n", ROW.replace("已清算", "已\"清算")),
            "3",
            "field 13",
            None,
        ),
    ]
}

#[test]
fn malformed_json_is_refused_whole() {
    let c = crafted();
    let good = c.statement.to_json();
    // Amounts are strings: a number is refused by the reader itself.
    let number = good.replacen("\"amount\": \"100.00\"", "\"amount\": 100.00", 1);
    assert_ne!(number, good);
    let err = Statement::from_json(&number).unwrap_err();
    assert_eq!(err.code(), "STATEMENT_MALFORMED");
    assert!(err.details().contains(&("line", "0".into())));
    assert!(err.details().contains(&("field", "json".into())));
    // A bad value names its entry and field.
    let mut raw: serde_json::Value = serde_json::from_str(&good).unwrap();
    raw["lines"][2]["traceNo"] = "12345".into();
    let err = Statement::from_json(&raw.to_string()).unwrap_err();
    assert!(err.details().contains(&("line", "3".into())), "{err:?}");
    assert!(err.details().contains(&("field", "traceNo".into())));
    let mut raw: serde_json::Value = serde_json::from_str(&good).unwrap();
    raw["lines"][0]["colour"] = "red".into();
    assert_eq!(
        Statement::from_json(&raw.to_string()).unwrap_err().code(),
        "STATEMENT_MALFORMED"
    );
    let mut raw: serde_json::Value = serde_json::from_str(&good).unwrap();
    raw["currency"] = "XYZ".into();
    let err = Statement::from_json(&raw.to_string()).unwrap_err();
    assert!(err.details().contains(&("field", "currency".into())));
    // The structure: a required field missing, a field twice, a field
    // unknown, each says what and where.
    let found = |text: &str| {
        let err = Statement::from_json(text).unwrap_err();
        assert_eq!(err.code(), "STATEMENT_MALFORMED", "{text}");
        assert!(err.details().contains(&("field", "json".into())), "{err:?}");
        err.details()
            .into_iter()
            .find(|(k, _)| *k == "found")
            .unwrap()
            .1
    };
    let mut raw: serde_json::Value = serde_json::from_str(&good).unwrap();
    raw["lines"][1].as_object_mut().unwrap().remove("amount");
    let text = found(&raw.to_string());
    assert!(
        text.starts_with("missing field `amount` at line 1"),
        "{text}"
    );
    let twice = good.replacen(
        "\"currency\": \"CNY\"",
        "\"currency\": \"CNY\", \"currency\": \"CNY\"",
        1,
    );
    assert_ne!(twice, good);
    assert!(found(&twice).starts_with("duplicate field `currency`"));
    let mut raw: serde_json::Value = serde_json::from_str(&good).unwrap();
    raw["colour"] = "red".into();
    assert!(found(&raw.to_string()).starts_with("unknown field `colour`"));
    assert!(found(&format!("{good} []")).starts_with("trailing characters"));
}

#[test]
fn json_lines_may_leave_out_rrn_auth_code_card_and_fee_and_use_escapes() {
    let c = crafted();
    let mut raw: serde_json::Value = serde_json::from_str(&c.statement.to_json()).unwrap();
    let first = raw["lines"][0].as_object_mut().unwrap();
    for field in ["rrn", "authCode", "card", "fee"] {
        first.remove(field);
    }
    raw.as_object_mut().unwrap().remove("dates");
    // serde_json writes `\u` escapes only for control characters: write
    // the terminal id's first digit as one by hand.
    let tid = raw["lines"][0]["terminalId"].as_str().unwrap().to_owned();
    let text = raw.to_string().replacen(
        &format!("\"terminalId\":\"{tid}\""),
        &format!(
            "\"terminalId\":\"\\u{:04x}{}\"",
            u32::from(tid.as_bytes()[0]),
            &tid[1..]
        ),
        1,
    );
    assert!(text.contains("\\u00"), "{text}");
    let statement = Statement::from_json(&text).unwrap();
    let line = &statement.lines[0];
    assert_eq!(
        (line.rrn.as_deref(), line.auth_code.as_deref()),
        (None, None)
    );
    assert_eq!(line.terminal_id, tid);
    assert_eq!(statement.lines[1..], c.statement.lines[1..]);
}

// ----- the simulated acquirer after a day with faults -----------------------

#[test]
fn a_day_with_faults_reconciles_with_the_simulated_acquirer_to_nothing_unexplained() {
    let mut d = Day::new(2026);
    let mut refunds = Vec::new();
    for (round, fault) in [
        Fault::Timeout,
        Fault::LostReply,
        Fault::DuplicateReply,
        Fault::LateReply,
        Fault::TransportError,
        Fault::Decline("05".into()),
    ]
    .into_iter()
    .enumerate()
    {
        let a = d.sale(&format!("{}.00", 100 + round));
        let b = d.sale_with(&format!("{}.50", 20 + round), FOREIGN_PAN);
        d.flush();
        d.fault(fault);
        d.sale(&format!("{}.88", 50 + round)); // hit by the fault
        d.flush();
        d.void(b);
        refunds.push(d.refund(a, "10.00", "部分退货"));
        d.sale_with("9.99", "6222020200110051"); // declined 51
        d.sale_with("8.88", "6222020200110096"); // 96: unknown, reversed
        d.flush();
        let p = d.pre_auth("300.00");
        let comp = d.complete(p, "320.00", round % 2 == 0);
        if round % 2 == 1 {
            d.void(comp);
        }
        let q = d.pre_auth("40.00");
        d.cancel(q);
        d.flush();
        if round == 2 {
            // End of the first day: settle, and sell again the next.
            d.settle().unwrap();
            d.next_day(1);
        }
    }
    d.settle().unwrap();
    // The faults did their work: reversals (timeout, lost, late, transport
    // error, and six 96s), a declined 05, a late reply logged.
    let count = |s: Status| {
        d.term
            .transactions()
            .filter(|t| d.status(t.id) == s)
            .count()
    };
    assert_eq!(count(Status::Reversed), 4 + 6);
    assert_eq!(count(Status::Declined), 1 + 6);
    assert!(d
        .term
        .journal()
        .entries()
        .iter()
        .any(|e| e.record.type_name() == "late_reply"));
    assert_eq!(d.term.closed_batches().len(), 2);
    assert!(d.term.closed_batches().iter().all(|c| c.balanced));
    d.term.check_invariants(d.now).unwrap();

    let statement = ledger_statement(&d);
    assert_eq!(statement.dates.len(), 2);
    for st in [
        statement.clone(),
        Statement::from_json(&statement.to_json()).unwrap(),
        Statement::from_csv(&statement.to_csv(), Currency::Cny).unwrap(),
    ] {
        let report = reconcile(&d.term, &st, d.now).unwrap();
        let unexplained: Vec<_> = report
            .items
            .iter()
            .filter(|i| i.category.is_unexplained())
            .collect();
        assert!(unexplained.is_empty(), "{unexplained:#?}");
        assert!(report.summary.balanced);
        assert_eq!(report.credited, refunds);
        assert!(report.returned.is_empty());
        assert_eq!(report.summary.terminal_net, report.summary.acquirer_net);
        // Every approved record found its line.
        for t in d.term.transactions() {
            let approved = matches!(t.state, posflow_core::terminal::TxnState::Approved { .. });
            let item = report.items.iter().find(|i| i.txn == Some(t.id));
            if approved {
                let item = item.unwrap_or_else(|| panic!("{} has no item", t.id));
                assert!(item.line.is_some() && item.acquirer_amount == Some(t.request.amount));
            }
        }
        // The terminal's totals of both batches add up to the net.
        let mut net = posflow_core::totals::SignedMoney::zero(Currency::Cny);
        for c in d.term.closed_batches() {
            let totals = BatchTotals::compute(&d.term, c.batch_no).unwrap();
            net = net.add_signed(totals.all.net).unwrap();
        }
        assert_eq!(net, report.summary.terminal_net);
    }
}

// ----- in steps -------------------------------------------------------------

/// Budgets for the stepwise paths: one record or line a step, a few, and
/// everything at once.
const BUDGETS: [usize; 5] = [1, 2, 7, 100, usize::MAX];

/// [`CsvStatementReader`] stepped at `budget` to the end: what it gave, and
/// in how many steps.
fn read_csv_in_steps(text: &str, budget: usize) -> (Result<Statement, PosError>, usize) {
    let mut reader = CsvStatementReader::new(text, Currency::Cny);
    for steps in 1.. {
        match reader.step(budget) {
            Ok(None) => {}
            Ok(Some(statement)) => return (Ok(statement), steps),
            Err(e) => return (Err(e), steps),
        }
    }
    unreachable!()
}

/// [`Reconciler`] stepped at `budget` to the end: what it gave, and in how
/// many steps.
fn reconcile_in_steps(
    term: &Terminal,
    st: &Statement,
    now: Timestamp,
    budget: usize,
) -> (Result<ReconReport, PosError>, usize) {
    let mut reconciler = Reconciler::new(st, now);
    for steps in 1.. {
        match reconciler.step(term, budget) {
            Ok(None) => {}
            Ok(Some(report)) => return (Ok(report), steps),
            Err(e) => return (Err(e), steps),
        }
    }
    unreachable!()
}

#[test]
fn reconciling_in_steps_gives_the_one_shot_report_at_any_budget() {
    let c = crafted();
    let faults = busy_day();
    let (big, postings) = synthetic_day(3_000, 100);
    let big_statement =
        statement_from_ledger(&postings, "898440350480001", Currency::Cny, 480).unwrap();
    let mut yen = c.statement.clone();
    yen.currency = Currency::Jpy;
    let mut other = c.statement.clone();
    for l in &mut other.lines {
        l.merchant_id = "898440350489999".into();
    }
    // In no order: the indexes are sorted in runs and merged, in steps.
    let shuffled = |st: &Statement| {
        let mut st = st.clone();
        let n = st.lines.len();
        for i in 0..n {
            st.lines.swap(i, (i * 7_919 + 13) % n);
        }
        st
    };
    // Booked under another batch (matched by trace and date), and under
    // other trace numbers too (by RRN): those indexes sorted in steps.
    let elsewhere = |st: &Statement, traces: bool| {
        let mut st = shuffled(st);
        for (i, l) in st.lines.iter_mut().enumerate() {
            l.batch_no = posflow_core::host::BatchNo::new(999_999).unwrap();
            if traces {
                l.trace_no = posflow_core::host::TraceNo::new(1 + i as u32 % 7).unwrap();
            }
        }
        st
    };
    let cases = [
        (&c.day.term, c.statement.clone(), c.day.now),
        (&c.day.term, shuffled(&c.statement), c.day.now),
        (&big, shuffled(&big_statement), Timestamp(0)),
        (&big, elsewhere(&big_statement, false), Timestamp(0)),
        (&big, elsewhere(&big_statement, true), Timestamp(0)),
        (
            &c.day.term,
            Statement::from_csv(&c.statement.to_csv(), Currency::Cny).unwrap(),
            c.day.now,
        ),
        (&faults.term, ledger_statement(&faults), faults.now),
        (&faults.term, Statement::new(Currency::Cny), faults.now),
        (&big, big_statement.clone(), Timestamp(0)),
        (&c.day.term, yen, c.day.now),
        (&c.day.term, other, c.day.now),
    ];
    for (term, st, now) in &cases {
        let one_shot = reconcile(term, st, *now);
        for budget in BUDGETS {
            let (stepped, steps) = reconcile_in_steps(term, st, *now, budget);
            assert_eq!(stepped, one_shot, "budget {budget}");
            if budget == 1 && one_shot.is_ok() && !st.lines.is_empty() {
                assert!(steps > st.lines.len() / 8, "{steps} steps");
            }
        }
    }
    // Those statements did need the other indexes.
    let by = |st: &Statement, by: MatchedBy| {
        let report = reconcile(&big, st, Timestamp(0)).unwrap();
        report
            .items
            .iter()
            .filter(|i| i.matched_by == Some(by))
            .count()
    };
    assert!(by(&elsewhere(&big_statement, false), MatchedBy::TraceAndDate) > 2_000);
    assert!(by(&elsewhere(&big_statement, true), MatchedBy::Rrn) > 2_000);
}

#[test]
fn reading_csv_in_steps_gives_the_one_shot_statement_or_error_at_any_budget() {
    let c = crafted();
    let (_, postings) = synthetic_day(500, 50);
    let big = statement_from_ledger(&postings, "898440350480001", Currency::Cny, 480).unwrap();
    let good = big.to_csv();
    // A bad value early and a break of the CSV rules late: the break is
    // reported, whichever step reaches it.
    let bad_then_broken = {
        let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
        lines[3] = lines[3].replacen(",sale,", ",刷卡,", 1);
        let last = lines.len() - 1;
        lines[last].push_str(",\"open");
        lines.join("\n") + "\n"
    };
    let mut texts = vec![
        c.statement.to_csv(),
        format!("\u{feff}{}", c.statement.to_csv()),
        good,
        bad_then_broken,
        HEADER.to_owned(),
    ];
    texts.extend(malformed_csv().into_iter().map(|(text, ..)| text));
    for text in &texts {
        let one_shot = Statement::from_csv(text, Currency::Cny);
        for budget in BUDGETS {
            let (stepped, steps) = read_csv_in_steps(text, budget);
            assert_eq!(stepped, one_shot, "budget {budget}: {text:.200}");
            if budget == 1 {
                assert!(steps >= text.lines().count().min(2), "{steps} steps");
            }
        }
    }
}

// ----- scale ------------------------------------------------------------------

#[test]
fn a_100000_line_statement_reconciles_in_linear_time() {
    let (term, postings) = synthetic_day(100_000, 1_000);
    let st = statement_from_ledger(&postings, "898440350480001", Currency::Cny, 480).unwrap();
    assert_eq!(st.lines.len(), 100_000);
    let csv = st.to_csv();
    let started = Instant::now();
    let read = Statement::from_csv(&csv, Currency::Cny).unwrap();
    let report = reconcile(&term, &read, Timestamp(0)).unwrap();
    let took = started.elapsed();
    println!("read and reconciled 100,000 lines in {took:?}");
    assert_eq!(report.total(Category::Matched).count, 99_900);
    assert_eq!(report.total(Category::ReturnedOrReversed).count, 100);
    assert_eq!(report.summary.unexplained, 100);
    // Generous for a shared, slow machine and debug builds; a quadratic
    // match (10^10 comparisons) would take minutes.
    assert!(took.as_secs() < 30, "took {took:?}");
}

// ----- codes ------------------------------------------------------------------

#[test]
fn every_settlement_code_is_reached_with_messages_and_details() {
    let c = crafted();
    let mut seen = Vec::new();
    let errors = [
        Statement::from_csv("", Currency::Cny).unwrap_err(),
        {
            let mut other = c.statement.clone();
            for l in &mut other.lines {
                l.merchant_id = "898440350489999".into();
            }
            reconcile(&c.day.term, &other, c.day.now).unwrap_err()
        },
        Receipt::new(
            &c.day.term,
            c.ids["declined_here"],
            &ReceiptOptions::new("店", ReceiptCopy::Merchant, Width::Cols32),
        )
        .unwrap_err(),
        SettlementReport::new(
            &c.day.term,
            posflow_core::host::BatchNo::new(7).unwrap(),
            c.day.now,
        )
        .unwrap_err(),
    ];
    for err in errors {
        assert!(!err.message(Locale::ZhCn).is_empty());
        assert!(!err.message(Locale::En).is_empty());
        assert!(!err.details().is_empty(), "{err:?}");
        seen.push(err.code());
    }
    assert_eq!(seen, PosError::SETTLEMENT_CODES);
    for code in PosError::SETTLEMENT_CODES {
        assert!(!PosError::ALL_CODES.contains(&code));
    }
}
