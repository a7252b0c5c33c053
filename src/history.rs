//! `open` costs the tail, not the history (issue 9): on IndexedDB the
//! terminal opens from the stored snapshot and the journal rows after it,
//! reads the rows before it in the background (for `exportJournal`), and
//! writes a new snapshot when that pays.
//!
//! - **Open.** Read the snapshot row; check it (the core's own checksum,
//!   format and shape), that the stored row `count - 1` is its head, and
//!   open the core from it and the rows from `count` on. Anything wrong —
//!   no snapshot, a damaged one, one that does not fit the rows — is said on
//!   the console and the journal is replayed from its start instead: a bad
//!   snapshot is never used, and never stops a terminal whose journal is
//!   sound.
//! - **History.** The core then holds only the tail; the rows before it
//!   are read in chunks in the background, checked against the chain
//!   (`verify_rows`: SHA-256 over each row's bytes, ending at the
//!   snapshot's head) and kept as the JS strings IndexedDB returned.
//!   `exportJournal()` joins them with the tail: the same bytes as the
//!   core's `export_json`. Until they are all read it throws
//!   `JOURNAL_LOADING` (retryable, `details.loaded` / `details.total`);
//!   `term.historyLoaded` resolves when they are.
//! - **Writing.** A snapshot covers only durable rows and is taken inside
//!   the command queue (no command is half-way), then written in the
//!   background: after an open that replayed more than
//!   [`LONG_REPLAY`] records, after a settlement, and once
//!   [`PACE`]`.every` records have become durable since the last one.
//!   When the history is at hand, the core then forgets the entries the
//!   new snapshot covers (they move to the history's strings), so memory
//!   holds one copy of the journal. Both are done in slices
//!   ([`crate::slices`]) with the page let run in between (issue 9: never
//!   stutter); at idle, a command that comes meanwhile ends the snapshot.
//! - **Rollback.** When a storage failure rolls a command back, the core
//!   is rebuilt from the snapshot its base stands on (kept as bytes) and its
//!   own tail, not from the history.

use std::rc::Rc;

use posflow_core::error::{JournalDamage, Locale, PosError};
use posflow_core::journal::{export_prefix, row_record, verify_rows, EXPORT_SUFFIX, GENESIS_HASH};
use posflow_core::record::{Record, TxnId};
use posflow_core::terminal::{Snapshot, SnapshotStep, Terminal as CoreTerminal, TerminalConfig};
use posflow_core::time::Timestamp;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::acquirer;
use crate::convert::{self, parse_text, txn_id};
use crate::error::{set, BindingError};
use crate::input::parse;
use crate::restore::{self, Progress};
use crate::slices::{now_ms, Slicer, FIRST_STEP};
use crate::storage::{self, entry_json, Storage};
use crate::terminal::{queued, Shared, Terminal};

/// An open that replayed more records than this writes a snapshot.
pub(crate) const LONG_REPLAY: u64 = 1_000;

/// Rows read per IndexedDB request of the background history load; they
/// are checked (about 10 µs a row in Chromium) in slices
/// ([`crate::slices`]). Reads of 10,000 rows checked in one go blocked the
/// page for ~100 ms at a time.
const HISTORY_CHUNK: u64 = 1_000;

/// When snapshots are written, and how finely the work is cut.
#[derive(Clone, Copy, Debug)]
struct Pace {
    /// Records made durable since the last snapshot before the next is
    /// written at idle. Opening then replays at most about this many (~25
    /// ms in Chromium).
    every: u64,
    /// How long a scheduled snapshot waits before queueing, so that it
    /// lands between bursts of commands rather than inside one.
    idle_ms: u32,
}

const PACE: Pace = Pace {
    every: 1_000,
    idle_ms: 1_000,
};

#[cfg(not(feature = "test-hooks"))]
fn pace() -> Pace {
    PACE
}

#[cfg(feature = "test-hooks")]
thread_local! {
    static TEST_PACE: std::cell::Cell<Pace> = const { std::cell::Cell::new(PACE) };
    static COUNTS: std::cell::Cell<(u32, u32)> = const { std::cell::Cell::new((0, 0)) };
}

