//! Receipts (签购单): golden files of every voucher at both widths and both
//! copies, the settlement report, HTML; lines never overflow; no full PAN.
//!
//! Golden files live in `core/tests/golden/`. After an intended change of
//! layout, regenerate them with
//! `POSFLOW_BLESS=1 cargo test -p posflow-core --test receipts` and review
//! the diff.

mod common;
#[path = "common/day.rs"]
mod day;

use std::path::PathBuf;

use day::{Day, FOREIGN_PAN, PAN};
use posflow_core::acquirer::Fault;
use posflow_core::prelude::*;
use posflow_core::receipt::{
    display_width, settlement_printout, Receipt, ReceiptCopy, ReceiptOptions, Voucher, Width,
};
use posflow_core::totals::SettlementReport;

const MERCHANT: &str = "北京朝阳示例便利店";

/// Every voucher of a day, by golden-file name.
struct Vouchers {
    day: Day,
    cases: Vec<(&'static str, TxnId)>,
}

/// One day with every kind of record, a reversal and a settlement.
fn day_of_every_kind() -> Vouchers {
    let mut d = Day::new(7);
    let sale = d.sale("100.00");
    let foreign = d.sale_with("50.00", FOREIGN_PAN);
    let void = d.void(foreign);
    let bought = d.sale("200.00");
    let refund = d.refund(bought, "30.00", "顾客退货 customer return");
    let pre_auth = d.pre_auth("500.00");
    let completion = d.complete(pre_auth, "520.00", false);
    let completion_void = d.void(completion);
    let cancelled = d.pre_auth("300.00");
    let cancel = d.cancel(cancelled);
    let frozen = d.pre_auth("100.00");
    let advice = d.complete(frozen, "80.00", true);
    // Send the advice now, so the fault hits the next sale.
    d.flush();
    d.fault(Fault::Timeout);
    let reversed = d.sale("88.80");
    d.flush();
    assert_eq!(d.status(reversed), Status::Reversed);
    assert_eq!(d.status(completion_void), Status::Approved);
    Vouchers {
        cases: vec![
            ("sale", sale),
            ("void", void),
            ("refund", refund),
            ("pre_auth", pre_auth),
            ("completion", completion),
            ("completion_void", completion_void),
            ("pre_auth_cancel", cancel),
            ("completion_advice", advice),
            ("reversal", reversed),
        ],
        day: d,
    }
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compares `actual` with the golden file `name`, or writes it when
/// `POSFLOW_BLESS=1`. Returns the names that differ.
fn golden(name: &str, actual: &str, differ: &mut Vec<String>) {
    let path = golden_dir().join(name);
    if std::env::var("POSFLOW_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => differ.push(format!(
            "{name} differs\n--- expected ---\n{expected}\n--- actual ---\n{actual}"
        )),
        Err(_) => differ.push(format!(
            "{name} is missing; run with POSFLOW_BLESS=1 to create it"
        )),
    }
}

fn opts(copy: ReceiptCopy, width: Width) -> ReceiptOptions {
    ReceiptOptions::new(MERCHANT, copy, width)
}

fn text(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

fn assert_fits(lines: &[String], width: Width, what: &str) {
    for l in lines {
        assert!(
            display_width(l) <= width.columns(),
            "{what}: {} columns > {}: {l:?}",
            display_width(l),
            width.columns()
        );
        assert_eq!(l.trim_end(), l, "{what}: trailing spaces in {l:?}");
    }
}

const WIDTHS: [Width; 2] = [Width::Cols32, Width::Cols48];
const COPIES: [ReceiptCopy; 2] = [ReceiptCopy::Merchant, ReceiptCopy::Cardholder];

fn copy_name(copy: ReceiptCopy) -> &'static str {
    match copy {
        ReceiptCopy::Merchant => "merchant",
        ReceiptCopy::Cardholder => "cardholder",
    }
}

