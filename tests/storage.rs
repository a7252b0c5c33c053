//! Browser storage, headless in Chromium: the journal survives a close and
//! a reopen, a request in flight when the page went away is reversed first,
//! a second terminal on one journal is read-only, and a full storage refuses
//! a sale before anything is sent while reversals still go out.
#![cfg(target_arch = "wasm32")]

mod common;

use std::cell::RefCell;
use std::rc::Rc;

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

// ----- snapshots (issue 9) -------------------------------------------------

/// Runs an async JS function body (it may `await`) and waits for it.
async fn run_js(body: &str) -> JsValue {
    let f = js_sys::Function::new_no_args(&format!("return (async () => {{ {body} }})();"));
    let p: js_sys::Promise = f.call0(&JsValue::NULL).unwrap().unchecked_into();
    wait(p)
        .await
        .unwrap_or_else(|e| panic!("test JS failed: {e:?}"))
}

/// The snapshot row of database `name`, changed by `change` (a JS
/// expression over `bytes`, a Uint8Array, returning the new value).
async fn change_snapshot(name: &str, change: &str) {
    run_js(&format!(
        r#"const db = await new Promise((ok, fail) => {{
               const r = indexedDB.open("{name}"); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); }});
           await new Promise((ok, fail) => {{
               const tx = db.transaction("snapshot", "readwrite");
               const store = tx.objectStore("snapshot");
               const get = store.get("latest");
               get.onsuccess = () => {{ const bytes = get.result; store.put(({change}), "latest"); }};
               tx.oncomplete = ok; tx.onerror = tx.onabort = () => fail(tx.error); }});
           db.close();"#
    ))
    .await;
}

/// Sales `from..to` with keys `s{i}`.
async fn sales(term: &Terminal, from: u32, to: u32) {
    for i in from..to {
        sale(
            term,
            &format!("{}.{:02}", 1 + i % 90, i % 100),
            &format!("s{i}"),
        )
        .await
        .unwrap();
    }
}

/// Opens and waits until the journal before its snapshot is read.
async fn open_loaded(storage: &str, host: &JsValue) -> Terminal {
    let term = open(storage, host).await;
    wait(term.history_loaded()).await.unwrap();
    term
}

fn export(term: &Terminal) -> Result<String, JsValue> {
    term.export_journal()
}

/// What a terminal shows: every field of every record.
fn shown(term: &Terminal) -> String {
    js_sys::JSON::stringify(&term.transactions(JsValue::UNDEFINED).unwrap())
        .unwrap()
        .as_string()
        .unwrap()
}

