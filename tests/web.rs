//! What crosses the JS boundary, headless in Chromium: every method of the
//! contract that exists, bad input as `PosError`s that change nothing,
//! events, and the reversal going out first.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use posflow::Terminal;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn memory() -> (Terminal, JsValue) {
    let host = recording_host(sim());
    let term = open(r#"{ kind: "memory" }"#, &host).await;
    sign_in(&term).await;
    (term, host)
}

#[wasm_bindgen_test]
async fn a_sale_crosses_as_strings_and_comes_back_approved() {
    let (term, _) = memory().await;
    let r = sale(&term, "88.8", "k1").await.expect("approved");
    assert_eq!(text(&r, "state"), "approved");
    assert_eq!(text(&r, "kind"), "sale");
    assert_eq!(text(&r, "amount"), "88.80");
    assert_eq!(text(&r, "currency"), "CNY");
    assert_eq!(text(&r, "traceNo"), "000001");
    assert_eq!(text(&r, "batchNo"), "000001");
    assert_eq!(text(&r, "maskedPan"), "622202*********3445");
    assert_eq!(text(&r, "refundable"), "88.80");
    assert_eq!(text(&r, "rrn").len(), 12);
    assert_eq!(text(&r, "authCode").len(), 6);
    assert!(!term
        .export_journal()
        .unwrap()
        .contains("6222020200112233445"));
    // The same key and parameters: the recorded outcome, nothing sent.
    let again = sale(&term, "88.8", "k1").await.expect("replayed");
    assert_eq!(text(&again, "id"), text(&r, "id"));
}