#[test]
fn golden_receipts_of_every_kind_at_both_widths_and_copies() {
    let v = day_of_every_kind();
    let mut differ = Vec::new();
    for (name, id) in &v.cases {
        for width in WIDTHS {
            for copy in COPIES {
                let o = opts(copy, width);
                let receipt = Receipt::new(&v.day.term, *id, &o).unwrap();
                let lines = receipt.printout().lines(width);
                assert_fits(&lines, width, name);
                let file = format!("{name}_{}_{}.txt", width.columns(), copy_name(copy));
                golden(&file, &text(&lines), &mut differ);
            }
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n\n"));
}

#[test]
fn each_voucher_names_its_type_in_both_languages() {
    let v = day_of_every_kind();
    let expected = [
        ("sale", "消费 SALE"),
        ("void", "消费撤销 VOID"),
        ("refund", "退货 REFUND"),
        ("pre_auth", "预授权 PRE-AUTH"),
        ("completion", "预授权完成 AUTH COMPLETE"),
        ("completion_void", "预授权完成撤销 COMPLETE VOID"),
        ("pre_auth_cancel", "预授权撤销 PRE-AUTH CANCEL"),
        ("completion_advice", "预授权完成（通知）"),
        ("reversal", "冲正 REVERSAL"),
    ];
    for ((name, id), (ename, label)) in v.cases.iter().zip(expected) {
        assert_eq!(*name, ename);
        let o = opts(ReceiptCopy::Merchant, Width::Cols48);
        let r = Receipt::new(&v.day.term, *id, &o).unwrap();
        let lines = r.printout().lines(Width::Cols48);
        assert!(
            lines.iter().any(|l| l.contains(label)),
            "{name}: no {label:?} in\n{}",
            lines.join("\n")
        );
        // Merchant copy: signature line; cardholder copy: none.
        assert!(lines.iter().any(|l| l.contains("持卡人签名")), "{name}");
        assert!(lines.iter().any(|l| l.contains("商户存根 MERCHANT COPY")));
        let holder = Receipt::new(
            &v.day.term,
            *id,
            &opts(ReceiptCopy::Cardholder, Width::Cols48),
        )
        .unwrap()
        .printout()
        .lines(Width::Cols48);
        assert!(!holder.iter().any(|l| l.contains("持卡人签名")), "{name}");
        assert!(holder
            .iter()
            .any(|l| l.contains("持卡人存根 CARDHOLDER COPY")));
    }
    let reversal = Receipt::new(
        &v.day.term,
        v.cases[8].1,
        &opts(ReceiptCopy::Merchant, Width::Cols32),
    )
    .unwrap();
    assert_eq!(reversal.voucher, Voucher::Reversal(Kind::Sale));
    assert_eq!(reversal.rrn, None);
    let refund = Receipt::new(
        &v.day.term,
        v.cases[2].1,
        &opts(ReceiptCopy::Merchant, Width::Cols32),
    )
    .unwrap();
    let details = refund.refund.as_ref().unwrap();
    assert_eq!(details.reason, "顾客退货 customer return");
    let route = details.route.as_ref().expect("the planner's route");
    assert_eq!(
        (route.zh.as_str(), route.en.as_str()),
        ("原路退回", "ORIGINAL ROUTE")
    );
    assert_eq!(
        refund.original.as_ref().unwrap().trace_no.to_string(),
        "000004"
    );
}

#[test]
fn reprints_say_so_and_credits_may_print_negative() {
    let v = day_of_every_kind();
    let mut differ = Vec::new();
    for (name, id) in [("refund", v.cases[2].1), ("void", v.cases[1].1)] {
        let o = ReceiptOptions {
            reprint: true,
            negative: true,
            ..opts(ReceiptCopy::Merchant, Width::Cols32)
        };
        let lines = Receipt::new(&v.day.term, id, &o)
            .unwrap()
            .printout()
            .lines(Width::Cols32);
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains("重打印 REPRINT"))
                .count(),
            2,
            "top and bottom"
        );
        assert!(lines.iter().any(|l| l.contains("CNY -")), "{name}");
        golden(
            &format!("{name}_32_merchant_reprint_negative.txt"),
            &text(&lines),
            &mut differ,
        );
    }
    // A sale never prints negative.
    let o = ReceiptOptions {
        negative: true,
        ..opts(ReceiptCopy::Merchant, Width::Cols32)
    };
    let sale = Receipt::new(&v.day.term, v.cases[0].1, &o).unwrap();
    assert_eq!(sale.amount_text(), "CNY 100.00");
    assert!(differ.is_empty(), "{}", differ.join("\n\n"));
}