#[cfg(feature = "test-hooks")]
fn pace() -> Pace {
    TEST_PACE.with(std::cell::Cell::get)
}

/// For the browser tests: snapshots due every `every` records, written
/// `idle_ms` after, in steps of at most `step` transactions or rows, with
/// every step a slice of its own when `one_step_slices` (see
/// [`crate::slices`]). `None` goes back to the terminal's own pace.
#[cfg(feature = "test-hooks")]
pub fn snapshot_pace_for_test(pace: Option<(u64, u32, bool, usize)>) {
    let (pace, slice_ms, step) = match pace {
        Some((every, idle_ms, one_step_slices, step)) => (
            Pace { every, idle_ms },
            one_step_slices.then_some(0.0),
            Some(step),
        ),
        None => (PACE, None, None),
    };
    TEST_PACE.with(|p| p.set(pace));
    crate::slices::set_slicing_for_test(slice_ms, step);
}

/// For the browser tests: how many snapshots have been written, and how
/// many at idle have given way to a command, since the page loaded.
#[cfg(feature = "test-hooks")]
pub fn snapshot_counts_for_test() -> (u32, u32) {
    COUNTS.with(std::cell::Cell::get)
}

/// Where the journal before the core's base stands.
enum Status {
    /// Being read; `exportJournal` answers `JOURNAL_LOADING`.
    Loading,
    /// Every row before the base is in `rows`.
    Loaded,
    /// It could not be read or did not verify, or the terminal closed
    /// first (`TERMINAL_CLOSED`).
    Failed(BindingError),
}

/// The journal the core does not hold, and the snapshots.
pub(crate) struct History {
    /// Rows `0..rows.length()` as stored (entry JSON strings). Once loaded,
    /// at least the core's base.
    rows: js_sys::Array,
    status: Status,
    /// Settles when the status leaves `Loading`.
    loaded: js_sys::Promise,
    settle: Option<(js_sys::Function, js_sys::Function)>,
    /// The snapshot the core's base stands on, for a rollback.
    base_snapshot: Option<js_sys::Uint8Array>,
    /// Records the newest stored snapshot covers (0: none).
    snapshot_count: u64,
    /// A snapshot write is scheduled or under way.
    scheduled: bool,
    /// `(seq, transaction)` of every record in `rows` before the core's
    /// base that is about a transaction, in journal order, for
    /// `journalEntries`.
    txn_rows: Vec<(u64, u64)>,
}

impl History {
    fn new(rows: js_sys::Array, status: Status) -> History {
        let mut settle = None;
        let loaded = js_sys::Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
        // Nobody need wait: a rejection nobody awaits is not an error.
        storage::ignore_rejection(loaded.clone());
        let mut history = History {
            rows,
            status: Status::Loading,
            loaded,
            settle,
            base_snapshot: None,
            snapshot_count: 0,
            scheduled: false,
            txn_rows: Vec::new(),
        };
        history.set_status(status, Locale::default());
        history
    }

    /// A terminal that holds its whole journal (memory, localStorage, an
    /// import): nothing to load.
    pub(crate) fn complete() -> History {
        History::new(js_sys::Array::new(), Status::Loaded)
    }

    fn set_status(&mut self, status: Status, locale: Locale) {
        if let (Some((resolve, reject)), false) =
            (self.settle.as_ref(), matches!(status, Status::Loading))
        {
            let _ = match &status {
                Status::Failed(e) => reject.call1(&JsValue::NULL, &e.to_js(locale)),
                _ => resolve.call0(&JsValue::NULL),
            };
            self.settle = None;
        }
        self.status = status;
    }

    /// `term.historyLoaded`.
    pub(crate) fn loaded(&self) -> js_sys::Promise {
        self.loaded.clone()
    }

    /// The export of the first `count` entries (`count` at least the core's
    /// base): the history's rows, then the core's own entries.
    pub(crate) fn export(
        &self,
        core: &CoreTerminal,
        count: u64,
    ) -> Result<js_sys::JsString, BindingError> {
        self.check_loaded(core)?;
        let journal = core.journal();
        let base = journal.base();
        let count = count.clamp(base, journal.len() as u64);
        let head = journal
            .hash_of(count - 1)
            .expect("count is at least the base, which is at least 1");
        let rows = self.rows.slice(0, base as u32);
        let tail: Vec<String> = journal.entries()[..(count - base) as usize]
            .iter()
            .map(entry_json)
            .collect();
        let mut out = js_sys::JsString::from(export_prefix(count, head)).concat(&rows.join(","));
        if !tail.is_empty() {
            out = out.concat(&",".into()).concat(&tail.join(",").into());
        }
        Ok(out.concat(&EXPORT_SUFFIX.into()))
    }

