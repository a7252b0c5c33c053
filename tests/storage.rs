//! Browser storage, headless in Chromium: the journal survives a close and
//! a reopen, a request in flight when the page went away is reversed first,
//! a second terminal on one journal is read-only, and a full storage refuses
//! a sale before anything is sent while reversals still go out.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use posflow::Terminal;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn indexeddb(name: &str) -> String {
    format!(r#"{{ kind: "indexeddb", name: "{name}" }}"#)
}

fn localstorage(key: &str) -> String {
    format!(r#"{{ kind: "localstorage", key: "{key}" }}"#)
}

async fn survives_a_reopen(storage: &str) {
    let term = open(storage, &recording_host(sim())).await;
    sign_in(&term).await;
    sale(&term, "12.34", "a").await.unwrap();
    sale(&term, "5.00", "b").await.unwrap();
    let journal = term.export_journal().unwrap();
    let before = states(&term);
    close(&term).await;

    let host = recording_host(sim());
    let again = open(storage, &host).await;
    assert!(!again.read_only());
    assert_eq!(states(&again), before);
    // Nothing was pending, so nothing was sent on open.
    assert!(log(&host).is_empty());
    // The reopened journal continues the stored one.
    let now = again.export_journal().unwrap();
    let stored: JsValue = js_sys::JSON::parse(&journal).unwrap();
    let reopened: JsValue = js_sys::JSON::parse(&now).unwrap();
    let n = js_sys::Array::from(&get(&stored, "entries")).length();
    let old = js_sys::Array::from(&get(&stored, "entries"));
    let new = js_sys::Array::from(&get(&reopened, "entries"));
    for i in 0..n {
        assert_eq!(
            text(&old.get(i), "hash"),
            text(&new.get(i), "hash"),
            "entry {i}"
        );
    }
    // And it goes on: the idempotency key still finds the stored sale.
    sign_in(&again).await;
    let replay = sale(&again, "12.34", "a").await.unwrap();
    assert_eq!(text(&replay, "traceNo"), "000001");
    assert!(log(&host).is_empty());
}

#[wasm_bindgen_test]
async fn indexeddb_keeps_the_journal_across_close_and_reopen() {
    survives_a_reopen(&indexeddb(&unique("idb"))).await;
}

#[wasm_bindgen_test]
async fn localstorage_keeps_the_journal_across_close_and_reopen() {
    survives_a_reopen(&localstorage(&unique("ls"))).await;
}

/// A promise that resolves with the first event of `kind`.
fn first_event(term: &Terminal, kind: &'static str) -> js_sys::Promise {
    let mut resolve_slot = None;
    let promise = js_sys::Promise::new(&mut |resolve, _| resolve_slot = Some(resolve));
    let resolve = resolve_slot.unwrap();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        if text(&e, "type") == kind {
            let _ = resolve.call1(&JsValue::NULL, &e);
        }
    });
    term.on("event", listener.into_js_value().unchecked_into())
        .unwrap();
    promise
}

#[wasm_bindgen_test]
async fn a_request_in_flight_when_the_page_goes_is_reversed_first_on_reopen() {
    let storage = indexeddb(&unique("inflight"));
    let hanging = hanging_host();
    let term = open(&storage, &hanging).await;
    sign_in(&term).await;
    let requested = first_event(&term, "requested");
    // Never settles: the host hangs and the page goes away.
    let _in_flight = term.sale(js(
        r#"{ amount: "66.00", card: { pan: "6222020200112233445" }, key: "lost" }"#,
    ));
    JsFuture::from(requested).await.unwrap();
    assert_eq!(log(&hanging), ["sale"]);
    drop(term);
    locks_released().await;

    let host = recording_host(sim());
    let again = open(&storage, &host).await;
    // The reversal went out during open, before anything else.
    assert_eq!(log(&host), ["reversal"]);
    assert_eq!(states(&again), [("sale".to_owned(), "reversed".to_owned())]);
    sign_in(&again).await;
    sale(&again, "1.00", "next").await.unwrap();
    assert_eq!(log(&host), ["reversal", "sale"]);
}