/// Every method of the contract, in the order a shift uses them.
#[wasm_bindgen_test]
async fn every_method_of_the_contract() {
    let (term, host) = memory().await;
    assert!(!term.read_only());
    let events = js_sys::Array::new();
    let sink = events.clone();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        sink.push(&e);
    });
    let listener: js_sys::Function = listener.into_js_value().unchecked_into();
    term.on("event", listener.clone()).unwrap();

    let a = sale(&term, "100.00", "s1").await.unwrap();
    let voided = wait(term.void(js(&format!(
        r#"{{ original: {{ traceNo: "{}" }}, approval: {{ operatorId: "90", pin: "246810" }}, key: "v1" }}"#,
        text(&a, "traceNo")
    ))))
    .await
    .expect("void");
    assert_eq!(text(&voided, "kind"), "void");
    assert_eq!(text(&voided, "state"), "approved");

    let b = sale(&term, "50.00", "s2").await.unwrap();
    let refund = wait(term.refund(js(&format!(
        r#"{{ original: {{ rrn: "{}" }}, amount: "30.00", reason: "customer return",
             approval: {{ operatorId: "90", pin: "246810" }}, key: "r1" }}"#,
        text(&b, "rrn")
    ))))
    .await
    .expect("refund");
    assert_eq!(text(&refund, "amount"), "30.00");
    assert_eq!(text(&refund, "reason"), "customer return");
    assert_eq!(text(&refund, "originalId"), text(&b, "id"));

    let pre = wait(term.pre_auth(js(
        r#"{ amount: "200.00", card: { pan: "6222020200112233445" }, key: "p1" }"#,
    )))
    .await
    .expect("pre-auth");
    assert_eq!(text(&pre, "kind"), "pre_auth");
    let done = wait(term.complete_pre_auth(js(&format!(
        r#"{{ original: {{ id: "{}" }}, amount: "210.00", key: "c1" }}"#,
        text(&pre, "id")
    ))))
    .await
    .expect("completion");
    assert_eq!(text(&done, "kind"), "completion");
    assert_eq!(text(&done, "state"), "approved");

    let pre2 = wait(term.pre_auth(js(
        r#"{ amount: "80.00", card: { pan: "6222020200112233445" }, key: "p2" }"#,
    )))
    .await
    .unwrap();
    let cancel = wait(term.cancel_pre_auth(js(&format!(
        r#"{{ original: {{ traceNo: "{}" }}, key: "x1" }}"#,
        text(&pre2, "traceNo")
    ))))
    .await
    .expect("cancel");
    assert_eq!(text(&cancel, "kind"), "pre_auth_cancel");

    let sales = js_sys::Array::from(&term.transactions(js(r#"{ kind: "sale" }"#)).unwrap());
    assert_eq!(sales.length(), 2);
    assert_eq!(text(&sales.get(0), "state"), "partially_refunded");
    assert_eq!(text(&sales.get(1), "state"), "voided");
    let voided_only = term.transactions(js(r#"{ state: "voided" }"#)).unwrap();
    assert_eq!(js_sys::Array::from(&voided_only).length(), 1);
    // A page of the newest, and one by id: the same records as the full list.
    let shown = |filter: &str| {
        js_sys::JSON::stringify(&term.transactions(js(filter)).unwrap())
            .unwrap()
            .as_string()
            .unwrap()
    };
    let all = js_sys::Array::from(&term.transactions(JsValue::UNDEFINED).unwrap());
    let first_two = js_sys::Array::of2(&all.get(0), &all.get(1));
    assert_eq!(
        shown("{ limit: 2 }"),
        js_sys::JSON::stringify(&first_two)
            .unwrap()
            .as_string()
            .unwrap()
    );
    let newest_sale = js_sys::Array::from(
        &term
            .transactions(js(r#"{ kind: "sale", limit: 1 }"#))
            .unwrap(),
    );
    assert_eq!(newest_sale.length(), 1);
    assert_eq!(text(&newest_sale.get(0), "id"), text(&sales.get(0), "id"));
    let sale_id = text(&sales.get(1), "id");
    let one = js_sys::Array::from(
        &term
            .transactions(js(&format!(r#"{{ id: "{sale_id}" }}"#)))
            .unwrap(),
    );
    assert_eq!(one.length(), 1);
    assert_eq!(text(&one.get(0), "state"), "voided");
    assert_eq!(
        shown(&format!(r#"{{ id: "{sale_id}", kind: "refund" }}"#)),
        "[]"
    );
    assert_eq!(shown(r#"{ id: "T09999999" }"#), "[]");
    let against = js_sys::Array::from(
        &term
            .transactions(js(&format!(r#"{{ original: "{sale_id}" }}"#)))
            .unwrap(),
    );
    assert_eq!(against.length(), 1);
    assert_eq!(text(&against.get(0), "kind"), "void");
    assert_eq!(text(&against.get(0), "originalId"), sale_id);
    // A search by trace number, RRN or amount: the indexes and the amount
    // give what filtering every record gives.
    let ids = |filter: &str| -> Vec<String> {
        js_sys::Array::from(&term.transactions(js(filter)).unwrap())
            .iter()
            .map(|r| text(&r, "id"))
            .collect()
    };
    let every = |pick: &dyn Fn(&JsValue) -> bool| -> Vec<String> {
        all.iter()
            .filter(|r| pick(r))
            .map(|r| text(&r, "id"))
            .collect()
    };
    let (b_trace, b_rrn) = (text(&b, "traceNo"), text(&b, "rrn"));
    assert_eq!(
        ids(&format!(r#"{{ traceNo: "{b_trace}" }}"#)),
        [text(&b, "id")]
    );
    assert_eq!(ids(&format!(r#"{{ rrn: "{b_rrn}" }}"#)), [text(&b, "id")]);
    assert_eq!(
        ids(&format!(r#"{{ rrn: "{b_rrn}", kind: "refund" }}"#)),
        Vec::<String>::new()
    );
    assert_eq!(ids(r#"{ rrn: "000000000000" }"#), Vec::<String>::new());
    assert_eq!(ids(r#"{ amount: "50" }"#), [text(&b, "id")]);
    assert_eq!(ids(r#"{ amount: "30.0" }"#), [text(&refund, "id")]);
    let eighty = every(&|r| text(r, "amount") == "80.00");
    assert!(!eighty.is_empty());
    assert_eq!(ids(r#"{ amount: "80.00" }"#), eighty);
    assert_eq!(ids(r#"{ amount: "80.00", limit: 1 }"#), eighty[..1]);
    for bad in [
        r#"{ limit: 0 }"#,
        r#"{ limit: -1 }"#,
        r#"{ id: "42" }"#,
        r#"{ original: "T1" }"#,
        r#"{ traceNo: "12" }"#,
        r#"{ traceNo: 12 }"#,
        r#"{ rrn: "short" }"#,
    ] {
        let err = term.transactions(js(bad)).unwrap_err();
        assert_eq!(code(&err), "INVALID_INPUT", "{bad}");
    }
    for bad in [r#"{ amount: "abc" }"#, r#"{ amount: "1.234" }"#] {
        let err = term.transactions(js(bad)).unwrap_err();
        assert_eq!(code(&err), "INVALID_AMOUNT", "{bad}");
    }

    let report = wait(term.settle()).await.expect("settles");
    assert_eq!(text(&report, "batchNo"), "000001");
    assert_eq!(get(&report, "balanced"), JsValue::TRUE);
    assert_eq!(text(&report, "debitAmount"), "260.00");
    assert_eq!(text(&report, "creditAmount"), "30.00");

    // Events: plain objects, each durable record once, in order, with the
    // transaction's state where the record is about one.
    let types: Vec<String> = events.iter().map(|e| text(&e, "type")).collect();
    assert!(types.contains(&"requested".to_owned()), "{types:?}");
    assert!(types.contains(&"answered".to_owned()), "{types:?}");
    assert_eq!(types.last().map(String::as_str), Some("answered"));
    assert!(types.contains(&"settlement_sent".to_owned()), "{types:?}");
    let seqs: Vec<f64> = events
        .iter()
        .map(|e| get(&e, "seq").as_f64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1.0), "{seqs:?}");
    let with_txn = events
        .iter()
        .find(|e| text(e, "type") == "answered" && get(e, "transaction").is_object())
        .expect("an answer carries its transaction");
    assert!(get(&with_txn, "transaction").is_object());

    // off: no more events.
    term.off("event", listener).unwrap();
    let before = events.length();
    sale(&term, "1.00", "s3").await.unwrap();
    assert_eq!(events.length(), before);

    // Requests went out in command order.
    assert_eq!(
        log(&host),
        [
            "sale",
            "void",
            "sale",
            "refund",
            "pre_auth",
            "completion",
            "pre_auth",
            "pre_auth_cancel",
            "settlement",
            "sale"
        ]
    );

    // exportJournal → open({ journal }) gives the same terminal back.
    let journal = term.export_journal().unwrap();
    let config = config(r#"{ kind: "memory" }"#, &recording_host(sim()));
    js_sys::Reflect::set(&config, &"journal".into(), &journal.clone().into()).unwrap();
    let restored = Terminal::open(config)
        .await
        .expect("reopens from the export");
    assert_eq!(states(&restored), states(&term));
    assert!(restored
        .export_journal()
        .unwrap()
        .starts_with(&journal[..journal.len() - 200]));

    // close: commands refused, reads still answer.
    close(&term).await;
    let err = sale(&term, "1.00", "s4").await.unwrap_err();
    assert_eq!(code(&err), "TERMINAL_CLOSED");
    assert_eq!(states(&term).len(), 9);
}

#[wasm_bindgen_test]
async fn wrong_pins_lock_the_operator_and_say_so() {
    let host = recording_host(sim());
    let term = open(r#"{ kind: "memory" }"#, &host).await;
    let events = js_sys::Array::new();
    let sink = events.clone();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        sink.push(&e);
    });
    term.on("event", listener.into_js_value().unchecked_into())
        .unwrap();
    let mut codes = Vec::new();
    for _ in 0..6 {
        let err = wait(term.sign_in(js(r#"{ operatorId: "01", pin: "0000" }"#)))
            .await
            .unwrap_err();
        codes.push(code(&err));
    }
    assert_eq!(
        codes,
        [
            "WRONG_PIN",
            "WRONG_PIN",
            "WRONG_PIN",
            "WRONG_PIN",
            "OPERATOR_LOCKED",
            "OPERATOR_LOCKED"
        ]
    );
    let locked = events
        .iter()
        .find(|e| text(e, "type") == "operator_locked")
        .expect("a lock event");
    assert_eq!(text(&locked, "operator_id"), "01");
}

#[wasm_bindgen_test]
async fn a_timeout_is_in_doubt_and_the_reversal_goes_first() {
    let sim = sim();
    sim.inject(js(r#"{ next: "timeout" }"#)).unwrap();
    let host = recording_host(sim);
    let term = open(r#"{ kind: "memory" }"#, &host).await;
    sign_in(&term).await;
    let first = sale(&term, "10.00", "a").await.unwrap();
    assert_eq!(text(&first, "state"), "in_doubt");
    let second = sale(&term, "20.00", "b").await.unwrap();
    assert_eq!(text(&second, "state"), "approved");
    assert_eq!(
        states(&term),
        [
            ("sale".to_owned(), "approved".to_owned()),
            ("sale".to_owned(), "reversed".to_owned())
        ]
    );
    assert_eq!(log(&host), ["sale", "reversal", "sale"]);
}

/// A memory terminal on `host` that waits 1 s for a reply, not 60.
async fn open_with_a_1s_host_timeout(host: &JsValue) -> Terminal {
    let config = config(r#"{ kind: "memory" }"#, host);
    let policy = get(&config, "policy");
    js_sys::Reflect::set(&policy, &"hostTimeoutMs".into(), &JsValue::from(1000)).unwrap();
    Terminal::open(config).await.unwrap()
}

#[wasm_bindgen_test]
async fn a_host_that_never_answers_times_out_in_doubt() {
    let host = hanging_host();
    let term = open_with_a_1s_host_timeout(&host).await;
    sign_in(&term).await;
    let r = sale(&term, "10.00", "a").await.unwrap();
    assert_eq!(text(&r, "state"), "in_doubt");
}

/// One row per bad input: the method, the input (a JS expression), and the
/// code. Each leaves the journal exactly as it was.
const BAD_INPUTS: &[(&str, &str, &str)] = &[
    (
        "sale",
        r#"{ amount: 88.8, card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: 100, card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: NaN, card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: Infinity, card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: 10n, card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: null, card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: undefined, card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: ["1.00"], card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: { toString() { return "1.00"; } }, card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: "10.001", card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_AMOUNT",
    ),
    (
        "sale",
        r#"{ amount: "NaN", card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_AMOUNT",
    ),
    (
        "sale",
        r#"{ amount: "-1.00", card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_AMOUNT",
    ),
    (
        "sale",
        r#"{ amount: "1e3", card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_AMOUNT",
    ),
    (
        "sale",
        r#"{ amount: "", card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_AMOUNT",
    ),
    (
        "sale",
        r#"{ amount: "0.00", card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_AMOUNT",
    ),
    (
        "sale",
        r#"{ amount: " 1.00", card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_AMOUNT",
    ),
    (
        "sale",
        r#"{ amount: "1,000.00", card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_AMOUNT",
    ),
    (
        "sale",
        r#"{ amount: "1".repeat(300), card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: "1.00", card: { pan: "6222020200112233445" } }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: "1.00", card: { pan: "6222020200112233445" }, key: "k", tip: "1" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: "1.00", card: { pan: "6222020200112233445", cvv: "123" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: "1.00", card: { pan: "6222020200112233445", qr: "2812345678901234" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: "1.00", card: {}, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: "1.00", card: { pan: "1234" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: "1.00", card: { pan: 6222020200112233445 }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: "1.00", card: { pan: "6222020200112233445" }, key: 7 }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: "1.00", card: { pan: "6222020200112233445" }, key: "k".repeat(257) }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ amount: "1.00", card: { pan: "6222020200112233445" }, key: "k".repeat(70000) }"#,
        "INVALID_INPUT",
    ),
    (
        "sale",
        r#"{ get amount() { throw new Error("getter"); }, card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    ("sale", "null", "INVALID_INPUT"),
    ("sale", "undefined", "INVALID_INPUT"),
    ("sale", r#""{}""#, "INVALID_INPUT"),
    ("sale", "[]", "INVALID_INPUT"),
    ("sale", "42", "INVALID_INPUT"),
    (
        "preAuth",
        r#"{ amount: 200.5, card: { pan: "6222020200112233445" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "preAuth",
        r#"{ amount: "200.50", card: { qr: "not a code" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    ("void", r#"{ original: {}, key: "k" }"#, "INVALID_INPUT"),
    (
        "void",
        r#"{ original: { traceNo: "000001", rrn: "123456789012" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "void",
        r#"{ original: { traceNo: "000000" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "void",
        r#"{ original: { traceNo: 1 }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "void",
        r#"{ original: { traceNo: "000001" }, approval: "90:246810", key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "void",
        r#"{ original: { traceNo: "000001" }, approval: [{ operatorId: "90", pin: "1" }, { operatorId: "91", pin: "2" }, { operatorId: "01", pin: "3" }], key: "k" }"#,
        "INVALID_INPUT",
    ),
    ("void", r#"{ key: "k" }"#, "INVALID_INPUT"),
    (
        "refund",
        r#"{ original: { rrn: "short" }, amount: "1.00", reason: "r", key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "refund",
        r#"{ original: { id: "X1" }, amount: "1.00", reason: "r", key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "refund",
        r#"{ original: { traceNo: "000001" }, amount: 1.5, reason: "r", key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "refund",
        r#"{ original: { traceNo: "000001" }, amount: "1.00", key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "refund",
        r#"{ original: { traceNo: "000001" }, amount: "1.00", reason: "r".repeat(1000), key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "refund",
        r#"{ original: { traceNo: "000001" }, amount: "1.00", reason: "r", approval: { operatorId: "90" }, key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "completePreAuth",
        r#"{ original: { traceNo: "000001" }, amount: "1.00", advice: "yes", key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "completePreAuth",
        r#"{ original: { traceNo: "000001" }, amount: "abc", key: "k" }"#,
        "INVALID_AMOUNT",
    ),
    (
        "cancelPreAuth",
        r#"{ original: { traceNo: "000001" }, amount: "1.00", key: "k" }"#,
        "INVALID_INPUT",
    ),
    (
        "signIn",
        r#"{ operatorId: "01", pin: 1234 }"#,
        "INVALID_INPUT",
    ),
    ("signIn", r#"{ pin: "1234" }"#, "INVALID_INPUT"),
    (
        "signIn",
        r#"{ operatorId: "77", pin: "1234" }"#,
        "UNKNOWN_OPERATOR",
    ),
    ("transactions", r#"{ state: "bogus" }"#, "INVALID_INPUT"),
    ("transactions", r#"{ kind: 5 }"#, "INVALID_INPUT"),
    ("transactions", r#"{ page: 5 }"#, "INVALID_INPUT"),
    ("transactions", r#"{ limit: 0 }"#, "INVALID_INPUT"),
    ("transactions", r#"{ id: "T1" }"#, "INVALID_INPUT"),
    ("transactions", "null", "INVALID_INPUT"),
    ("on", r#""click""#, "INVALID_INPUT"),
];

async fn call(term: &Terminal, method: &str, input: JsValue) -> Result<JsValue, JsValue> {
    match method {
        "sale" => wait(term.sale(input)).await,
        "preAuth" => wait(term.pre_auth(input)).await,
        "void" => wait(term.void(input)).await,
        "refund" => wait(term.refund(input)).await,
        "completePreAuth" => wait(term.complete_pre_auth(input)).await,
        "cancelPreAuth" => wait(term.cancel_pre_auth(input)).await,
        "signIn" => wait(term.sign_in(input)).await,
        "transactions" => term.transactions(input),
        "on" => term
            .on(&input.as_string().unwrap(), js("() => {}").unchecked_into())
            .map(|()| JsValue::UNDEFINED),
        other => panic!("no method {other}"),
    }
}

#[wasm_bindgen_test]
async fn bad_input_is_a_pos_error_and_changes_nothing() {
    assert!(BAD_INPUTS.len() >= 40);
    let (term, host) = memory().await;
    // Something to refer to, so original-based rows are about input alone.
    sale(&term, "100.00", "first").await.unwrap();
    let sent = log(&host).len();
    for (method, input, expected) in BAD_INPUTS {
        let before = term.export_journal().unwrap();
        let err = call(&term, method, js(input))
            .await
            .expect_err(&format!("{method}({input}) was accepted"));
        assert_eq!(code(&err), *expected, "{method}({input}): {err:?}");
        assert_eq!(
            term.export_journal().unwrap(),
            before,
            "{method}({input}) changed the journal"
        );
    }
    assert_eq!(log(&host).len(), sent, "bad input reached the host");
    // And the terminal still works.
    assert_eq!(
        text(&sale(&term, "1.00", "after").await.unwrap(), "state"),
        "approved"
    );
}

/// A refused input names the field at fault by its path, and what it found,
/// in `details`.
#[wasm_bindgen_test]
async fn bad_input_names_the_field_by_its_path() {
    let (term, _host) = memory().await;
    let voucher = r#"date: "2026-11-20", amount: "1.00", rrn: "000000000001", traceNo: "000001", batchNo: "000001""#;
    let no_card =
        format!(r#"{{ original: {{ voucher: {{ {voucher} }} }}, reason: "r", key: "k" }}"#);
    let numeric_code = format!(
        r#"{{ original: {{ voucher: {{ {voucher}, card: {{ qr: "x" }}, authCode: 1 }} }}, reason: "r", key: "k" }}"#
    );
    let void = |approval: &str| {
        format!(r#"{{ original: {{ traceNo: "000001" }}, approval: {approval}, key: "k" }}"#)
    };
    let one_and_a_bad_one = void(r#"[{ operatorId: "90", pin: "1" }, { operatorId: "91" }]"#);
    let role = void(r#"{ operatorId: "90", pin: "1", role: "admin" }"#);
    let numbers = void("[5]");
    let text_pin = void(r#"{ operatorId: "90", pin: 1234 }"#);
    let pair_of_strings = void(r#"["90", "246810"]"#);
    let approvals = |n: usize| {
        void(&format!(
            "[{}]",
            vec![r#"{ operatorId: "90", pin: "1" }"#; n].join(",")
        ))
    };
    let (three, many) = (approvals(3), approvals(65));
    let cases: &[(&str, &str, &str, &str)] = &[
        ("sale", "5", "sale", "a number (5)"),
        ("sale", "[]", "sale", "a list"),
        ("sale", "null", "sale", "null"),
        (
            "sale",
            r#"{ amount: 100.5, card: { qr: "x" }, key: "k" }"#,
            "amount",
            "a number (100.5)",
        ),
        (
            "sale",
            r#"{ amount: "1.00", card: { pan: 5 }, key: "k" }"#,
            "card.pan",
            "a number (5)",
        ),
        (
            "sale",
            r#"{ amount: "1.00", card: { pin: "1" }, key: "k" }"#,
            "card",
            "unknown field `pin`",
        ),
        (
            "sale",
            r#"{ amount: "1.00", card: "6222", key: "k" }"#,
            "card",
            r#"a string ("6222")"#,
        ),
        (
            "sale",
            r#"{ amount: "1.00", card: { qr: "x" }, key: null }"#,
            "key",
            "nothing",
        ),
        (
            "sale",
            r#"{ amount: "1.00", card: { qr: "x" } }"#,
            "key",
            "nothing",
        ),
        (
            "sale",
            r#"{ amount: "1.00", card: { qr: "x" }, key: "k", tip: 1 }"#,
            "sale",
            "unknown field `tip`",
        ),
        (
            "sale",
            r#"{ amount: "1.00", card: { qr: "x" }, key: () => "k" }"#,
            "key",
            "a function",
        ),
        (
            "sale",
            r#"{ amount: "1.00", card: { qr: "x".repeat(70000) }, key: "k" }"#,
            "card.qr",
            "a string of 70000 characters",
        ),
        (
            "sale",
            r#"Object.defineProperty({ amount: "1.00", card: { qr: "x" } }, "key", { get() { throw new Error("no") }, enumerable: true })"#,
            "sale",
            "a getter that throws",
        ),
        ("refund", &no_card, "original.voucher.card", "nothing"),
        (
            "refund",
            &numeric_code,
            "original.voucher.authCode",
            "a number (1)",
        ),
        ("void", &one_and_a_bad_one, "approval[1].pin", "nothing"),
        ("void", &role, "approval", "unknown field `role`"),
        ("void", &numbers, "approval[0]", "a number (5)"),
        ("void", &text_pin, "approval.pin", "a number (1234)"),
        (
            "void",
            &pair_of_strings,
            "approval[0]",
            r#"a string ("90")"#,
        ),
        ("void", &many, "approval", "a list"),
        ("void", &three, "approval", "more"),
        ("transactions", r#"{ limit: -1 }"#, "limit", "a number (-1)"),
        (
            "transactions",
            r#"{ limit: 1.5 }"#,
            "limit",
            "a number (1.5)",
        ),
        (
            "transactions",
            r#"{ limit: 4294967296 }"#,
            "limit",
            "a number (4294967296)",
        ),
        ("transactions", r#"{ from: NaN }"#, "from", "a number (NaN)"),
        (
            "transactions",
            r#"{ to: Infinity }"#,
            "to",
            "a number (Infinity)",
        ),
        ("transactions", r#"{ id: true }"#, "id", "a boolean (true)"),
    ];
    for (method, input, field, found) in cases {
        let err = call(&term, method, js(input))
            .await
            .expect_err(&format!("{method}({input}) was accepted"));
        assert_eq!(code(&err), "INVALID_INPUT", "{method}({input}): {err:?}");
        let details = get(&err, "details");
        assert_eq!(text(&details, "field"), *field, "{method}({input})");
        assert_eq!(text(&details, "found"), *found, "{method}({input})");
    }
}

/// What JSON would leave out is left out: a field that is `undefined`,
/// known or not, and `null` for an optional one, as absent; fields are
/// the object's own, in any order.
#[wasm_bindgen_test]
async fn input_is_read_as_json_would_see_it() {
    let (term, _host) = memory().await;
    let first = sale(&term, "5.00", "first").await.unwrap();
    let accepted = [
        r#"{ key: "a", card: { pan: "6222020200112233445", qr: undefined }, amount: "1.00", tip: undefined }"#,
        r#"{ amount: "1.00", card: { qr: null, pan: "6222020200112233445" }, key: "b" }"#,
        r#"Object.assign(Object.create({ tip: 1 }), { amount: "1.00", card: { pan: "6222020200112233445" }, key: "c" })"#,
    ];
    for input in accepted {
        let done = wait(term.sale(js(input))).await;
        assert_eq!(text(&done.expect(input), "state"), "approved", "{input}");
    }
    let page = term
        .transactions(js("{ limit: 2, from: null, kind: undefined }"))
        .unwrap();
    assert_eq!(js_sys::Array::from(&page).length(), 2);
    let by_id = term
        .transactions(js(&format!(r#"{{ id: "{}" }}"#, text(&first, "id"))))
        .unwrap();
    assert_eq!(js_sys::Array::from(&by_id).length(), 1);
}

#[wasm_bindgen_test]
async fn a_bad_open_config_is_a_pos_error() {
    let host = recording_host(sim());
    let cases = [
        (r#"{ storage: { kind: "cloud" } }"#, "INVALID_INPUT"),
        (r#"{ storage: { kind: "indexeddb" } }"#, "INVALID_INPUT"),
        (
            r#"{ storage: { kind: "memory", name: "x" } }"#,
            "INVALID_INPUT",
        ),
        (r#"{ currency: "XXX" }"#, "UNSUPPORTED_CURRENCY"),
        (r#"{ currency: 156 }"#, "INVALID_INPUT"),
        (r#"{ locale: "fr" }"#, "INVALID_INPUT"),
        (r#"{ colour: "red" }"#, "INVALID_INPUT"),
        (r#"{ policy: { hostTimeoutMs: "60000" } }"#, "INVALID_INPUT"),
        (
            r#"{ policy: { dualControlThreshold: 5000 } }"#,
            "INVALID_INPUT",
        ),
        (
            r#"{ operators: [{ id: "01", role: "boss", pin: "1234" }] }"#,
            "INVALID_INPUT",
        ),
        (r#"{ host: undefined }"#, "INVALID_INPUT"),
        (r#"{ now: 12 }"#, "INVALID_INPUT"),
        (r#"{ journal: "{not json" }"#, "JOURNAL_DAMAGED"),
    ];
    for (patch, expected) in cases {
        let err = refused_open(&host, patch).await;
        assert_eq!(code(&err), expected, "{patch}");
    }
    // Where the configuration is wrong, by its path.
    let cases = [
        (r#"{ storage: { kind: "indexeddb" } }"#, "storage"),
        (r#"{ storage: { kind: "memory", size: 1 } }"#, "storage"),
        (
            r#"{ operators: [{ id: "01", role: "cashier" }] }"#,
            "operators[0].pin",
        ),
        (r#"{ operators: "01" }"#, "operators"),
        (r#"{ merchantId: 898440350480001 }"#, "merchantId"),
        (
            r#"{ policy: { hostTimeoutMs: "60000" } }"#,
            "policy.hostTimeoutMs",
        ),
        (r#"{ policy: { colour: 1 } }"#, "policy"),
        (
            r#"{ policy: { dualControlThreshold: "lots" } }"#,
            "policy.dualControlThreshold",
        ),
        // Decimals as amounts are written: no exponent.
        (
            r#"{ policy: { completionTolerancePercent: "1.15e2" } }"#,
            "policy.completionTolerancePercent",
        ),
        (
            r#"{ policy: { holidays: ["2026-10-01", "2026-13-01"] } }"#,
            "policy.holidays[1]",
        ),
        (
            r#"{ policy: { fallbackRoutes: ["cash", "air"] } }"#,
            "policy.fallbackRoutes[1]",
        ),
        (
            r#"{ policy: { originalRouteForbidden: ["BankCard"] } }"#,
            "policy.originalRouteForbidden[0]",
        ),
        (
            r#"{ policy: { arrival: { cash: [0] } } }"#,
            "policy.arrival.cash",
        ),
        (
            r#"{ policy: { arrival: { cash: [0, -1] } } }"#,
            "policy.arrival.cash[1]",
        ),
        (
            r#"{ policy: { utcOffsetMinutes: 1.5 } }"#,
            "policy.utcOffsetMinutes",
        ),
        (
            r#"{ policy: { reversalAttempts: 9 } }"#,
            "policy.reversalAttempts",
        ),
    ];
    for (patch, field) in cases {
        let err = refused_open(&host, patch).await;
        assert_eq!(code(&err), "INVALID_INPUT", "{patch}");
        assert_eq!(text(&get(&err, "details"), "field"), field, "{patch}");
    }
}

/// The error of `Terminal.open` on the test config with `patch`'s fields
/// put over it (panics if it opens).
async fn refused_open(host: &JsValue, patch: &str) -> JsValue {
    let config = config(r#"{ kind: "memory" }"#, host);
    js_sys::Object::assign(
        config.unchecked_ref::<js_sys::Object>(),
        js(patch).unchecked_ref::<js_sys::Object>(),
    );
    Terminal::open(config)
        .await
        .err()
        .unwrap_or_else(|| panic!("{patch} was accepted"))
}

/// The terminal calls a bare `SimulatedAcquirer` directly, without the JS
/// round trip; any other host goes through `send`. Both give the same
/// outcomes for every fault, late replies included.
#[wasm_bindgen_test]
async fn the_simulator_called_directly_answers_as_through_send() {
    const FAULTS: &[&str] = &[
        r#"{ next: "timeout" }"#,
        r#"{ next: "lost_reply" }"#,
        r#"{ next: "duplicate_reply" }"#,
        r#"{ next: "decline", code: "51" }"#,
        r#"{ next: "transport_error" }"#,
        r#"{ next: "garbled_reply" }"#,
        r#"{ next: "late_reply", ms: 20 }"#,
        r#"{ next: "late_reply", ms: 1500 }"#,
        r#"{ next: "late_reply" }"#,
    ];
    let mut runs = Vec::new();
    for direct in [true, false] {
        let sim = sim();
        for fault in FAULTS {
            sim.inject(js(fault)).unwrap();
        }
        let sim = JsValue::from(sim);
        let host = if direct {
            sim.clone()
        } else {
            js_sys::Function::new_with_args("sim", "return { send: (r) => sim.send(r) };")
                .call1(&JsValue::NULL, &sim)
                .unwrap()
        };
        let term = open_with_a_1s_host_timeout(&host).await;
        if direct {
            // Linked at open: the instance's `send` is no longer asked.
            js_sys::Reflect::set(
                &sim,
                &"send".into(),
                &js_sys::Function::new_no_args("throw new Error('not called')"),
            )
            .unwrap();
        }
        sign_in(&term).await;
        let mut outcomes = Vec::new();
        for i in 0..FAULTS.len() + 1 {
            let r = sale(&term, &format!("{}.00", i + 1), &format!("k{i}")).await;
            outcomes.push(r.map(|r| text(&r, "state")).unwrap_or_else(|e| code(&e)));
        }
        let journal: Vec<String> = js_sys::JSON::parse(&term.export_journal().unwrap())
            .map(|j| js_sys::Array::from(&get(&j, "entries")))
            .unwrap()
            .iter()
            .map(|e| text(&get(&e, "record"), "type"))
            .collect();
        runs.push((outcomes, states(&term), journal));
    }
    assert_eq!(runs[0], runs[1]);
    let (outcomes, _, _) = &runs[0];
    // Reversals take faults too, so the sales see a mix: the point is
    // that both paths see the same one, with each kind of outcome in it.
    for state in ["in_doubt", "declined", "approved"] {
        assert!(
            outcomes.iter().any(|o| o == state),
            "{state} in {outcomes:?}"
        );
    }
}

/// A reply that cannot be read (here a response code padded with a space,
/// as a fixed-width field misread would give) is no reply: the sale the
/// host approved is in doubt, never declined, and its reversal goes out
/// before the next sale. The simulator's `garbled_reply` does the same.
#[wasm_bindgen_test]
async fn a_reply_that_cannot_be_read_leaves_the_sale_in_doubt_and_reversed() {
    let sim = JsValue::from(sim());
    let host = js_sys::Function::new_with_args(
        "sim",
        "const sent = [];
         return { sent, async send(r) {
           sent.push(r.message);
           const reply = await sim.send(r);
           return sent.length === 1 ? { ...reply, code: reply.code + ' ' } : reply;
         } };",
    )
    .call1(&JsValue::NULL, &sim)
    .unwrap();
    let term = open_with_a_1s_host_timeout(&host).await;
    sign_in(&term).await;
    let first = sale(&term, "10.00", "k1").await.unwrap();
    assert_eq!(text(&first, "state"), "in_doubt");
    let second = sale(&term, "20.00", "k2").await.unwrap();
    assert_eq!(text(&second, "state"), "approved");
    let sent: Vec<String> = js_sys::Array::from(&get(&host, "sent"))
        .iter()
        .filter_map(|m| m.as_string())
        .collect();
    assert_eq!(sent, ["sale", "reversal", "sale"]);
    let states = states(&term);
    assert!(
        states.contains(&("sale".into(), "reversed".into()))
            && states.contains(&("sale".into(), "approved".into())),
        "{states:?}"
    );
    // The acquirer took the first sale and gave it back.
    let reversed = js_sys::Function::new_with_args(
        "sim",
        "return sim.ledger().filter((p) => p.reversed).map((p) => p.amount.amount);",
    )
    .call1(&JsValue::NULL, &sim)
    .unwrap();
    assert_eq!(
        js_sys::JSON::stringify(&reversed)
            .map(String::from)
            .unwrap(),
        r#"["10.00"]"#
    );
}

/// One timer serves every deadline: after a quick reply leaves it armed
/// for the first request's deadline, a later request that hangs still
/// times out at its own deadline (the timer re-arms for it).
#[wasm_bindgen_test]
async fn a_hang_after_a_quick_reply_still_times_out() {
    let host = js_sys::Function::new_with_args(
        "sim",
        "return { n: 0, send(r) { return this.n++ === 0 ? sim.send(r) : new Promise(() => {}); } };",
    )
    .call1(&JsValue::NULL, &JsValue::from(sim()))
    .unwrap();
    let term = open_with_a_1s_host_timeout(&host).await;
    sign_in(&term).await;
    let first = sale(&term, "10.00", "a").await.unwrap();
    assert_eq!(text(&first, "state"), "approved");
    let started = js_sys::Date::now();
    let second = sale(&term, "20.00", "b").await.unwrap();
    assert_eq!(text(&second, "state"), "in_doubt");
    // Not before its own deadline.
    assert!(js_sys::Date::now() - started >= 990.0);
}

/// The simulator's options and faults are refused as the terminal's input
/// is: `INVALID_INPUT` naming the field.
#[wasm_bindgen_test]
fn bad_simulator_input_names_the_field() {
    for (options, field) in [
        (r#"{ seed: -1 }"#, "seed"),
        (r#"{ seed: 7, colour: "red" }"#, "options"),
        ("7", "options"),
    ] {
        let err = posflow::SimulatedAcquirer::new(js(options))
            .err()
            .unwrap_or_else(|| panic!("{options} was accepted"));
        assert_eq!(code(&err), "INVALID_INPUT", "{options}");
        assert_eq!(text(&get(&err, "details"), "field"), field, "{options}");
    }
    let host = sim();
    for (fault, field) in [
        (r#"{ next: "timeout", extra: 1 }"#, "fault"),
        (r#"{ next: 5 }"#, "next"),
        (r#"{ next: "late_reply", ms: -5 }"#, "ms"),
        (r#"{ next: "meteor" }"#, "fault.next"),
        (r#"{ rates: { timeout: "x" } }"#, "rates"),
        (r#"{ next: "timeout", rates: { timeout: 1 } }"#, "fault"),
    ] {
        let err = host
            .inject(js(fault))
            .err()
            .unwrap_or_else(|| panic!("{fault} was accepted"));
        assert_eq!(code(&err), "INVALID_INPUT", "{fault}");
        assert_eq!(text(&get(&err, "details"), "field"), field, "{fault}");
    }
    // The fault rates are a core type read by serde: not being an object
    // is said as for any other input object.
    for (fault, found) in [
        (r#"{ rates: 5 }"#, "a number (5)"),
        (r#"{ rates: [0.1] }"#, "a list"),
        (r#"{ rates: "timeout" }"#, r#"a string ("timeout")"#),
    ] {
        let err = host
            .inject(js(fault))
            .err()
            .unwrap_or_else(|| panic!("{fault} was accepted"));
        let details = get(&err, "details");
        assert_eq!(code(&err), "INVALID_INPUT", "{fault}");
        assert_eq!(text(&details, "field"), "rates", "{fault}");
        assert_eq!(text(&details, "expected"), "an object", "{fault}");
        assert_eq!(text(&details, "found"), found, "{fault}");
    }
    host.inject(js(r#"{ rates: { timeout: 10 } }"#)).unwrap();
    host.inject(js(r#"{ next: "late_reply", ms: 20, code: undefined }"#))
        .unwrap();
}

/// Policy overrides take effect, and what is not overridden keeps its
/// default.
#[wasm_bindgen_test]
async fn policy_overrides_take_effect() {
    let host = recording_host(sim());
    let config = config(r#"{ kind: "memory" }"#, &host);
    let policy = js(r#"({
        pinHashIterations: 1, maxTransactionAmount: "50.00", utcOffsetMinutes: 480,
        holidays: ["2026-10-01"], fallbackRoutes: ["cash"], originalRouteForbidden: ["qr_wallet"],
        arrival: { cash: [0, 1] }, cardClosedCodes: ["14"], completionTolerancePercent: "115"
    })"#);
    js_sys::Reflect::set(&config, &"policy".into(), &policy).unwrap();
    let term = Terminal::open(config).await.expect("opens");
    wait(term.sign_in(js(r#"{ operatorId: "01", pin: "1234" }"#)))
        .await
        .unwrap();
    let over = sale(&term, "60.00", "over")
        .await
        .expect_err("above the maximum");
    assert_eq!(code(&over), "INVALID_AMOUNT");
    let under = sale(&term, "50.00", "under").await.unwrap();
    assert_eq!(text(&under, "state"), "approved");
}
