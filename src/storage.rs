//! Where the journal lives in the browser: nowhere (`memory`),
//! `localStorage`, or IndexedDB.
//!
//! Entries are stored append-only, one row per entry, so a durable append
//! costs one small write however long the journal is:
//!
//! - IndexedDB: database `name`, object store `journal`, one row per entry
//!   (its JSON text) keyed by `seq`. Rows are written with `add`, which
//!   refuses to overwrite a `seq` that exists, in one transaction of
//!   durability `"strict"` (Chrome's default became `"relaxed"` in 121,
//!   which may acknowledge a write before it reaches the disk).
//! - localStorage: `{key}:{seq}` holds each entry's JSON text and `{key}`
//!   holds the count. The entries are written first and the count last, so
//!   a write that fails half-way (quota) leaves the durable journal as it
//!   was: rows past the count are ignored and overwritten later.
//!
//! The core verifies the hash chain of whatever is loaded. IndexedDB is
//! driven through web-sys directly: `indexed_db_futures` did the same job
//! for 16 KB more gzipped wasm.
//!
//! IndexedDB also keeps a snapshot of the terminal (issue 9): object store
//! `snapshot`, one row under the key `"latest"`, the core's snapshot bytes
//! (a `Uint8Array`, copied as is both ways). It is
//! derived data covering rows already durable; `open` reads it and only the
//! journal rows from its `count` on (see `src/history.rs`). Database
//! version 1 had the `journal` store only; version 2 adds `snapshot`, and
//! the upgrade keeps the rows.

use posflow_core::error::{JournalDamage, PosError};
use posflow_core::journal::{Entry, ExportReader};
use posflow_core::record::Record;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbTransaction};

use crate::convert::bounded;
use crate::error::BindingError;
use crate::input::{Input, Obj};
use crate::restore::Progress;
use crate::slices::{Slicer, FIRST_STEP};

/// The object store holding the journal rows.
const STORE: &str = "journal";

/// The object store holding the snapshot, one row.
const SNAPSHOT_STORE: &str = "snapshot";

/// The snapshot row's key.
const SNAPSHOT_KEY: &str = "latest";

/// 1: `journal`; 2: `journal` and `snapshot`.
const DB_VERSION: u32 = 2;

/// `storage` in the open config.
#[derive(Clone, tsify::Tsify)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub(crate) enum StorageConfig {
    /// Nothing is kept: the journal lives as long as the page.
    Memory,
    /// `localStorage`, entries under `{key}:{seq}`.
    Localstorage {
        /// Prefix of the keys.
        key: String,
    },
    /// IndexedDB database `name`.
    Indexeddb {
        /// The database name.
        name: String,
    },
}

impl Input for StorageConfig {
    const FIELDS: &'static [&'static str] = &["kind", "key", "name"];

    fn read(o: &Obj) -> Result<Self, PosError> {
        let kind = o.str("kind")?;
        match (kind.as_str(), o.opt_str("key")?, o.opt_str("name")?) {
            ("memory", None, None) => Ok(StorageConfig::Memory),
            ("localstorage", Some(key), None) => Ok(StorageConfig::Localstorage { key }),
            ("indexeddb", None, Some(name)) => Ok(StorageConfig::Indexeddb { name }),
            (_, key, name) => Err(o.invalid(
                "{ kind: \"memory\" }, { kind: \"localstorage\", key } or \
                 { kind: \"indexeddb\", name }",
                &format!(
                    "{{ kind: {kind:?}{}{} }}",
                    if key.is_some() { ", key" } else { "" },
                    if name.is_some() { ", name" } else { "" },
                ),
            )),
        }
    }
}

/// An opened storage.
pub(crate) enum Storage {
    Memory,
    Local {
        key: String,
        store: web_sys::Storage,
    },
    IndexedDb {
        name: String,
        db: IdbDatabase,
    },
}