#[test]
fn golden_settlement_report() {
    let mut v = day_of_every_kind();
    v.day.settle().unwrap();
    let batch = v.day.term.closed_batches()[0].batch_no;
    let report = SettlementReport::new(&v.day.term, batch, v.day.now).unwrap();
    let offset = v.day.term.config().policy.utc_offset_minutes;
    let mut differ = Vec::new();
    for width in WIDTHS {
        let lines =
            settlement_printout(&report, &opts(ReceiptCopy::Merchant, width), offset).lines(width);
        assert_fits(&lines, width, "settlement");
        golden(
            &format!("settlement_{}.txt", width.columns()),
            &text(&lines),
            &mut differ,
        );
    }
    assert!(differ.is_empty(), "{}", differ.join("\n\n"));
}

#[test]
fn golden_html_receipts() {
    let mut v = day_of_every_kind();
    let mut differ = Vec::new();
    for (name, index, width) in [("sale", 0, Width::Cols32), ("refund", 2, Width::Cols48)] {
        let o = opts(ReceiptCopy::Merchant, width);
        let html = Receipt::new(&v.day.term, v.cases[index].1, &o)
            .unwrap()
            .printout()
            .html(width);
        assert!(html.contains(&format!("@page {{ size: {}mm auto", width.paper_mm())));
        assert!(html.contains("@media print"));
        golden(
            &format!("{name}_{}mm.html", width.paper_mm()),
            &html,
            &mut differ,
        );
    }
    v.day.settle().unwrap();
    let report = SettlementReport::new(
        &v.day.term,
        v.day.term.closed_batches()[0].batch_no,
        v.day.now,
    )
    .unwrap();
    let html = settlement_printout(&report, &opts(ReceiptCopy::Merchant, Width::Cols48), 480)
        .html(Width::Cols48);
    golden("settlement_80mm.html", &html, &mut differ);
    assert!(differ.is_empty(), "{}", differ.join("\n\n"));
}

/// Merchant names and reasons that push every layout rule: CJK, full-width
/// letters, mixed scripts, one unbreakable word, quotes and HTML.
const AWKWARD: [&str; 6] = [
    "北京市朝阳区建国路八十八号现代城购物中心地下一层美食广场第十二号档口（连锁）有限公司",
    "ＦＵＬＬＷＩＤＴＨ　ＳＨＯＰ　全角商店名称特别特别长",
    "Supercalifragilisticexpialidociousandthensomemorelettersinoneword",
    "混合 mixed 文字 text “引号” <b>&amp;</b> 与 · 符号 — 破折号……",
    "a",
    "",
];

#[test]
fn no_line_overflows_with_long_cjk_names_and_reasons() {
    let mut d = Day::new(11);
    let mut ids = Vec::new();
    for (i, reason) in AWKWARD.iter().enumerate() {
        let sale = d.sale("999.99");
        ids.push(sale);
        // A reason is mandatory: the empty one becomes a single character.
        let reason = if reason.is_empty() { "x" } else { reason };
        ids.push(d.refund(sale, &format!("{}.00", i + 1), reason));
    }
    let pre = d.pre_auth("1000.00");
    ids.push(d.complete(pre, "1150.00", true));
    d.settle().unwrap();
    let report =
        SettlementReport::new(&d.term, d.term.closed_batches()[0].batch_no, d.now).unwrap();
    let mut rendered = 0;
    for name in AWKWARD {
        for width in WIDTHS {
            for copy in COPIES {
                for reprint in [false, true] {
                    let o = ReceiptOptions {
                        reprint,
                        negative: reprint,
                        ..ReceiptOptions::new(name, copy, width)
                    };
                    for id in &ids {
                        let lines = Receipt::new(&d.term, *id, &o)
                            .unwrap()
                            .printout()
                            .lines(width);
                        assert_fits(&lines, width, &format!("{id} with {name:?}"));
                        rendered += 1;
                    }
                    let lines = settlement_printout(&report, &o, 480).lines(width);
                    assert_fits(&lines, width, &format!("settlement with {name:?}"));
                }
            }
        }
    }
    assert_eq!(rendered, AWKWARD.len() * 2 * 2 * 2 * ids.len());
    // The long name is printed whole, across lines, not cut.
    let o = ReceiptOptions::new(AWKWARD[0], ReceiptCopy::Merchant, Width::Cols32);
    let joined: String = Receipt::new(&d.term, ids[0], &o)
        .unwrap()
        .printout()
        .lines(Width::Cols32)
        .iter()
        .map(|l| l.trim())
        .collect();
    assert!(joined.contains(AWKWARD[0]), "{joined}");
}

