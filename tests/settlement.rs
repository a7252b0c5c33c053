//! End of day through the JS API, headless in Chromium: vouchers at both
//! widths and as HTML, a reconciliation against the simulated acquirer's
//! own statement (JSON object and CSV text), and one read in steps that
//! keeps its place among the commands.
#![cfg(target_arch = "wasm32")]

use posflow::{SimulatedAcquirer, Terminal};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

mod common;
use common::{get, json, text};

wasm_bindgen_test_configure!(run_in_browser);

/// A terminal and its host (as the JS object, to ask for its statement).
async fn open() -> (Terminal, JsValue) {
    let config = json(
        r#"{"merchantId":"898440350480001","terminalId":"10000001","currency":"CNY",
            "storage":{"kind":"memory"},"locale":"en",
            "policy":{"pinHashIterations":1000},
            "operators":[{"id":"01","role":"cashier","pin":"1234"},
                         {"id":"90","role":"supervisor","pin":"246810"}]}"#,
    );
    let host = JsValue::from(SimulatedAcquirer::new(json(r#"{"seed":11}"#)).unwrap());
    js_sys::Reflect::set(&config, &"host".into(), &host).unwrap();
    let term = Terminal::open(config).await.expect("opens");
    JsFuture::from(term.sign_in(json(r#"{"operatorId":"01","pin":"1234"}"#)))
        .await
        .expect("signs in");
    (term, host)
}

async fn sale_and_refund(term: &Terminal) -> (String, String) {
    let s = JsFuture::from(term.sale(json(
        r#"{"amount":"100.00","card":{"pan":"6222020200112233445"},"key":"s1"}"#,
    )))
    .await
    .expect("sale");
    let sale = text(&s, "id");
    let body = format!(
        r#"{{"original":{{"id":"{sale}"}},"amount":"30.00","reason":"顾客退货",
            "approval":{{"operatorId":"90","pin":"246810"}},"key":"r1"}}"#
    );
    let r = JsFuture::from(term.refund(json(&body)))
        .await
        .expect("refund");
    (sale, text(&r, "id"))
}

fn statement_of(host: &JsValue) -> JsValue {
    let f: js_sys::Function = get(host, "statement").dyn_into().unwrap();
    f.call1(host, &"10000001".into()).unwrap()
}

#[wasm_bindgen_test]
async fn a_refund_voucher_prints_at_both_widths_and_as_html() {
    let (term, _) = open().await;
    let (_, refund) = sale_and_refund(&term).await;
    for width in [32, 48] {
        let opts = json(&format!(
            r#"{{"width":{width},"merchantName":"posflow 测试商户"}}"#
        ));
        let lines = js_sys::Array::from(&term.receipt(refund.clone(), opts).unwrap());
        let lines: Vec<String> = lines.iter().map(|l| l.as_string().unwrap()).collect();
        let all = lines.join("\n");
        assert!(all.contains("退货") && all.contains("REFUND"), "{all}");
        assert!(all.contains("原路退回"), "the planner's route: {all}");
        assert!(all.contains("622202*********3445") || all.contains("622202"));
        assert!(!all.contains("6222020200112233445"));
        // Chinese characters take two columns; no line overflows.
        for line in &lines {
            let cols: usize = line
                .chars()
                .map(|c| if (c as u32) < 0x1100 { 1 } else { 2 })
                .sum();
            assert!(cols <= width, "{cols} > {width}: {line:?}");
        }
    }
    let html = term
        .receipt(refund, json(r#"{"format":"html","copy":"cardholder"}"#))
        .unwrap()
        .as_string()
        .unwrap();
    assert!(html.contains("@media print") && html.contains("持卡人存根"));
    let bad = term
        .receipt("T00000001".into(), json(r#"{"width":40}"#))
        .unwrap_err();
    assert_eq!(text(&bad, "code"), "INVALID_INPUT");
}

#[wasm_bindgen_test]
async fn the_acquirers_statement_reconciles_to_nothing_unexplained() {
    let (term, host) = open().await;
    sale_and_refund(&term).await;
    let report = JsFuture::from(term.reconcile(statement_of(&host)))
        .await
        .expect("report");
    let summary = get(&report, "summary");
    assert_eq!(
        get(&summary, "balanced").as_bool(),
        Some(true),
        "{:?}",
        js_sys::JSON::stringify(&summary)
    );
    assert_eq!(get(&summary, "unexplained").as_f64(), Some(0.0));
    // Ids cross as strings, like everywhere else.
    let credited = js_sys::Array::from(&get(&report, "credited"));
    assert!(credited.length() > 0, "the refund is confirmed credited");
    assert!(credited
        .iter()
        .all(|id| id.as_string().is_some_and(|s| s.starts_with('T'))));
    // Amounts are decimal strings in the report's currency; each finding's
    // next step is given once, in both languages, not on every item.
    assert_eq!(text(&report, "currency"), "CNY");
    let items = js_sys::Array::from(&get(&report, "items"));
    let next_steps = get(&report, "nextSteps");
    for item in items.iter() {
        assert!(text(&item, "txn").starts_with('T'));
        assert!(text(&item, "terminalAmount").contains('.'));
        assert!(get(&item, "nextStep").is_undefined());
        let step = get(&next_steps, &text(&item, "finding"));
        assert!(!text(&step, "zh").is_empty() && !text(&step, "en").is_empty());
    }
    let matched = get(
        &js_sys::Array::from(&get(&summary, "perCategory")).get(0),
        "terminalAmount",
    );
    assert_eq!(matched.as_string().as_deref(), Some("100.00"));
    assert!(get(&summary, "terminalNet").as_string().is_some());

    // The same statement as CSV text; and a malformed one names its line.
    let csv = "date,time,merchant_id,terminal_id,batch_no,trace_no,rrn,auth_code,card_no,type,amount,fee,status\n\
               20261120,100000,898440350480001,10000001,000001,000001,000000000001,123456,622202*********3445,sale,abc,0.00,settled\n";
    let err = JsFuture::from(term.reconcile(csv.into()))
        .await
        .unwrap_err();
    assert_eq!(text(&err, "code"), "STATEMENT_MALFORMED");
    assert!(js_sys::JSON::stringify(&get(&err, "details"))
        .unwrap()
        .as_string()
        .unwrap()
        .contains('2'));
}

#[wasm_bindgen_test]
async fn a_sale_called_after_a_long_reconcile_waits_for_its_match() {
    let (term, _) = open().await;
    let (sale, _) = sale_and_refund(&term).await;
    // The day of the sale, as the statement writes it (UTC+8).
    let at = get(
        &term
            .transactions(json(&format!(r#"{{"id":"{sale}"}}"#)))
            .unwrap(),
        "0",
    );
    let local = js_sys::Date::new(&JsValue::from(
        get(&at, "createdAt").as_f64().unwrap() + 8.0 * 3_600_000.0,
    ));
    let day = format!(
        "{:04}{:02}{:02}",
        local.get_utc_full_year(),
        local.get_utc_month() + 1,
        local.get_utc_date()
    );
    // 20,000 lines of the merchant's other terminal: read in many steps,
    // the page's turn between them.
    let mut csv = String::from(
        "date,time,merchant_id,terminal_id,batch_no,trace_no,rrn,auth_code,card_no,type,amount,fee,status\n",
    );
    for i in 0..20_000 {
        csv.push_str(&format!(
            "{day},100000,898440350480001,10000002,000001,{:06},,,,sale,1.00,,settled\n",
            1 + i
        ));
    }
    let reconciled = term.reconcile(csv.into());
    let later = term.sale(json(
        r#"{"amount":"5.00","card":{"pan":"6222020200112233445"},"key":"s2"}"#,
    ));
    let report = JsFuture::from(reconciled).await.expect("report");
    let later = JsFuture::from(later).await.expect("sale");
    let summary = get(&report, "summary");
    assert_eq!(get(&summary, "otherTerminalLines").as_f64(), Some(20_000.0));
    // The sale and refund before it are on this day and not on the
    // statement; the sale called after it was not there to be matched.
    let items = js_sys::Array::from(&get(&report, "items"));
    let txns: Vec<String> = items.iter().map(|i| text(&i, "txn")).collect();
    assert!(txns.contains(&sale), "{txns:?}");
    assert!(!txns.contains(&text(&later, "id")), "{txns:?}");
}

#[wasm_bindgen_test]
async fn a_backup_larger_than_command_input_restores() {
    let (term, _) = open().await;
    for i in 0..120 {
        let body = format!(
            r#"{{"amount":"{}.00","card":{{"pan":"6222020200112233445"}},"key":"b{i}"}}"#,
            1 + i
        );
        JsFuture::from(term.sale(json(&body))).await.expect("sale");
    }
    let backup = term.export_journal().unwrap();
    assert!(backup.len() > 64 * 1024, "{} bytes", backup.len());
    let config = json(
        r#"{"merchantId":"898440350480001","terminalId":"10000001","currency":"CNY",
            "storage":{"kind":"memory"},"locale":"en","policy":{"pinHashIterations":1000},
            "operators":[{"id":"01","role":"cashier","pin":"1234"}]}"#,
    );
    let host = JsValue::from(SimulatedAcquirer::new(json(r#"{"seed":11}"#)).unwrap());
    js_sys::Reflect::set(&config, &"host".into(), &host).unwrap();
    js_sys::Reflect::set(&config, &"journal".into(), &backup.clone().into()).unwrap();
    let restored = Terminal::open(config).await.expect("restores");
    let all = js_sys::Array::from(&restored.transactions(JsValue::UNDEFINED).unwrap());
    assert_eq!(all.length(), 120);
    assert_eq!(restored.export_journal().unwrap(), backup);
}