/// Why a storage operation failed: the DOM exception's name (for example
/// `QuotaExceededError`) and message.
fn failure(operation: &str, e: impl std::fmt::Debug) -> BindingError {
    let what: String = format!("{e:?}").chars().take(200).collect();
    BindingError::StorageFailed {
        operation: operation.to_owned(),
        what,
    }
}

fn malformed(seq: u64, what: String) -> PosError {
    PosError::JournalDamaged {
        damage: JournalDamage::Malformed,
        seq,
        what,
    }
}

fn parse_entry(seq: u64, text: &str) -> Result<Entry<Record>, PosError> {
    serde_json::from_str(text).map_err(|e| malformed(seq, format!("row {seq}: {e}")))
}

impl Storage {
    /// Opens (creating if needed) the storage `config` names.
    pub(crate) async fn open(config: &StorageConfig) -> Result<Storage, BindingError> {
        match config {
            StorageConfig::Memory => Ok(Storage::Memory),
            StorageConfig::Localstorage { key } => {
                let key = bounded("storage.key", key)?.to_owned();
                let store = web_sys::window()
                    .and_then(|w| w.local_storage().ok().flatten())
                    .ok_or_else(|| failure("open localStorage", "localStorage is not available"))?;
                Ok(Storage::Local { key, store })
            }
            StorageConfig::Indexeddb { name } => {
                let name = bounded("storage.name", name)?.to_owned();
                let db = open_database(&name)
                    .await
                    .map_err(|e| failure("open IndexedDB", exception_name(&e)))?;
                Ok(Storage::IndexedDb { name, db })
            }
        }
    }

    /// The Web Locks name of this journal, or `None` for memory storage,
    /// which no other tab can see.
    pub(crate) fn lock_name(&self) -> Option<String> {
        match self {
            Storage::Memory => None,
            Storage::Local { key, .. } => Some(format!("posflow:localstorage:{key}")),
            Storage::IndexedDb { name, .. } => Some(format!("posflow:indexeddb:{name}")),
        }
    }