    /// Whether every row before the core's base is at hand: else
    /// `JOURNAL_LOADING`, or why it could not be read.
    fn check_loaded(&self, core: &CoreTerminal) -> Result<(), BindingError> {
        let journal = core.journal();
        match &self.status {
            Status::Loading => Err(PosError::JournalLoading {
                loaded: u64::from(self.rows.length()).min(journal.base()),
                total: journal.len() as u64,
            }
            .into()),
            Status::Failed(e) => Err(e.clone()),
            Status::Loaded => {
                debug_assert!(u64::from(self.rows.length()) >= journal.base());
                Ok(())
            }
        }
    }

    /// Notes which transaction each of `texts` (rows before the core's
    /// base, as stored) is about.
    fn index_rows(&mut self, texts: &[String]) {
        for text in texts {
            if let Some((seq, record)) = row_record(text) {
                if let Some(txn) = Record::txn_of_json(seq, record) {
                    self.txn_rows.push((seq, txn.0));
                }
            }
        }
    }

    /// `journalEntries(query)` among the first `count` entries (`count` at
    /// least the core's base): a JSON array of entries, oldest first.
    /// Costs the entries asked for, not the journal's text: the rows
    /// before the base are found through `txn_rows` (a scan of pairs of
    /// numbers from the transaction on), the core's own entries by their
    /// parsed records.
    pub(crate) fn entries(
        &self,
        core: &CoreTerminal,
        count: u64,
        query: &JournalQuery,
    ) -> Result<js_sys::JsString, BindingError> {
        let journal = core.journal();
        let base = journal.base();
        let count = count.clamp(base, journal.len() as u64);
        let texts = js_sys::Array::new();
        let own = |seq: u64| &journal.entries()[(seq - base) as usize];
        match *query {
            JournalQuery::Last(n) => {
                let from = count.saturating_sub(u64::from(n));
                if from < base {
                    self.check_loaded(core)?;
                    for seq in from..base {
                        texts.push(&self.rows.get(seq as u32));
                    }
                }
                for seq in from.max(base)..count {
                    texts.push(&JsValue::from_str(&entry_json(own(seq))));
                }
            }
            JournalQuery::Txn(txn) => {
                if core.transaction(txn).is_none() {
                    return Err(PosError::OriginalNotFound {
                        reference: txn.to_string(),
                    }
                    .into());
                }
                if txn.0 < base {
                    self.check_loaded(core)?;
                    // A transaction's records come at or after its request;
                    // a late one (a reversal, a review) may come much later.
                    let from = self.txn_rows.partition_point(|&(seq, _)| seq < txn.0);
                    for &(seq, _) in self.txn_rows[from..].iter().filter(|r| r.1 == txn.0) {
                        texts.push(&self.rows.get(seq as u32));
                    }
                }
                for seq in txn.0.max(base)..count {
                    let entry = own(seq);
                    if entry.record.txn(seq) == Some(txn) {
                        texts.push(&JsValue::from_str(&entry_json(entry)));
                    }
                }
            }
        }
        Ok(js_sys::JsString::from("[")
            .concat(&texts.join(","))
            .concat(&"]".into()))
    }
}