#[wasm_bindgen_test]
async fn a_second_terminal_on_one_journal_is_read_only() {
    let storage = indexeddb(&unique("two"));
    let writer = open(&storage, &recording_host(sim())).await;
    sign_in(&writer).await;
    sale(&writer, "9.99", "w1").await.unwrap();

    let host = recording_host(sim());
    let reader = open(&storage, &host).await;
    assert!(reader.read_only());
    // Reads work, and show what the writer made durable.
    assert_eq!(states(&reader), states(&writer));
    assert_eq!(
        reader.export_journal().unwrap(),
        writer.export_journal().unwrap()
    );
    // Commands are refused with a clear code, and nothing is sent.
    let err = sale(&reader, "1.00", "r1").await.unwrap_err();
    assert_eq!(code(&err), "READ_ONLY");
    let err = wait(reader.sign_in(js(r#"{ operatorId: "01", pin: "1234" }"#)))
        .await
        .unwrap_err();
    assert_eq!(code(&err), "READ_ONLY");
    let err = wait(reader.settle()).await.unwrap_err();
    assert_eq!(code(&err), "READ_ONLY");
    assert!(log(&host).is_empty());

    // Once the writer closes, the next open writes.
    close(&writer).await;
    let next = open(&storage, &recording_host(sim())).await;
    assert!(!next.read_only());
    sign_in(&next).await;
    assert_eq!(
        text(&sale(&next, "2.00", "n1").await.unwrap(), "state"),
        "approved"
    );
}

/// Makes `localStorage.setItem` throw `QuotaExceededError` for keys under
/// `prefix` while `globalThis.__posflowFull` is true.
fn fill_storage_under(prefix: &str) {
    js(&format!(
        r#"(() => {{
            const set = Storage.prototype.setItem;
            Storage.prototype.setItem = function (k, v) {{
                if (globalThis.__posflowFull && String(k).startsWith("{prefix}")) {{
                    throw new DOMException("quota", "QuotaExceededError");
                }}
                return set.call(this, k, v);
            }};
        }})()"#
    ));
}

fn storage_full(full: bool) {
    js_sys::Reflect::set(
        &js_sys::global(),
        &"__posflowFull".into(),
        &JsValue::from_bool(full),
    )
    .unwrap();
}

#[wasm_bindgen_test]
async fn a_full_storage_refuses_a_sale_before_sending_but_reversals_go_out() {
    let key = unique("full");
    fill_storage_under(&key);
    let sim = sim();
    sim.inject(js(r#"{ next: "timeout" }"#)).unwrap();
    let host = recording_host(sim);
    let term = open(&localstorage(&key), &host).await;
    sign_in(&term).await;
    let doubt = sale(&term, "10.00", "a").await.unwrap();
    assert_eq!(text(&doubt, "state"), "in_doubt");

    storage_full(true);
    let before = term.export_journal().unwrap();
    let err = sale(&term, "20.00", "b").await.unwrap_err();
    assert_eq!(code(&err), "STORAGE_FAILED");
    assert!(text(&get(&err, "details"), "what").contains("QuotaExceededError"));
    // The pending reversal still went out; the new sale did not.
    assert_eq!(log(&host), ["sale", "reversal"]);
    assert_eq!(states(&term), [("sale".to_owned(), "reversed".to_owned())]);
    assert_eq!(term.export_journal().unwrap(), before);

    // Room again: what was pending is written and the sale goes through.
    // The refusal rebuilt the terminal from its journal, which signs the
    // cashier out as a restart does.
    storage_full(false);
    let err = sale(&term, "20.00", "b").await.unwrap_err();
    assert_eq!(code(&err), "NOT_SIGNED_IN");
    sign_in(&term).await;
    let ok = sale(&term, "20.00", "b").await.unwrap();
    assert_eq!(text(&ok, "state"), "approved");
    assert_eq!(log(&host), ["sale", "reversal", "sale"]);
    let journal = term.export_journal().unwrap();
    close(&term).await;
    let again = open(&localstorage(&key), &recording_host(self::sim())).await;
    assert_eq!(again.export_journal().unwrap(), journal);
}