    /// The stored rows, for a replay from the first (the core checks
    /// them as it replays).
    pub(crate) async fn rows(&self) -> Result<Rows<'_>, BindingError> {
        match self {
            Storage::Memory => Ok(Rows::Array {
                rows: js_sys::Array::new(),
                from: 0,
            }),
            Storage::Local { key, store } => Ok(Rows::Local {
                key,
                store,
                count: local_count(key, store)?,
            }),
            Storage::IndexedDb { .. } => Ok(Rows::Array {
                rows: self.read_rows(0, None).await?,
                from: 0,
            }),
        }
    }

    /// How many journal rows are stored.
    pub(crate) async fn row_count(&self) -> Result<u64, BindingError> {
        match self {
            Storage::Memory => Ok(0),
            Storage::Local { key, store } => local_count(key, store),
            Storage::IndexedDb { db, .. } => {
                let count = async {
                    let tx = transaction(db, STORE, "readonly", "default")?;
                    let request = tx.object_store(STORE)?.count()?;
                    settled(&request, &["success", "error"]).await
                };
                let count = count
                    .await
                    .map_err(|e| failure("read", exception_name(&e)))?;
                Ok(count.as_f64().unwrap_or_default() as u64)
            }
        }
    }

    /// Writes the rows of a restored backup, from the first, into empty
    /// storage, in slices (`onProgress` stage `"save"`), all or none:
    /// IndexedDB in one strict transaction, whose next slice of `add`s is
    /// issued when the slice before is stored (a transaction stays active
    /// in its requests' success callbacks, and the page runs while it
    /// waits); localStorage rows first and the count last, as an append.
    pub(crate) async fn add_rows(
        &self,
        slicer: &mut Slicer,
        mut rows: ExportReader<'_>,
        progress: &Progress,
    ) -> Result<(), BindingError> {
        let total = rows.count();
        progress.report("save", 0, total);
        match self {
            Storage::Memory => {}
            Storage::Local { key, store } => {
                slicer
                    .run(FIRST_STEP, |budget| {
                        for _ in 0..budget {
                            let seq = rows.read();
                            let Some(row) = rows.next_entry()? else {
                                return Ok(Some(()));
                            };
                            store
                                .set_item(&format!("{key}:{seq}"), row)
                                .map_err(|e| failure("append", exception_name(&e)))?;
                        }
                        progress.report("save", rows.read(), total);
                        Ok::<_, BindingError>(None)
                    })
                    .await?;
                if total > 0 {
                    store
                        .set_item(key, &total.to_string())
                        .map_err(|e| failure("append", exception_name(&e)))?;
                }
            }
            Storage::IndexedDb { db, .. } => {
                let tx = transaction(db, STORE, "readwrite", "strict")
                    .map_err(|e| failure("append", exception_name(&e)))?;
                let added = match add_in_slices(&tx, slicer, &mut rows, progress).await {
                    Ok(()) => settled(&tx, &["complete", "error", "abort"])
                        .await
                        .map(drop)
                        .map_err(|e| failure("append", exception_name(&e))),
                    Err(e) => {
                        let _ = tx.abort();
                        Err(e)
                    }
                };
                if let Err(e) = added {
                    // A browser that ended the transaction between two
                    // slices has committed the rows added before: the
                    // storage was empty, so it is emptied again.
                    let _ = clear_rows(db).await;
                    return Err(e);
                }
            }
        }
        progress.report("save", total, total);
        Ok(())
    }

    /// Makes `entries` durable, all or none, before it returns.
    pub(crate) async fn append(&self, entries: &[Entry<Record>]) -> Result<(), BindingError> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        match self {
            Storage::Memory => Ok(()),
            Storage::Local { key, store } => {
                for entry in entries {
                    store
                        .set_item(&format!("{key}:{}", entry.seq), &entry_json(entry))
                        .map_err(|e| failure("append", exception_name(&e)))?;
                }
                store
                    .set_item(key, &(last.seq + 1).to_string())
                    .map_err(|e| failure("append", exception_name(&e)))
            }
            Storage::IndexedDb { db, .. } => add_all(db, entries)
                .await
                .map_err(|e| failure("append", exception_name(&e))),
        }
    }

    /// Closes the database connection, so another tab can upgrade or
    /// delete it.
    pub(crate) fn close(self) {
        if let Storage::IndexedDb { db, .. } = self {
            db.close();
        }
    }
}

/// The count a localStorage journal's `{key}` holds (0 when absent).
fn local_count(key: &str, store: &web_sys::Storage) -> Result<u64, BindingError> {
    match store.get_item(key).map_err(|e| failure("read", e))? {
        None => Ok(0),
        Some(text) => Ok(text
            .parse::<u64>()
            .map_err(|_| malformed(0, format!("localStorage {key:?} is not a count")))?),
    }
}

/// Stored rows (entry texts), read one at a time as a replay takes them.
pub(crate) enum Rows<'s> {
    /// As IndexedDB returned them: rows `from..`.
    Array { rows: js_sys::Array, from: u64 },
    /// localStorage's `{key}:{seq}` for `seq < count`.
    Local {
        key: &'s str,
        store: &'s web_sys::Storage,
        count: u64,
    },
}

impl Rows<'_> {
    /// The `seq` after the last row.
    pub(crate) fn end(&self) -> u64 {
        match self {
            Rows::Array { rows, from } => from + u64::from(rows.length()),
            Rows::Local { count, .. } => *count,
        }
    }

    /// Row `seq`'s text.
    pub(crate) fn get(&self, seq: u64) -> Result<String, BindingError> {
        match self {
            Rows::Array { rows, from } => rows
                .get((seq - from) as u32)
                .as_string()
                .ok_or_else(|| malformed(seq, format!("row {seq} is not text")).into()),
            Rows::Local { key, store, count } => store
                .get_item(&format!("{key}:{seq}"))
                .map_err(|e| failure("read", e))?
                .ok_or_else(|| {
                    PosError::JournalDamaged {
                        damage: JournalDamage::Truncated,
                        seq,
                        what: format!("row {seq} of {count} is missing"),
                    }
                    .into()
                }),
        }
    }
}