#[wasm_bindgen]
impl Terminal {
    /// `journalEntries({ transaction: id } | { last: n })`: the journal
    /// entries about one transaction, or the newest `n` (at most 10,000),
    /// oldest first, as `exportJournal()` holds them (`{ seq, prev, hash,
    /// record }`). For a screen that shows a transaction's history or the
    /// latest events: it costs the entries returned, not the journal's
    /// length, where `exportJournal()` costs the whole journal. Like
    /// `exportJournal()`, only durable records, and `JOURNAL_LOADING` when
    /// the answer needs the journal before a snapshot that is still being
    /// read; an unknown id is `ORIGINAL_NOT_FOUND`.
    ///
    /// ```js
    /// for (const e of term.journalEntries({ transaction: sale.id })) show(e.seq, e.record.type);
    /// ```
    #[wasm_bindgen(js_name = journalEntries, unchecked_return_type = "JournalEntry[]")]
    pub fn journal_entries(
        &self,
        #[wasm_bindgen(unchecked_param_type = "JournalQueryInput")] query: JsValue,
    ) -> Result<JsValue, JsValue> {
        let shared = self.shared();
        let found = (|| {
            shared.check_alive()?;
            let input: convert::JournalQueryInput = parse(query, "journalEntries")?;
            let query = match (input.transaction.as_deref(), input.last) {
                (Some(id), None) => JournalQuery::Txn(txn_id("transaction", id)?),
                (None, Some(n @ 1..=MAX_LAST)) => JournalQuery::Last(n),
                (None, Some(n)) => {
                    return Err(PosError::invalid_input(
                        "last",
                        &format!("1 to {MAX_LAST}"),
                        &n.to_string(),
                    )
                    .into())
                }
                _ => {
                    return Err(PosError::invalid_input(
                        "journalEntries",
                        "{ transaction } or { last }",
                        "both or neither",
                    )
                    .into())
                }
            };
            let core = shared.core.borrow();
            let durable = shared.durable() as u64;
            let text = shared.history.borrow().entries(&core, durable, &query)?;
            Ok::<_, BindingError>(text)
        })();
        // Stored rows and entries the core wrote: JSON that parses.
        parse_text(&found.map_err(|e| shared.err(e))?)
    }
}

/// The most entries `journalEntries({ last })` returns.
const MAX_LAST: u32 = 10_000;

/// What `journalEntries` asks for.
pub(crate) enum JournalQuery {
    /// The records about one transaction.
    Txn(TxnId),
    /// The newest records, at most this many.
    Last(u32),
}

/// The core opened on IndexedDB, with what `open` needs to know.
pub(crate) struct Opened {
    pub(crate) core: CoreTerminal,
    /// Rows durable in storage.
    pub(crate) durable: usize,
    pub(crate) history: History,
    /// Records replayed (the tail after the snapshot, or every row).
    pub(crate) replayed: u64,
}

fn warn(text: &str) {
    web_sys::console::warn_1(&JsValue::from_str(text));
}

/// Opens the core from the stored snapshot and the rows after it, or by
/// replaying every row when there is no usable snapshot.
pub(crate) async fn open(
    storage: &Storage,
    config: &TerminalConfig,
    now: Timestamp,
    progress: &Progress,
) -> Result<Opened, BindingError> {
    match storage.read_snapshot().await {
        Ok(None) => {}
        Ok(Some(value)) => match from_snapshot(storage, config, value, now).await {
            Ok(opened) => return Ok(opened),
            Err(e) => warn(&format!(
                "posflow: the stored snapshot is not used ({}); replaying the journal from its \
                 start",
                e.describe()
            )),
        },
        Err(e) => warn(&format!(
            "posflow: the snapshot could not be read ({}); replaying the journal from its start",
            e.describe()
        )),
    }
    let (core, rows) = restore::replay_indexeddb(storage, config.clone(), progress, now).await?;
    let replayed = u64::from(rows.length());
    Ok(Opened {
        core,
        durable: replayed as usize,
        history: History::new(rows, Status::Loaded),
        replayed,
    })
}