/// The same journal restored in memory from an export: a full replay.
async fn replayed(journal: &str) -> Terminal {
    let config = config(r#"{ kind: "memory" }"#, &recording_host(sim()));
    js_sys::Reflect::set(&config, &"journal".into(), &journal.into()).unwrap();
    Terminal::open(config).await.expect("the export reopens")
}

#[wasm_bindgen_test]
async fn reopening_from_a_snapshot_is_the_terminal_and_the_export_waits_for_the_history() {
    let storage = indexeddb(&unique("snap"));
    let term = open(&storage, &recording_host(sim())).await;
    sign_in(&term).await;
    sales(&term, 0, 6).await;
    let written = wait(term.write_snapshot()).await.unwrap();
    let records = get(&written, "records").as_f64().unwrap();
    assert!(records >= 14.0, "{written:?}");
    assert!(
        get(&written, "bytes").as_f64().unwrap() > 500.0,
        "{written:?}"
    );
    // A tail after the snapshot.
    sales(&term, 6, 9).await;
    let before = shown(&term);
    let journal = export(&term).unwrap();
    close(&term).await;

    let host = recording_host(sim());
    let again = open(&storage, &host).await;
    assert_eq!(shown(&again), before);
    assert!(log(&host).is_empty());
    // The history before the snapshot is still being read.
    let err = export(&again).unwrap_err();
    assert_eq!(code(&err), "JOURNAL_LOADING");
    let details = get(&err, "details");
    assert_eq!(text(&details, "retryable"), "true");
    assert_eq!(
        text(&details, "total"),
        format!("{}", journal_count(&journal))
    );
    wait(again.history_loaded()).await.unwrap();
    // The rows joined with the tail are the export, byte for byte, and
    // what a full replay of it exports.
    assert_eq!(export(&again).unwrap(), journal);
    let full = replayed(&journal).await;
    assert_eq!(export(&full).unwrap(), journal);
    assert_eq!(shown(&full), before);

    // It goes on: keys still find their sales, new ones append.
    sign_in(&again).await;
    assert_eq!(
        text(&sale(&again, "1.00", "s0").await.unwrap(), "traceNo"),
        "000001"
    );
    sale(&again, "2.00", "after").await.unwrap();
    assert!(log(&host) == ["sale"]);
    let longer = export(&again).unwrap();
    assert!(longer.len() > journal.len());
    // A snapshot written after the open moves the core's base on; the
    // export stays the journal.
    wait(again.write_snapshot()).await.unwrap();
    assert_eq!(export(&again).unwrap(), longer);
    close(&again).await;
    let third = open_loaded(&storage, &recording_host(sim())).await;
    assert_eq!(export(&third).unwrap(), longer);
}

#[wasm_bindgen_test]
async fn closing_while_the_history_loads_rejects_history_loaded_as_closed() {
    let storage = indexeddb(&unique("snap-close"));
    let term = open(&storage, &recording_host(sim())).await;
    sign_in(&term).await;
    sales(&term, 0, 4).await;
    wait(term.write_snapshot()).await.unwrap();
    close(&term).await;

    let again = open(&storage, &recording_host(sim())).await;
    let loaded = again.history_loaded();
    // Closed before the rows before the snapshot have been read.
    close(&again).await;
    let err = wait(loaded).await.unwrap_err();
    assert_eq!(code(&err), "TERMINAL_CLOSED");

    // Nothing was lost: the next open loads the whole history.
    let third = open_loaded(&storage, &recording_host(sim())).await;
    assert!(journal_count(&export(&third).unwrap()) > 8);
    close(&third).await;
}

/// `journalEntries(query)`, each entry as JSON text.
fn entries_of(term: &Terminal, query: &str) -> Result<Vec<String>, JsValue> {
    let found = term.journal_entries(js(query))?;
    Ok(js_sys::Array::from(&found)
        .iter()
        .map(|e| js_sys::JSON::stringify(&e).unwrap().into())
        .collect())
}

/// The export's entries about transaction `id`, found by reading all of
/// it (what a screen did before `journalEntries`), or its last `n`.
fn exported(journal: &str, id: Option<&str>, last: usize) -> Vec<String> {
    let pick = js_sys::Function::new_with_args(
        "journal, id, last",
        r#"const all = JSON.parse(journal).entries;
           const seq = id && Number(id.slice(1));
           const about = (e) => e.seq === seq || e.record.purpose?.txn === seq || e.record.txn === seq;
           return (id ? all.filter(about) : all.slice(-last)).map((e) => JSON.stringify(e));"#,
    );
    let picked = pick
        .call3(
            &JsValue::NULL,
            &journal.into(),
            &id.map_or(JsValue::NULL, JsValue::from),
            &JsValue::from(last as u32),
        )
        .unwrap();
    js_sys::Array::from(&picked)
        .iter()
        .map(|e| e.as_string().unwrap())
        .collect()
}

/// Every transaction's entries and the last few, as the export has them.
fn entries_agree_with_the_export(term: &Terminal) {
    let journal = export(term).unwrap();
    let ids: Vec<String> = js_sys::Array::from(&term.transactions(JsValue::UNDEFINED).unwrap())
        .iter()
        .map(|r| text(&r, "id"))
        .collect();
    assert!(ids.len() > 5);
    for id in &ids {
        let found = entries_of(term, &format!(r#"{{ transaction: "{id}" }}"#)).unwrap();
        assert!(!found.is_empty(), "{id}");
        assert_eq!(found, exported(&journal, Some(id), 0), "{id}");
    }
    for last in [1, 7, 10_000] {
        let found = entries_of(term, &format!("{{ last: {last} }}")).unwrap();
        assert_eq!(found, exported(&journal, None, last), "last {last}");
    }
}

#[wasm_bindgen_test]
async fn journal_entries_answer_from_the_history_and_the_tail_as_the_export_does() {
    let storage = indexeddb(&unique("entries"));
    // A host that keeps its simulator at hand, to time out a chosen sale.
    let host = js_sys::Function::new_with_args(
        "sim",
        "return { sim, send(r) { return this.sim.send(r); } };",
    )
    .call1(&JsValue::NULL, &JsValue::from(sim()))
    .unwrap();
    let time_out_next = || {
        js_sys::Function::new_with_args("host", r#"host.sim.inject({ next: "timeout" });"#)
            .call1(&JsValue::NULL, &host)
            .unwrap();
    };
    let term = open(&storage, &host).await;
    sign_in(&term).await;
    time_out_next();
    let early = sale(&term, "10.00", "early").await.unwrap();
    assert_eq!(text(&early, "state"), "in_doubt");
    sales(&term, 0, 4).await;
    // A sale left in doubt by the snapshot: its reversal comes after it.
    time_out_next();
    let late = sale(&term, "20.00", "late").await.unwrap();
    assert_eq!(text(&late, "state"), "in_doubt");
    wait(term.write_snapshot()).await.unwrap();
    // The next sale sends the reversal first: a tail after the snapshot.
    sales(&term, 4, 7).await;
    close(&term).await;

    let again = open(&storage, &host).await;
    let late_id = text(&late, "id");
    // Before the history is read: what the tail holds is answered, what
    // needs the rows before the snapshot waits.
    let err = entries_of(&again, &format!(r#"{{ transaction: "{late_id}" }}"#)).unwrap_err();
    assert_eq!(code(&err), "JOURNAL_LOADING");
    assert_eq!(entries_of(&again, "{ last: 3 }").unwrap().len(), 3);
    let err = entries_of(&again, "{ last: 10000 }").unwrap_err();
    assert_eq!(code(&err), "JOURNAL_LOADING");
    wait(again.history_loaded()).await.unwrap();
    sign_in(&again).await;
    sales(&again, 7, 9).await;
    let about_late = entries_of(&again, &format!(r#"{{ transaction: "{late_id}" }}"#)).unwrap();
    assert!(
        about_late.iter().any(|e| e.contains(r#""for":"reversal""#)),
        "the reversal after the snapshot is found: {about_late:?}"
    );
    entries_agree_with_the_export(&again);
    // A snapshot moves the core's base over the tail: the same answers.
    wait(again.write_snapshot()).await.unwrap();
    entries_agree_with_the_export(&again);
    // And a memory terminal holding all of it answers the same.
    let full = replayed(&export(&again).unwrap()).await;
    entries_agree_with_the_export(&full);

    let err = entries_of(&again, r#"{ transaction: "T09999999" }"#).unwrap_err();
    assert_eq!(code(&err), "ORIGINAL_NOT_FOUND");
    for bad in [
        "{}",
        "{ last: 0 }",
        "{ last: 10001 }",
        "{ last: 1.5 }",
        r#"{ transaction: "7" }"#,
        r#"{ transaction: "T00000001", last: 2 }"#,
        r#"{ txn: "T00000001" }"#,
    ] {
        let err = entries_of(&again, bad).unwrap_err();
        assert_eq!(code(&err), "INVALID_INPUT", "{bad}");
    }
    close(&again).await;
}

#[wasm_bindgen_test]
async fn a_history_of_several_chunks_loads_in_order() {
    // More rows before the snapshot than one background read takes (1,000).
    let storage = indexeddb(&unique("chunks"));
    let term = open(&storage, &recording_host(sim())).await;
    sign_in(&term).await;
    sales(&term, 0, 1_100).await;
    wait(term.write_snapshot()).await.unwrap();
    sales(&term, 1_100, 1_102).await;
    let journal = export(&term).unwrap();
    assert!(journal_count(&journal) > 2_200);
    close(&term).await;

    let again = open_loaded(&storage, &recording_host(sim())).await;
    assert_eq!(export(&again).unwrap(), journal);
    // Transactions from the first read, a later one and the tail.
    for seq in [2, 1_500, 2_202] {
        let id = format!("T{seq:08}");
        let found = entries_of(&again, &format!(r#"{{ transaction: "{id}" }}"#)).unwrap();
        assert_eq!(found.len(), 2, "{id}: its request and answer");
        assert_eq!(found, exported(&journal, Some(&id), 0), "{id}");
    }
    close(&again).await;
}

/// One task later: what the page runs between a snapshot's slices (a
/// `MessageChannel` message, as the slices yield: a nested `setTimeout(0)`
/// waits 4 ms).
async fn next_task() {
    let message = "new Promise((r) => { const c = new MessageChannel(); \
                   c.port1.onmessage = () => { c.port1.close(); r(); }; c.port2.postMessage(0); })";
    wait(js(message).unchecked_into()).await.unwrap();
}

/// Writing a snapshot lets the page run between slices (here one
/// transaction, then one entry, a slice), and what the page reads
/// meanwhile is the terminal whole: the same export and records.
#[wasm_bindgen_test]
async fn a_snapshot_is_written_in_slices_and_reads_stay_whole_meanwhile() {
    let storage = indexeddb(&unique("slices"));
    let term = open(&storage, &recording_host(sim())).await;
    sign_in(&term).await;
    sales(&term, 0, 30).await;
    let before = export(&term).unwrap();
    let shown_before = shown(&term);
    posflow::snapshot_pace_for_test(Some((u64::MAX, 1_000, true, 1)));
    let done = Rc::new(RefCell::new(None));
    {
        let (done, written) = (done.clone(), term.write_snapshot());
        wasm_bindgen_futures::spawn_local(async move {
            *done.borrow_mut() = Some(wait(written).await);
        });
    }
    let mut tasks = 0;
    let written = loop {
        if let Some(written) = done.borrow_mut().take() {
            break written.unwrap();
        }
        assert_eq!(export(&term).unwrap(), before, "after {tasks} tasks");
        assert_eq!(shown(&term), shown_before, "after {tasks} tasks");
        next_task().await;
        tasks += 1;
    };
    posflow::snapshot_pace_for_test(None);
    let records = get(&written, "records").as_f64().unwrap() as u32;
    assert_eq!(records, journal_count(&before));
    // 30 transactions and 60-odd entries, each a slice: in one go, the
    // page would have run only while IndexedDB wrote.
    assert!(tasks >= 30, "the page ran {tasks} times");
    sale(&term, "1.00", "after").await.unwrap();
    let after = export(&term).unwrap();
    close(&term).await;
    reopens_from_its_snapshot_as(&storage, &after).await;
}

/// A snapshot the terminal writes by itself at idle stops for a command
/// that comes while it is being written (the sale waits one slice, not
/// the whole state), and is written once the terminal is idle again.
#[wasm_bindgen_test]
async fn a_snapshot_at_idle_gives_way_to_a_command_and_is_written_after_it() {
    let storage = indexeddb(&unique("idle"));
    let term = open(&storage, &recording_host(sim())).await;
    sign_in(&term).await;
    sales(&term, 0, 10).await;
    // Due every 10 records, queued at once, a transaction a slice.
    posflow::snapshot_pace_for_test(Some((10, 0, true, 1)));
    let (written, gave_way) = posflow::snapshot_counts_for_test();
    let mut n = 10;
    while posflow::snapshot_counts_for_test().1 == gave_way {
        assert!(n < 60, "no snapshot gave way in {} sales", n - 10);
        sales(&term, n, n + 1).await;
        next_task().await;
        n += 1;
    }
    let journal = export(&term).unwrap();
    let mut tasks = 0;
    while posflow::snapshot_counts_for_test().0 == written {
        assert!(tasks < 2_000, "no snapshot written after the sales");
        next_task().await;
        tasks += 1;
    }
    posflow::snapshot_pace_for_test(None);
    assert_eq!(export(&term).unwrap(), journal);
    close(&term).await;
    reopens_from_its_snapshot_as(&storage, &journal).await;
}

/// `storage` opens from a snapshot (the history before it still to load)
/// and, once loaded, exports `journal`.
async fn reopens_from_its_snapshot_as(storage: &str, journal: &str) {
    let again = open(storage, &recording_host(sim())).await;
    assert_eq!(
        code(&export(&again).unwrap_err()),
        "JOURNAL_LOADING",
        "opened from the snapshot"
    );
    wait(again.history_loaded()).await.unwrap();
    assert_eq!(export(&again).unwrap(), journal);
    close(&again).await;
}

fn journal_count(journal: &str) -> u32 {
    get(&js_sys::JSON::parse(journal).unwrap(), "count")
        .as_f64()
        .unwrap() as u32
}

#[wasm_bindgen_test]
async fn a_version_1_database_without_a_snapshot_store_is_upgraded() {
    // A journal made elsewhere, stored the way version 1 stored it.
    let maker = open(r#"{ kind: "memory" }"#, &recording_host(sim())).await;
    sign_in(&maker).await;
    sales(&maker, 0, 4).await;
    let journal = export(&maker).unwrap();
    let name = unique("v1");
    js_sys::Reflect::set(
        &js_sys::global(),
        &"__journal".into(),
        &journal.clone().into(),
    )
    .unwrap();
    run_js(&format!(
        r#"const db = await new Promise((ok, fail) => {{
               const r = indexedDB.open("{name}", 1);
               r.onupgradeneeded = () => r.result.createObjectStore("journal");
               r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); }});
           await new Promise((ok, fail) => {{
               const tx = db.transaction("journal", "readwrite");
               for (const e of JSON.parse(globalThis.__journal).entries) tx.objectStore("journal").add(JSON.stringify(e), e.seq);
               tx.oncomplete = ok; tx.onerror = tx.onabort = () => fail(tx.error); }});
           db.close();"#
    ))
    .await;

    let storage = indexeddb(&name);
    let term = open(&storage, &recording_host(sim())).await;
    // A full replay: nothing to load.
    assert_eq!(export(&term).unwrap(), journal);
    assert_eq!(shown(&term), shown(&maker));
    let version = run_js(&format!(
        r#"const db = await new Promise((ok) => {{ const r = indexedDB.open("{name}"); r.onsuccess = () => ok(r.result); }});
           const v = [db.version, [...db.objectStoreNames].join(",")]; db.close(); return v;"#
    ))
    .await;
    // (the terminal holds the database open; reading its version is fine)
    assert_eq!(
        js_sys::JSON::stringify(&version).unwrap(),
        "[2,\"journal,snapshot\"]"
    );
    assert!(!wait(term.write_snapshot()).await.unwrap().is_null());
    close(&term).await;
    let again = open(&storage, &recording_host(sim())).await;
    assert_eq!(code(&export(&again).unwrap_err()), "JOURNAL_LOADING");
    wait(again.history_loaded()).await.unwrap();
    assert_eq!(export(&again).unwrap(), journal);
    assert_eq!(shown(&again), shown(&maker));
}

/// Records `console.warn` lines in `globalThis.__warnings`.
fn record_warnings() {
    js("(() => { globalThis.__warnings = []; const w = console.warn; \
        console.warn = (...a) => { globalThis.__warnings.push(a.join(' ')); w.apply(console, a); }; })()");
}

fn warnings() -> Vec<String> {
    js_sys::Array::from(&js("globalThis.__warnings"))
        .iter()
        .map(|v| v.as_string().unwrap())
        .collect()
}

#[wasm_bindgen_test]
async fn a_damaged_snapshot_is_refused_and_the_journal_replayed() {
    let name = unique("damaged");
    let storage = indexeddb(&name);
    let term = open(&storage, &recording_host(sim())).await;
    sign_in(&term).await;
    sales(&term, 0, 5).await;
    wait(term.write_snapshot()).await.unwrap();
    let before = shown(&term);
    let journal = export(&term).unwrap();
    close(&term).await;

    // One byte changed in the middle.
    change_snapshot(&name, "(bytes[bytes.length >> 1] ^= 1, bytes)").await;
    record_warnings();
    let again = open(&storage, &recording_host(sim())).await;
    assert_eq!(shown(&again), before);
    // Replayed in full: the export is there at once.
    assert_eq!(export(&again).unwrap(), journal);
    let w = warnings();
    assert!(
        w.iter().any(|l| l.contains("SNAPSHOT_DAMAGED")),
        "no warning: {w:?}"
    );
    close(&again).await;

    // Not bytes at all, and one cut short.
    for change in [r#""not a snapshot""#, "bytes.slice(0, 100)"] {
        change_snapshot(&name, change).await;
        let t = open(&storage, &recording_host(sim())).await;
        assert_eq!(shown(&t), before, "{change}");
        assert_eq!(export(&t).unwrap(), journal, "{change}");
        close(&t).await;
    }

    // The replay reads its rows in chunks (here one row a read) and says
    // how far it is.
    change_snapshot(&name, r#""not a snapshot""#).await;
    let config = config(&storage, &recording_host(sim()));
    let seen = noting_progress(&config);
    let (t, _) = open_in_slices(config).await;
    let t = t.unwrap();
    assert_eq!(shown(&t), before);
    assert_eq!(export(&t).unwrap(), journal);
    let count = journal_count(&journal);
    went_through(&seen, "replay", count.into());
    // A report a row: each chunk of one row is replayed on its own.
    assert!(
        reports(&seen, "replay").len() > count as usize,
        "{:?}",
        seen.to_vec()
    );
}

/// Makes IndexedDB `add` on the journal throw while `__posflowIdbFull`.
fn fill_indexeddb() {
    js("(() => { const add = IDBObjectStore.prototype.add; \
        IDBObjectStore.prototype.add = function (...a) { \
          if (globalThis.__posflowIdbFull && this.name === 'journal') throw new DOMException('quota', 'QuotaExceededError'); \
          return add.apply(this, a); }; })()");
}

fn idb_full(full: bool) {
    js_sys::Reflect::set(
        &js_sys::global(),
        &"__posflowIdbFull".into(),
        &JsValue::from_bool(full),
    )
    .unwrap();
}

#[wasm_bindgen_test]
async fn a_storage_failure_after_a_snapshot_open_rolls_back_from_the_snapshot() {
    fill_indexeddb();
    let storage = indexeddb(&unique("rollback"));
    let term = open(&storage, &recording_host(sim())).await;
    sign_in(&term).await;
    sales(&term, 0, 4).await;
    wait(term.write_snapshot()).await.unwrap();
    sales(&term, 4, 6).await;
    close(&term).await;

    let host = recording_host(sim());
    let again = open_loaded(&storage, &host).await;
    sign_in(&again).await;
    let before = export(&again).unwrap();
    let shown_before = shown(&again);
    idb_full(true);
    let err = sale(&again, "20.00", "full").await.unwrap_err();
    idb_full(false);
    assert_eq!(code(&err), "STORAGE_FAILED");
    assert!(log(&host).is_empty(), "nothing was sent");
    assert_eq!(export(&again).unwrap(), before);
    assert_eq!(shown(&again), shown_before);
    // Rebuilt from the snapshot and its tail, signed out as after a restart.
    assert_eq!(
        code(&sale(&again, "20.00", "full").await.unwrap_err()),
        "NOT_SIGNED_IN"
    );
    sign_in(&again).await;
    sale(&again, "20.00", "full").await.unwrap();
    let journal = export(&again).unwrap();
    close(&again).await;
    let third = open_loaded(&storage, &recording_host(sim())).await;
    assert_eq!(export(&third).unwrap(), journal);
}

#[wasm_bindgen_test]
async fn a_settlement_writes_a_snapshot_at_idle() {
    let storage = indexeddb(&unique("settled"));
    let term = open(&storage, &recording_host(sim())).await;
    sign_in(&term).await;
    sales(&term, 0, 3).await;
    wait(term.settle()).await.unwrap();
    // The snapshot goes out a second after the settlement.
    run_js("await new Promise((ok) => setTimeout(ok, 1500));").await;
    let journal = export(&term).unwrap();
    close(&term).await;
    let again = open(&storage, &recording_host(sim())).await;
    assert_eq!(code(&export(&again).unwrap_err()), "JOURNAL_LOADING");
    wait(again.history_loaded()).await.unwrap();
    assert_eq!(export(&again).unwrap(), journal);
}

// ----- restoring a backup (issue 9) ---------------------------------------

/// A backup of a memory terminal after `n` sales.
async fn backup_of(n: u32) -> String {
    let term = open(r#"{ kind: "memory" }"#, &recording_host(sim())).await;
    sign_in(&term).await;
    sales(&term, 0, n).await;
    export(&term).unwrap()
}

/// Gives `config` an `onProgress` that notes each report as
/// `stage done/total` in the returned array.
fn noting_progress(config: &JsValue) -> js_sys::Array {
    let seen = js_sys::Array::new();
    let note = js_sys::Function::new_with_args(
        "seen",
        "return (p) => seen.push(`${p.stage} ${p.done}/${p.total}`);",
    )
    .call1(&JsValue::NULL, &seen)
    .unwrap();
    js_sys::Reflect::set(config, &"onProgress".into(), &note).unwrap();
    seen
}

/// `Terminal.open(config)` with every step of its work a slice of its
/// own (one record, one transaction, 1 KiB of a checksum), and how many
/// times the page ran meanwhile.
async fn open_in_slices(config: JsValue) -> (Result<Terminal, JsValue>, u32) {
    posflow::snapshot_pace_for_test(Some((u64::MAX, 1_000, true, 1)));
    let done = Rc::new(RefCell::new(None));
    {
        let done = done.clone();
        wasm_bindgen_futures::spawn_local(async move {
            *done.borrow_mut() = Some(Terminal::open(config).await);
        });
    }
    let mut tasks = 0;
    let opened = loop {
        if let Some(opened) = done.borrow_mut().take() {
            break opened;
        }
        next_task().await;
        tasks += 1;
    };
    posflow::snapshot_pace_for_test(None);
    (opened, tasks)
}

/// The open config restoring `journal` into `storage`, with an
/// `onProgress` that notes each report as `stage done/total` in the
/// returned array.
fn restoring(storage: &str, journal: &str) -> (JsValue, js_sys::Array) {
    let config = config(storage, &recording_host(sim()));
    js_sys::Reflect::set(&config, &"journal".into(), &journal.into()).unwrap();
    let seen = noting_progress(&config);
    (config, seen)
}

/// The reports of `stage`, as `(done, total)`.
fn reports(seen: &js_sys::Array, stage: &str) -> Vec<(u64, u64)> {
    seen.iter()
        .filter_map(|r| {
            let r = r.as_string().unwrap();
            let (s, counts) = r.split_once(' ').unwrap();
            let (done, total) = counts.split_once('/').unwrap();
            (s == stage).then(|| (done.parse().unwrap(), total.parse().unwrap()))
        })
        .collect()
}

/// Reports of a stage that went from 0 to `total` records, never back.
fn went_through(seen: &js_sys::Array, stage: &str, total: u64) {
    let r = reports(seen, stage);
    assert_eq!(r.first(), Some(&(0, total)), "{stage}: {r:?}");
    assert_eq!(r.last(), Some(&(total, total)), "{stage}: {r:?}");
    assert!(r.windows(2).all(|w| w[0].0 <= w[1].0), "{stage}: {r:?}");
    assert!(r.iter().all(|&(_, t)| t == total), "{stage}: {r:?}");
}

/// A restore into IndexedDB lets the page run while it checks, replays
/// and stores the backup (here a record a slice), tells `onProgress`
/// where it stands, and stores every row in one transaction kept open
/// across the slices: the reopened journal is the backup.
#[wasm_bindgen_test]
async fn a_backup_restores_into_indexeddb_in_slices_with_progress() {
    let backup = backup_of(40).await;
    let count = journal_count(&backup);
    let storage = indexeddb(&unique("restore"));
    let (config, seen) = restoring(&storage, &backup);
    let (restored, tasks) = open_in_slices(config).await;
    let restored = restored.expect("the backup restores");
    // 80-odd records replayed and as many stored, each its own slice.
    assert!(
        tasks >= 2 * count,
        "the page ran {tasks} times for {count} records"
    );
    went_through(&seen, "replay", count.into());
    went_through(&seen, "save", count.into());
    assert_eq!(
        seen.get(seen.length() - 1).as_string().unwrap(),
        format!("save {count}/{count}")
    );
    assert_eq!(export(&restored).unwrap(), backup);
    assert_eq!(states(&restored).len(), 40);
    sign_in(&restored).await;
    sale(&restored, "3.00", "after").await.unwrap();
    let after = export(&restored).unwrap();
    close(&restored).await;

    let again = open_loaded(&storage, &recording_host(sim())).await;
    assert_eq!(export(&again).unwrap(), after);
}

/// A damaged backup is refused with what and where, and leaves the
/// storage empty: nothing of it is stored, and a restore can be tried
/// again.
#[wasm_bindgen_test]
async fn a_damaged_backup_is_refused_and_nothing_is_stored() {
    let backup = backup_of(12).await;
    let damaged = backup.replacen(r#""amount":"5.04""#, r#""amount":"5.05""#, 1);
    assert_ne!(damaged, backup);
    for storage in [
        indexeddb(&unique("damaged")),
        localstorage(&unique("damaged")),
    ] {
        let (config, seen) = restoring(&storage, &damaged);
        let err = Terminal::open(config).await.err().expect("refused");
        assert_eq!(code(&err), "JOURNAL_DAMAGED", "{storage}");
        assert_eq!(
            text(&get(&err, "details"), "damage"),
            "changed",
            "{storage}"
        );
        assert!(
            reports(&seen, "save").is_empty(),
            "{storage}: {:?}",
            seen.to_vec()
        );
        locks_released().await;

        let (config, _) = restoring(&storage, &backup);
        let restored = Terminal::open(config)
            .await
            .expect("then the sound backup restores");
        assert_eq!(export(&restored).unwrap(), backup);
        close(&restored).await;
        let again = open_loaded(&storage, &recording_host(sim())).await;
        assert_eq!(export(&again).unwrap(), backup, "{storage}");
        close(&again).await;
    }
}

/// A restore goes only into empty storage, and not through a terminal
/// that only reads (another tab writes that journal); an `onProgress`
/// that is not a function is refused, and one that throws does not stop
/// the restore.
#[wasm_bindgen_test]
async fn a_restore_is_refused_where_it_would_overwrite_and_progress_must_be_a_function() {
    let backup = backup_of(3).await;
    let storage = indexeddb(&unique("refused"));
    let writer = open(&storage, &recording_host(sim())).await;

    let (config, _) = restoring(&storage, &backup);
    let err = Terminal::open(config).await.err().expect("refused");
    assert_eq!(code(&err), "READ_ONLY");
    close(&writer).await;
    let (config, _) = restoring(&storage, &backup);
    let err = Terminal::open(config).await.err().expect("refused");
    assert_eq!(code(&err), "INVALID_INPUT");
    assert_eq!(text(&get(&err, "details"), "field"), "journal");

    let (config, _) = restoring(r#"{ kind: "memory" }"#, &backup);
    js_sys::Reflect::set(&config, &"onProgress".into(), &"50%".into()).unwrap();
    let err = Terminal::open(config).await.err().expect("refused");
    assert_eq!(code(&err), "INVALID_INPUT");
    assert_eq!(text(&get(&err, "details"), "field"), "onProgress");

    let (config, _) = restoring(r#"{ kind: "memory" }"#, &backup);
    let throws = js_sys::Function::new_no_args("throw new Error('screen gone')");
    js_sys::Reflect::set(&config, &"onProgress".into(), &throws).unwrap();
    let restored = Terminal::open(config).await.expect("restores all the same");
    assert_eq!(export(&restored).unwrap(), backup);
}

/// An open that replays every stored row (localStorage keeps no
/// snapshot) tells `onProgress` how far its replay is; nothing is saved.
#[wasm_bindgen_test]
async fn an_open_that_replays_every_row_tells_its_progress() {
    let storage = localstorage(&unique("progress"));
    let term = open(&storage, &recording_host(sim())).await;
    sign_in(&term).await;
    sales(&term, 0, 5).await;
    let journal = export(&term).unwrap();
    close(&term).await;

    let config = config(&storage, &recording_host(sim()));
    let seen = noting_progress(&config);
    let again = Terminal::open(config).await.unwrap();
    went_through(&seen, "replay", journal_count(&journal).into());
    assert!(reports(&seen, "save").is_empty(), "{:?}", seen.to_vec());
    assert_eq!(export(&again).unwrap(), journal);
}

/// An open from a snapshot checks and decodes it in slices (here 1 KiB of
/// its checksum, or a transaction, a slice): the page runs while it loads.
#[wasm_bindgen_test]
async fn a_snapshot_is_read_in_slices_as_the_terminal_opens() {
    let storage = indexeddb(&unique("readslices"));
    let term = open(&storage, &recording_host(sim())).await;
    sign_in(&term).await;
    sales(&term, 0, 30).await;
    wait(term.write_snapshot()).await.unwrap();
    let before = shown(&term);
    let journal = export(&term).unwrap();
    close(&term).await;

    let (again, tasks) = open_in_slices(config(&storage, &recording_host(sim()))).await;
    let again = again.expect("opens from its snapshot");
    assert!(tasks >= 30, "the page ran {tasks} times");
    assert_eq!(shown(&again), before);
    wait(again.history_loaded()).await.unwrap();
    assert_eq!(export(&again).unwrap(), journal);
}

/// A restore whose storage fails half-way leaves the storage empty, even
/// where the browser has committed the rows added before the failure (as
/// one that ended the transaction between two slices would): here the
/// 40th `add` commits the transaction and then throws.
#[wasm_bindgen_test]
async fn a_restore_that_fails_half_way_leaves_the_storage_empty() {
    js("(() => { const add = IDBObjectStore.prototype.add; let n = 0; \
        IDBObjectStore.prototype.add = function (...a) { \
          if (globalThis.__posflowCommitAt && this.name === 'journal' && ++n === globalThis.__posflowCommitAt) { \
            this.transaction.commit(); \
            throw new DOMException('ended', 'TransactionInactiveError'); } \
          return add.apply(this, a); }; })()");
    let backup = backup_of(30).await;
    let storage = indexeddb(&unique("halfway"));
    let (config, _) = restoring(&storage, &backup);
    js_sys::Reflect::set(&js_sys::global(), &"__posflowCommitAt".into(), &40.into()).unwrap();
    let (failed, _) = open_in_slices(config).await;
    js_sys::Reflect::set(
        &js_sys::global(),
        &"__posflowCommitAt".into(),
        &JsValue::UNDEFINED,
    )
    .unwrap();
    let err = failed.err().expect("the restore fails");
    assert_eq!(code(&err), "STORAGE_FAILED");
    locks_released().await;

    // Nothing of it is left: the backup restores, into empty storage.
    let (config, _) = restoring(&storage, &backup);
    let restored = Terminal::open(config)
        .await
        .expect("restores on a second try");
    assert_eq!(export(&restored).unwrap(), backup);
}