/// Deletes every journal row.
async fn clear_rows(db: &IdbDatabase) -> Result<(), JsValue> {
    let tx = transaction(db, STORE, "readwrite", "strict")?;
    tx.object_store(STORE)?.clear()?;
    settled(&tx, &["complete", "error", "abort"])
        .await
        .map(drop)
}

/// The `add`s of [`Storage::add_rows`] on IndexedDB: a slice of them, then
/// a wait for the slice's last request, whose success callback (where the
/// transaction is active) resumes this.
async fn add_in_slices(
    tx: &IdbTransaction,
    slicer: &mut Slicer,
    rows: &mut ExportReader<'_>,
    progress: &Progress,
) -> Result<(), BindingError> {
    let fail = |e: JsValue| failure("append", exception_name(&e));
    let store = tx.object_store(STORE).map_err(fail)?;
    let total = rows.count();
    // A look at the clock costs about a row's add.
    let look_every = Slicer::at_most(64) as u64;
    while rows.read() < total {
        let mut last = None;
        while let Some(row) = {
            let seq = rows.read();
            rows.next_entry()?.map(|row| (seq, row))
        } {
            let (seq, row) = row;
            let request = store
                .add_with_key(&JsValue::from_str(row), &JsValue::from_f64(seq as f64))
                .map_err(fail)?;
            last = Some(request);
            if (seq + 1) % look_every == 0 && slicer.used() {
                break;
            }
        }
        progress.report("save", rows.read(), total);
        if let Some(request) = last.filter(|_| rows.read() < total) {
            settled(&request, &["success", "error"])
                .await
                .map_err(fail)?;
            slicer.begin();
        }
    }
    Ok(())
}

/// Settles when `target` fires one of `events`: resolves on the first,
/// rejects (with the target's `error`) on any other. One closure serves all
/// of them and frees itself after the call.
async fn settled(target: &JsValue, events: &[&'static str]) -> Result<JsValue, JsValue> {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let ok = events[0];
        let t = target.clone();
        let handler = Closure::once_into_js(move |event: web_sys::Event| {
            if event.type_() == ok {
                let result = js_sys::Reflect::get(&t, &"result".into()).unwrap_or_default();
                let _ = resolve.call1(&JsValue::NULL, &result);
            } else {
                let error = js_sys::Reflect::get(&t, &"error".into()).unwrap_or_default();
                let _ = reject.call1(&JsValue::NULL, &error);
            }
        });
        for name in events {
            let _ = js_sys::Reflect::set(target, &format!("on{name}").into(), &handler);
        }
    });
    JsFuture::from(promise).await
}

async fn open_database(name: &str) -> Result<IdbDatabase, JsValue> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or_else(|| JsValue::from_str("IndexedDB is not available"))?;
    let request = factory.open_with_u32(name, DB_VERSION)?;
    // Creates what a new database, or one of an older version, lacks: from
    // nothing both stores, from version 1 the snapshot store (the rows
    // stay). `once_into_js` frees itself if called (a closure never called
    // stays, once per open of a new database).
    let upgrade_target = request.clone();
    let upgrade = Closure::once_into_js(move |_: web_sys::Event| {
        if let Ok(db) = upgrade_target.result() {
            let db: IdbDatabase = db.unchecked_into();
            for store in [STORE, SNAPSHOT_STORE] {
                if !db.object_store_names().contains(store) {
                    let _ = db.create_object_store(store);
                }
            }
        }
    });
    request.set_onupgradeneeded(Some(upgrade.unchecked_ref()));
    let db = settled(&request, &["success", "error", "blocked"]).await?;
    Ok(db.unchecked_into())
}