#[test]
fn no_full_pan_appears_on_any_receipt() {
    let mut d = Day::new(3);
    let sale = d.sale_with("10.00", PAN);
    let foreign = d.sale_with("20.00", FOREIGN_PAN);
    // A cashier types the card number into the reason, and the merchant's
    // name carries a long number too.
    let refund = d.refund(sale, "1.00", &format!("card {PAN} was damaged"));
    let name = format!("Shop {FOREIGN_PAN}");
    let mut outputs = Vec::new();
    for id in [sale, foreign, refund] {
        for width in WIDTHS {
            for copy in COPIES {
                let o = ReceiptOptions::new(&name, copy, width);
                let r = Receipt::new(&d.term, id, &o).unwrap();
                outputs.push(serde_json::to_string(&r).unwrap());
                outputs.push(r.printout().lines(width).join("\n"));
                outputs.push(r.printout().html(width));
            }
        }
    }
    d.settle().unwrap();
    let report =
        SettlementReport::new(&d.term, d.term.closed_batches()[0].batch_no, d.now).unwrap();
    let o = ReceiptOptions::new(&name, ReceiptCopy::Merchant, Width::Cols48);
    outputs.push(
        settlement_printout(&report, &o, 480)
            .lines(Width::Cols48)
            .join("\n"),
    );
    for out in &outputs {
        for pan in [PAN, FOREIGN_PAN] {
            assert!(!out.contains(pan), "full PAN in\n{out}");
        }
        // Nothing longer than an RRN (12) survives as a digit run, but for
        // the 15-digit merchant id.
        let longest = out
            .replace(&d.term.config().merchant_id, "")
            .split(|c: char| !c.is_ascii_digit())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest <= 12, "a {longest}-digit run in\n{out}");
    }
    assert!(outputs.iter().any(|o| o.contains("622202*********3445")));
    assert!(outputs.iter().any(|o| o.contains("411111******1111")));
}

#[test]
fn receipts_refuse_what_has_no_voucher() {
    let mut d = Day::new(5);
    let declined = d.sale_with("10.00", "6222020200110051");
    assert_eq!(d.status(declined), Status::Declined);
    d.fault(Fault::Timeout);
    let in_doubt = d.sale("10.00");
    assert_eq!(d.status(in_doubt), Status::InDoubt);
    let o = opts(ReceiptCopy::Merchant, Width::Cols32);
    for (id, status) in [
        (declined, "declined"),
        (in_doubt, "in_doubt"),
        (TxnId(9_999), "not_found"),
    ] {
        let err = Receipt::new(&d.term, id, &o).unwrap_err();
        assert_eq!(err.code(), "RECEIPT_NOT_AVAILABLE");
        assert!(
            err.details().contains(&("status", status.to_owned())),
            "{err:?}"
        );
        assert!(!err.message(Locale::ZhCn).is_empty());
    }
    assert_eq!(Width::from_columns(40).unwrap_err().code(), "INVALID_INPUT");
    assert_eq!(Width::from_columns(48).unwrap(), Width::Cols48);
}
