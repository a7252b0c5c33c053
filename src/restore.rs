//! Opening from a long journal in slices of the page's thread, with
//! progress (issue 9: a year's journal must not freeze the screen for
//! seconds): a backup restored by `Terminal.open({ journal })`, and the
//! replay of every stored row when there is no snapshot to start from
//! (localStorage always, IndexedDB before its first snapshot).
//!
//! Each entry is checked against the chain and applied by the core's
//! [`Replay`] as it comes, a step at a time ([`crate::slices`]); an export
//! is cut into its entries by the core's [`ExportReader`]. A restored
//! backup's rows are then written to storage from its own text (no entry
//! is written out again), all or none ([`Storage::add_rows`]). Where it
//! stands is told to `onProgress`: `{ stage: "replay" | "save", done,
//! total }`, counts of records.

use posflow_core::error::PosError;
use posflow_core::journal::ExportReader;
use posflow_core::terminal::{Replay, Terminal as CoreTerminal, TerminalConfig};
use posflow_core::time::Timestamp;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{set, BindingError};
use crate::slices::{Slicer, FIRST_STEP};
use crate::storage::{Rows, Storage};

/// `onProgress` of the open config: told where a long open stands.
#[derive(Default)]
pub(crate) struct Progress(Option<js_sys::Function>);

impl Progress {
    /// From the config's `onProgress`: absent, or a function.
    pub(crate) fn from_config(value: JsValue) -> Result<Progress, PosError> {
        if value.is_undefined() || value.is_null() {
            return Ok(Progress(None));
        }
        value.dyn_into().map(|f| Progress(Some(f))).map_err(|_| {
            PosError::invalid_input(
                "onProgress",
                "a function taking { stage, done, total }",
                "something else",
            )
        })
    }

    /// Tells `onProgress` that `done` of `total` records of `stage` are
    /// done. What the callback throws is not the open's failure: it is
    /// said on the console and the open goes on.
    pub(crate) fn report(&self, stage: &str, done: u64, total: u64) {
        let Some(callback) = &self.0 else { return };
        let p = js_sys::Object::new();
        set(&p, "stage", &stage.into());
        set(&p, "done", &(done as f64).into());
        set(&p, "total", &(total as f64).into());
        if let Err(e) = callback.call1(&JsValue::NULL, &p) {
            web_sys::console::warn_2(&"posflow: onProgress threw".into(), &e);
        }
    }
}

/// Replays stored rows from the first, in slices: the terminal as a
/// restart leaves it.
pub(crate) async fn replay_stored(
    config: TerminalConfig,
    rows: &Rows<'_>,
    progress: &Progress,
    now: Timestamp,
) -> Result<CoreTerminal, BindingError> {
    let mut replay = Replay::new(config)?;
    progress.report("replay", 0, rows.end());
    replay_rows(&mut replay, &mut Slicer::new(), rows, rows.end(), progress).await?;
    Ok(replay.open(now))
}

/// Rows read per IndexedDB request of a full replay: one `getAll` of
/// 100,000 rows blocked the page for ~120 ms as it handed them over.
const READ_CHUNK: usize = 5_000;

/// [`replay_stored`] of every IndexedDB row, read a chunk at a time
/// while the replay goes on; returns the rows as well, as stored.
pub(crate) async fn replay_indexeddb(
    storage: &Storage,
    config: TerminalConfig,
    progress: &Progress,
    now: Timestamp,
) -> Result<(CoreTerminal, js_sys::Array), BindingError> {
    let total = storage.row_count().await?;
    let mut replay = Replay::new(config)?;
    let mut slicer = Slicer::new();
    let all = js_sys::Array::new();
    let per_read = Slicer::at_most(READ_CHUNK) as u64;
    progress.report("replay", 0, total);
    loop {
        let from = u64::from(all.length());
        let chunk = storage.read_rows(from, Some(from + per_read)).await?;
        let rows = Rows::Array {
            rows: chunk.clone(),
            from,
        };
        // Rows another tab appends meanwhile count too.
        let total = total.max(rows.end());
        replay_rows(&mut replay, &mut slicer, &rows, total, progress).await?;
        chunk.for_each(&mut |row, _, _| {
            all.push(&row);
        });
        if u64::from(chunk.length()) < per_read {
            return Ok((replay.open(now), all));
        }
    }
}

/// Replays `rows` from where `replay` stands to their end, in slices.
async fn replay_rows(
    replay: &mut Replay,
    slicer: &mut Slicer,
    rows: &Rows<'_>,
    total: u64,
    progress: &Progress,
) -> Result<(), BindingError> {
    let end = rows.end();
    slicer
        .run(FIRST_STEP, |budget| {
            let to = end.min(replay.len().saturating_add(budget as u64));
            while replay.len() < to {
                replay.push_text(&rows.get(replay.len())?)?;
            }
            progress.report("replay", to, total);
            Ok::<_, BindingError>((to == end).then_some(()))
        })
        .await
}

/// Restores a backup (`exportJournal()`'s text) into empty `storage`:
/// copies the text into the wasm, checks and replays its entries, and
/// writes its rows, all in slices. Returns the terminal as a restart
/// leaves it and how many records the backup held (all durable once this
/// returns).
pub(crate) async fn restore(
    storage: &Storage,
    config: TerminalConfig,
    text: &js_sys::JsString,
    progress: &Progress,
    now: Timestamp,
) -> Result<(CoreTerminal, u64), BindingError> {
    let mut slicer = Slicer::new();
    let text = slicer.string(text).await;
    let mut export = ExportReader::new(&text)?;
    let total = export.count();
    let mut replay = Replay::new(config)?;
    progress.report("replay", 0, total);
    slicer
        .run(FIRST_STEP, |budget| {
            for _ in 0..budget {
                match export.next_entry()? {
                    Some(row) => replay.push_text(row)?,
                    None => return Ok(Some(())),
                }
            }
            progress.report("replay", replay.len(), total);
            Ok::<_, PosError>(None)
        })
        .await?;
    progress.report("replay", total, total);
    // The rows are the export's entries as they stand in its text: they
    // were checked to be the text the journal wrote for each.
    storage
        .add_rows(&mut slicer, ExportReader::new(&text)?, progress)
        .await?;
    Ok((replay.open(now), total))
}