/// Adds every entry in one strict transaction; `add` refuses a `seq` that
/// is already stored, so a second writer cannot overwrite the first.
async fn add_all(db: &IdbDatabase, entries: &[Entry<Record>]) -> Result<(), JsValue> {
    let tx = transaction(db, STORE, "readwrite", "strict")?;
    let store = tx.object_store(STORE)?;
    for entry in entries {
        store.add_with_key(
            &JsValue::from_str(&entry_json(entry)),
            &JsValue::from_f64(entry.seq as f64),
        )?;
    }
    settled(&tx, &["complete", "error", "abort"]).await?;
    Ok(())
}

/// A transaction over object store `store`.
fn transaction(
    db: &IdbDatabase,
    store: &str,
    mode: &str,
    durability: &str,
) -> Result<IdbTransaction, JsValue> {
    // `durability` is not in web-sys' stable API; the browser reads it
    // from the options object (and ignores it before Chrome 83).
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"durability".into(), &durability.into())?;
    let open = js_sys::Reflect::get(db, &"transaction".into())?;
    let open: &js_sys::Function = open.unchecked_ref();
    let tx = open.call3(db, &store.into(), &mode.into(), &options)?;
    Ok(tx.unchecked_into())
}

/// Journal rows with `from <= seq < to` (to the end when `to` is `None`),
/// as stored: an array of JSON strings in `seq` order.
async fn rows_between(
    db: &IdbDatabase,
    from: u64,
    to: Option<u64>,
) -> Result<js_sys::Array, JsValue> {
    let tx = transaction(db, STORE, "readonly", "default")?;
    let range = match to {
        None => web_sys::IdbKeyRange::lower_bound(&(from as f64).into())?,
        Some(to) => web_sys::IdbKeyRange::bound_with_lower_open_and_upper_open(
            &(from as f64).into(),
            &(to as f64).into(),
            false,
            true,
        )?,
    };
    let request = tx.object_store(STORE)?.get_all_with_key(&range)?;
    Ok(settled(&request, &["success", "error"])
        .await?
        .unchecked_into())
}

/// What `open` reads after the snapshot: row `count - 1` (the snapshot's
/// head must be its hash) and every row from `count` on, in one
/// transaction.
pub(crate) struct Tail {
    /// Row `count - 1`, if stored.
    pub(crate) last_covered: Option<String>,
    /// Rows from `count` on, as stored.
    pub(crate) rows: js_sys::Array,
}

impl Storage {
    fn idb(&self) -> Result<&IdbDatabase, BindingError> {
        match self {
            Storage::IndexedDb { db, .. } => Ok(db),
            _ => Err(failure("snapshot", "only IndexedDB keeps snapshots")),
        }
    }

    /// Whether this storage keeps snapshots (IndexedDB).
    pub(crate) fn keeps_snapshots(&self) -> bool {
        matches!(self, Storage::IndexedDb { .. })
    }

    /// The stored snapshot row: `None` when there is none, else the value
    /// as stored (a `Uint8Array` unless something else wrote it).
    pub(crate) async fn read_snapshot(&self) -> Result<Option<JsValue>, BindingError> {
        let read = async {
            let tx = transaction(self.idb()?, SNAPSHOT_STORE, "readonly", "default")
                .map_err(|e| failure("read snapshot", exception_name(&e)))?;
            let request = tx
                .object_store(SNAPSHOT_STORE)
                .and_then(|s| s.get(&SNAPSHOT_KEY.into()))
                .map_err(|e| failure("read snapshot", exception_name(&e)))?;
            settled(&request, &["success", "error"])
                .await
                .map_err(|e| failure("read snapshot", exception_name(&e)))
        };
        let value = read.await?;
        Ok((!value.is_undefined()).then_some(value))
    }