async fn from_snapshot(
    storage: &Storage,
    config: &TerminalConfig,
    value: JsValue,
    now: Timestamp,
) -> Result<Opened, BindingError> {
    let unusable = |what: &str| PosError::SnapshotDamaged { what: what.into() };
    let bytes: js_sys::Uint8Array = value
        .dyn_into()
        .map_err(|_| unusable("the stored row is not a Uint8Array"))?;
    let snapshot = read_in_slices(&bytes).await?;
    let count = snapshot.count();
    let tail = storage.read_tail(count).await?;
    let head = format!(r#""hash":"{}""#, snapshot.head());
    match tail.last_covered {
        Some(row) if row.contains(&head) => {}
        Some(_) => {
            return Err(unusable(&format!("row {} is not its last record", count - 1)).into())
        }
        None => {
            return Err(unusable(&format!(
                "it covers {count} records, row {} is not stored",
                count - 1
            ))
            .into())
        }
    }
    let entries = storage::parse_rows(count, &tail.rows)?;
    let replayed = entries.len() as u64;
    let core = CoreTerminal::open_from_snapshot(config.clone(), snapshot, entries, now)?;
    let mut history = History::new(js_sys::Array::new(), Status::Loading);
    history.base_snapshot = Some(bytes);
    history.snapshot_count = count;
    Ok(Opened {
        core,
        durable: (count + replayed) as usize,
        history,
        replayed,
    })
}

/// Checks and decodes snapshot bytes (copied into the wasm once).
fn read(bytes: &js_sys::Uint8Array) -> Result<Snapshot, PosError> {
    Snapshot::reader(bytes.to_vec())?.finish()
}

/// [`read`] in slices of the page's thread: at 100,000 records its
/// checksum and decoding held the page for ~150 ms as it loaded.
async fn read_in_slices(bytes: &js_sys::Uint8Array) -> Result<Snapshot, PosError> {
    let mut reader = Snapshot::reader(bytes.to_vec())?;
    Slicer::new()
        .run(FIRST_STEP, |budget| reader.step(budget))
        .await
}

/// Reads and checks the rows before the core's base in the background,
/// then resolves `historyLoaded`. Stops if the terminal closes.
pub(crate) fn load_in_background(shared: Rc<Shared>) {
    wasm_bindgen_futures::spawn_local(async move {
        let status = match load(&shared).await {
            Ok(()) => Status::Loaded,
            Err(BindingError::Closed) => Status::Failed(BindingError::Closed),
            Err(e) => {
                warn(&format!(
                    "posflow: the journal before the snapshot could not be read: {}; \
                     exportJournal() is refused",
                    e.describe()
                ));
                Status::Failed(e)
            }
        };
        shared
            .history
            .borrow_mut()
            .set_status(status, shared.locale);
    });
}

async fn load(shared: &Rc<Shared>) -> Result<(), BindingError> {
    let (base, head) = {
        let core = shared.core.borrow();
        (core.journal().base(), core.journal().base_head().to_owned())
    };
    let mut prev = GENESIS_HASH.to_owned();
    let mut from = 0;
    while from < base {
        let to = (from + HISTORY_CHUNK).min(base);
        let storage = shared.storage.borrow().clone();
        let Some(storage) = storage.filter(|_| !shared.closed.get()) else {
            return Err(BindingError::Closed);
        };
        let read = storage.read_rows(from, Some(to)).await;
        // A close during the read may also be why it failed.
        if shared.closed.get() {
            return Err(BindingError::Closed);
        }
        let rows = read?;
        if u64::from(rows.length()) != to - from {
            return Err(PosError::JournalDamaged {
                damage: JournalDamage::Truncated,
                seq: from + u64::from(rows.length()),
                what: format!("rows {from}..{to} are not all stored"),
            }
            .into());
        }
        // Checked, indexed and kept a part at a time, in slices: a chunk
        // in one go held the page for ~25 ms at a time.
        let mut at = 0u32;
        Slicer::new()
            .run(FIRST_STEP, |budget| {
                if shared.closed.get() {
                    return Err(BindingError::Closed);
                }
                let end = rows
                    .length()
                    .min(at.saturating_add(u32::try_from(budget).unwrap_or(u32::MAX)));
                let texts: Vec<String> = (at..end)
                    .map(|i| rows.get(i).as_string().unwrap_or_default())
                    .collect();
                prev = verify_rows(from + u64::from(at), &prev, &texts)?;
                let mut history = shared.history.borrow_mut();
                history.index_rows(&texts);
                // Appended in place: a concat would copy every row read so
                // far, once per chunk.
                for i in at..end {
                    history.rows.push(&rows.get(i));
                }
                at = end;
                Ok((at == rows.length()).then_some(()))
            })
            .await?;
        from = to;
    }
    if prev != head {
        return Err(PosError::JournalDamaged {
            damage: JournalDamage::Dropped,
            seq: base,
            what: "the stored journal does not end where the snapshot does".into(),
        }
        .into());
    }
    Ok(())
}

/// Once a snapshot of `count` records (`bytes`) is written and the
/// history is at hand, the core forgets the entries the snapshot covers
/// and their rows join the history's strings, so that memory holds one
/// copy of the journal.
///
/// The rows are written in slices while the core still holds the entries,
/// so that what the page reads meanwhile does not change (~3 µs a row:
/// all of them after a full replay, 0.3 s at 100,000 records); then the
/// core forgets them in one step, which costs the tail it keeps, and they
/// are freed in slices. A command waits for all of it: until the core's
/// base is the snapshot's, a rollback could not rebuild the core.
async fn hand_over(shared: &Rc<Shared>, count: u64, bytes: &js_sys::Uint8Array) {
    let (base, have) = {
        let history = shared.history.borrow();
        let base = shared.core.borrow().journal().base();
        let have = u64::from(history.rows.length());
        if !matches!(history.status, Status::Loaded) || count <= base || have < base {
            return;
        }
        (base, have)
    };
    let rows = js_sys::Array::new();
    let mut txn_rows = Vec::new();
    let mut slices = Slicer::new();
    let mut seq = base;
    let written = slices
        .run(FIRST_STEP, |budget| {
            if shared.closed.get() {
                return Err(());
            }
            let core = shared.core.borrow();
            let to = count.min(seq.saturating_add(budget as u64));
            for entry in &core.journal().entries()[(seq - base) as usize..(to - base) as usize] {
                if let Some(txn) = entry.record.txn(entry.seq) {
                    txn_rows.push((entry.seq, txn.0));
                }
                if entry.seq >= have {
                    rows.push(&JsValue::from_str(&entry_json(entry)));
                }
            }
            seq = to;
            Ok((seq == count).then_some(()))
        })
        .await;
    if written.is_err() {
        return;
    }
    let gone = {
        let mut history = shared.history.borrow_mut();
        let mut core = shared.core.borrow_mut();
        // The queue is held: nothing moved them. Were it otherwise, the
        // rows written would not fit, and the core keeps its entries.
        if core.journal().base() != base || u64::from(history.rows.length()) != have {
            return;
        }
        let gone = core.forget_history(count);
        history.txn_rows.extend(txn_rows);
        for row in rows.iter() {
            history.rows.push(&row);
        }
        if u64::from(history.rows.length()) > count {
            history.rows = history.rows.slice(0, count as u32);
        }
        history.base_snapshot = Some(bytes.clone());
        gone
    };
    slices.drop_vec(gone).await;
}

/// Rebuilds the core as it stood at `entries` records after a storage
/// failure, from the snapshot its base stands on and its own tail.
pub(crate) fn reopen(
    shared: &Shared,
    core: &CoreTerminal,
    entries: usize,
    now: Timestamp,
) -> Result<CoreTerminal, PosError> {
    let journal = core.journal();
    let base = journal.base() as usize;
    let history = shared.history.borrow();
    let bytes = history
        .base_snapshot
        .as_ref()
        .ok_or_else(|| PosError::Internal {
            what: "no snapshot under the journal's base".into(),
        })?;
    let snapshot = read(bytes)?;
    let tail = journal.entries()[..entries - base].to_vec();
    CoreTerminal::open_from_snapshot(core.config().clone(), snapshot, tail, now)
}

/// Records became durable: a snapshot is due once enough have.
pub(crate) fn note_durable(shared: &Rc<Shared>, durable: usize) {
    let due = {
        let h = shared.history.borrow();
        !h.scheduled && (durable as u64).saturating_sub(h.snapshot_count) >= pace().every
    };
    if due {
        schedule(shared);
    }
}

/// The storage to write a snapshot to, if this terminal writes them: on
/// IndexedDB, as the journal's writer, not closed.
fn snapshot_storage(shared: &Shared) -> Option<Rc<Storage>> {
    let storage = shared.storage.borrow().clone()?;
    (storage.keeps_snapshots() && shared.read_only.is_none() && !shared.closed.get())
        .then_some(storage)
}

/// Writes a snapshot soon, at idle, if this terminal writes them.
pub(crate) fn schedule(shared: &Rc<Shared>) {
    if snapshot_storage(shared).is_none()
        || std::mem::replace(&mut shared.history.borrow_mut().scheduled, true)
    {
        return;
    }
    let shared = shared.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let _ = JsFuture::from(acquirer::resolve_after(pace().idle_ms, JsValue::UNDEFINED)).await;
        if let Err(e) = queued(&shared, write(&shared, false, Asked::Idle)).await {
            warn(&format!(
                "posflow: a snapshot was not written: {}",
                e.describe()
            ));
        }
        shared.history.borrow_mut().scheduled = false;
    });
}