    /// Replaces the snapshot row. Its rows are durable already, so the
    /// write need not be strict: a crash keeps the old row or the new one.
    pub(crate) async fn write_snapshot(
        &self,
        bytes: &js_sys::Uint8Array,
    ) -> Result<(), BindingError> {
        let write = async {
            let tx = transaction(
                self.idb().map_err(|_| JsValue::NULL)?,
                SNAPSHOT_STORE,
                "readwrite",
                "relaxed",
            )?;
            tx.object_store(SNAPSHOT_STORE)?
                .put_with_key(bytes, &SNAPSHOT_KEY.into())?;
            settled(&tx, &["complete", "error", "abort"]).await
        };
        write
            .await
            .map(drop)
            .map_err(|e| failure("write snapshot", exception_name(&e)))
    }

    /// Row `count - 1` and the rows from `count` on.
    pub(crate) async fn read_tail(&self, count: u64) -> Result<Tail, BindingError> {
        let db = self.idb()?;
        let read = async {
            let tx = transaction(db, STORE, "readonly", "default")?;
            let store = tx.object_store(STORE)?;
            let last = store.get(&((count - 1) as f64).into())?;
            let range = web_sys::IdbKeyRange::lower_bound(&(count as f64).into())?;
            let rows = store.get_all_with_key(&range)?;
            let last = settled(&last, &["success", "error"]).await?;
            let rows = settled(&rows, &["success", "error"]).await?;
            Ok::<_, JsValue>(Tail {
                last_covered: last.as_string(),
                rows: rows.unchecked_into(),
            })
        };
        read.await.map_err(|e| failure("read", exception_name(&e)))
    }

    /// The journal rows with `from <= seq < to` as stored (IndexedDB only:
    /// `load` reads the other storages).
    pub(crate) async fn read_rows(
        &self,
        from: u64,
        to: Option<u64>,
    ) -> Result<js_sys::Array, BindingError> {
        rows_between(self.idb()?, from, to)
            .await
            .map_err(|e| failure("read", exception_name(&e)))
    }
}

/// Parses stored rows (JSON strings) from `seq == from` on into entries
/// (the core verifies their chain).
pub(crate) fn parse_rows(from: u64, rows: &js_sys::Array) -> Result<Vec<Entry<Record>>, PosError> {
    let mut entries = Vec::with_capacity(rows.length() as usize);
    for (i, row) in rows.iter().enumerate() {
        let seq = from + i as u64;
        entries.push(parse_entry(seq, &row.as_string().unwrap_or_default())?);
    }
    Ok(entries)
}

/// An entry's row text: what every storage keeps, and what the history's
/// rows and an export are made of.
pub(crate) fn entry_json(entry: &Entry<Record>) -> String {
    posflow_core::json::to_string(entry)
}

/// The DOM exception's name (`QuotaExceededError`, `SecurityError`, …).
fn exception_name(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.name()))
        .or_else(|| {
            js_sys::Reflect::get(e, &"name".into())
                .ok()
                .and_then(|n| n.as_string())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Asks the browser not to evict this origin's storage under pressure.
/// Absent on old WebViews; the answer does not change what we do.
pub(crate) fn request_persistence() {
    let persist = js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|n| js_sys::Reflect::get(&n, &"storage".into()))
        .and_then(|s| {
            let f = js_sys::Reflect::get(&s, &"persist".into())?;
            Ok((s, f))
        });
    if let Ok((storage, f)) = persist {
        if let Some(f) = f.dyn_ref::<js_sys::Function>() {
            // The promise's rejection (if any) is nothing to act on.
            if let Ok(p) = f.call0(&storage) {
                if let Ok(p) = p.dyn_into::<js_sys::Promise>() {
                    ignore_rejection(p);
                }
            }
        }
    }
}

/// Awaits `p` in the background so its rejection is handled, and drops it.
pub(crate) fn ignore_rejection(p: js_sys::Promise) {
    wasm_bindgen_futures::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(p).await;
    });
}