/// Who asked for a snapshot: `writeSnapshot()` waits for it; one the
/// terminal scheduled gives way to a command that is waiting.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asked {
    Caller,
    Idle,
}

/// Why a snapshot was left unwritten.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unwritten {
    /// The terminal closed.
    Closed,
    /// At idle, a command came.
    GaveWay,
    /// The journal moved under the writer.
    Stale,
}

/// `writeSnapshot()`: a snapshot of what is durable, written now (unless
/// `force` is false and the stored one covers it already). Run it in the
/// command queue. `null` when nothing was written: this terminal writes no
/// snapshots (not IndexedDB, read-only, closed), an append is still
/// pending, there was nothing new, or, at idle, a command came first.
///
/// The state is written and the history taken over in slices of
/// [`crate::slices`], letting the page run in between: a snapshot of 100,000
/// records held the page's thread for ~110 ms in one go. The command
/// queue is held throughout, so the state cannot change under it; at idle
/// a command arriving while the state is written ends the snapshot (the
/// next append schedules it again), so a sale waits one step at most.
pub(crate) async fn write(
    shared: &Rc<Shared>,
    force: bool,
    asked: Asked,
) -> Result<JsValue, BindingError> {
    let Some(storage) = snapshot_storage(shared) else {
        return Ok(JsValue::NULL);
    };
    let (mut writer, count) = {
        let core = shared.core.borrow();
        let count = core.journal().len();
        let covered = shared.history.borrow().snapshot_count >= count as u64;
        if !shared.all_durable(count) || (covered && !force) {
            return Ok(JsValue::NULL);
        }
        (core.snapshot_writer(), count as u64)
    };
    let mut serialize_ms = 0.0;
    let written = Slicer::new()
        .run(FIRST_STEP, |budget| {
            if shared.closed.get() {
                return Err(Unwritten::Closed);
            }
            if asked == Asked::Idle && shared.queue.has_waiting() {
                return Err(Unwritten::GaveWay);
            }
            let t = now_ms();
            let step = writer.step(&shared.core.borrow(), budget);
            serialize_ms += now_ms() - t;
            match step {
                SnapshotStep::Done(bytes) => Ok(Some(bytes)),
                SnapshotStep::Wrote => Ok(None),
                // Not while the queue is held; but then its bytes would be
                // wrong, so nothing is written.
                SnapshotStep::Stale => Err(Unwritten::Stale),
            }
        })
        .await;
    let bytes = match written {
        Ok(bytes) => bytes,
        Err(why) => {
            #[cfg(feature = "test-hooks")]
            if why == Unwritten::GaveWay {
                COUNTS.with(|n| n.set((n.get().0, n.get().1 + 1)));
            }
            let _ = why;
            return Ok(JsValue::NULL);
        }
    };
    let bytes = js_sys::Uint8Array::from(&bytes[..]);
    let t1 = now_ms();
    storage.write_snapshot(&bytes).await?;
    let t2 = now_ms();
    {
        let mut history = shared.history.borrow_mut();
        history.snapshot_count = history.snapshot_count.max(count);
    }
    hand_over(shared, count, &bytes).await;
    #[cfg(feature = "test-hooks")]
    COUNTS.with(|n| n.set((n.get().0 + 1, n.get().1)));
    let info = js_sys::Object::new();
    set(&info, "records", &JsValue::from_f64(count as f64));
    set(&info, "bytes", &JsValue::from_f64(bytes.length() as f64));
    set(&info, "serializeMs", &JsValue::from_f64(serialize_ms));
    set(&info, "writeMs", &JsValue::from_f64(t2 - t1));
    Ok(info.into())
}
