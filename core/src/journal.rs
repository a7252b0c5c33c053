//! The append-only, hash-chained journal (DESIGN.md invariant 7).
//!
//! Each entry carries its sequence number, the hash of the entry before it,
//! and its own hash over `seq ‖ prev ‖ record` (SHA-256). The terminal's
//! state is what replaying the records produces, so a journal that verifies
//! is the terminal. An export also carries the count and the head hash, so a
//! tail cut off at a record boundary is caught as well as one cut mid-text.
//!
//! The chain detects accidental and casual damage; it is not a signature.
//! Someone who can rewrite the whole file can rewrite every hash.
//!
//! A journal may start at a *base*: a terminal opened from a snapshot
//! (`crate::terminal::snapshot`) holds only the entries after the `count`
//! the snapshot covers, chained on from its `head`. [`Journal::len`] is still
//! the whole count; the history before the base stays with the caller's
//! storage, and an export of such a journal takes it from there
//! ([`Journal::export_json_with`]).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{JournalDamage, PosError};

/// The format tag of an export; bumped on any incompatible change.
pub const EXPORT_FORMAT: &str = "posflow-journal/1";

/// The `prev` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One journal entry: a record and its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry<R> {
    /// Position in the journal, from 0.
    pub seq: u64,
    /// The previous entry's hash (hex), or [`GENESIS_HASH`].
    pub prev: String,
    /// This entry's hash (hex).
    pub hash: String,
    /// The record.
    pub record: R,
}

/// An exported journal: what `exportJournal` hands out and `open` takes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Export<R> {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// How many entries follow.
    pub count: u64,
    /// The last entry's hash, or [`GENESIS_HASH`] when empty.
    pub head: String,
    /// The entries, in order.
    pub entries: Vec<Entry<R>>,
}

/// The journal: entries in order, verified on the way in. It holds every
/// entry, or (after a snapshot) those after its base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal<R> {
    /// How many entries come before the held ones (0: it holds them all).
    base: u64,
    /// The hash of entry `base - 1`, or [`GENESIS_HASH`].
    base_head: String,
    entries: Vec<Entry<R>>,
}

impl<R> Default for Journal<R> {
    fn default() -> Self {
        Journal {
            base: 0,
            base_head: GENESIS_HASH.to_owned(),
            entries: Vec::new(),
        }
    }
}

thread_local! {
    /// The text of the record being appended: it is only hashed, so one
    /// buffer serves every append (a fresh 1 KiB allocation each time was
    /// 5 % of a sale in the wasm, dlmalloc's slow path).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An entry's hash over `seq ‖ prev ‖ record`, the record as its JSON text,
/// in lower-case hex. The text is written into `text` (cleared first, so a
/// caller hashing many entries reuses one buffer) and hashed in one piece:
/// the writer writes many small pieces, cheap to append to a buffer and
/// dear to feed to the hash one by one.
fn hash_entry<R: Serialize>(
    seq: u64,
    prev: &str,
    record: &R,
    text: &mut Vec<u8>,
) -> serde_json::Result<[u8; 64]> {
    text.clear();
    crate::json::write(record, text)?;
    Ok(hash_text(seq, prev, text))
}

/// [`hash_entry`] of a record already written as text.
fn hash_text(seq: u64, prev: &str, record_json: &[u8]) -> [u8; 64] {
    let mut h = Sha256::new();
    h.update(seq.to_be_bytes());
    h.update(prev.as_bytes());
    h.update(record_json);
    let mut hex = [0; 64];
    hex::encode_to_slice(h.finalize(), &mut hex).expect("64 hex digits for 32 bytes");
    hex
}

fn damaged(damage: JournalDamage, seq: u64, what: impl Into<String>) -> PosError {
    PosError::JournalDamaged {
        damage,
        seq,
        what: what.into(),
    }
}

impl<R: Serialize + DeserializeOwned + Clone> Journal<R> {
    /// An empty journal.
    pub fn new() -> Self {
        Journal::default()
    }

    /// The entries held, in order: all of them, or those from
    /// [`Journal::base`] on.
    pub fn entries(&self) -> &[Entry<R>] {
        &self.entries
    }

    /// How many entries there are, the history before the base included.
    pub fn len(&self) -> usize {
        self.base as usize + self.entries.len()
    }

    /// Whether the journal is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many entries come before the held ones: 0 for a journal that
    /// holds them all, a snapshot's `count` for one opened from it.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The hash of the last entry before the held ones, or
    /// [`GENESIS_HASH`].
    pub fn base_head(&self) -> &str {
        &self.base_head
    }

    /// The last entry's hash, or [`GENESIS_HASH`].
    pub fn head(&self) -> &str {
        self.entries
            .last()
            .map_or(self.base_head.as_str(), |e| e.hash.as_str())
    }

    /// The hash of entry `seq` when it is held (or is the base's last).
    pub fn hash_of(&self, seq: u64) -> Option<&str> {
        if seq.checked_add(1) == Some(self.base) {
            return Some(&self.base_head);
        }
        let i = seq.checked_sub(self.base)?;
        self.entries.get(i as usize).map(|e| e.hash.as_str())
    }

    /// Appends a record and returns the new entry, to be persisted by the
    /// caller before anything that depends on it happens. The journal holds
    /// the one copy; a caller that needs its own clones it.
    pub fn append(&mut self, record: R) -> &Entry<R> {
        let seq = self.len() as u64;
        let prev = self.head().to_owned();
        let hash = SCRATCH
            .with_borrow_mut(|text| hash_entry(seq, &prev, &record, text))
            .expect("records serialize");
        self.entries.push(Entry {
            seq,
            hash: std::str::from_utf8(&hash).expect("hex").to_owned(),
            prev,
            record,
        });
        self.entries.last().expect("just pushed")
    }

    /// Takes the entries held, leaving none. For
    /// [`crate::terminal::Terminal::dismantle`]: the journal no longer ends
    /// where its head says.
    pub(crate) fn take_entries(&mut self) -> Vec<Entry<R>> {
        std::mem::take(&mut self.entries)
    }

    /// Verifies entries as a storage backend returns them, one by one.
    pub fn from_entries(entries: Vec<Entry<R>>) -> Result<Self, PosError> {
        Journal::from_tail(0, GENESIS_HASH, entries)
    }

    /// Verifies the entries that follow `count` entries ending in `head`
    /// (a snapshot's), and holds only those. `from_tail(0, GENESIS_HASH, e)`
    /// is [`Journal::from_entries`].
    pub fn from_tail(count: u64, head: &str, entries: Vec<Entry<R>>) -> Result<Self, PosError> {
        verify_chain(count, head, &entries)?;
        Ok(Journal {
            base: count,
            base_head: head.to_owned(),
            entries,
        })
    }

    /// Drops the held entries before `count` (the caller's storage keeps
    /// them) and returns them: the journal then starts at base `count`.
    /// Nothing happens when `count` is not past the base.
    ///
    /// # Panics
    ///
    /// If `count` is beyond the journal's end.
    pub fn forget_until(&mut self, count: u64) -> Vec<Entry<R>> {
        assert!(
            count as usize <= self.len(),
            "forget past the journal's end"
        );
        if count <= self.base {
            return Vec::new();
        }
        let cut = (count - self.base) as usize;
        let rest = self.entries.split_off(cut);
        let gone = std::mem::replace(&mut self.entries, rest);
        self.base = count;
        self.base_head = gone.last().expect("cut > 0").hash.clone();
        gone
    }

    /// The entries, handed back without a copy.
    pub fn into_entries(self) -> Vec<Entry<R>> {
        self.entries
    }

    /// The export document.
    ///
    /// # Panics
    ///
    /// If the journal starts at a base: its history is not here
    /// ([`Journal::export_json_with`]).
    pub fn export(&self) -> Export<R> {
        assert_eq!(
            self.base, 0,
            "the export of a based journal needs its history"
        );
        Export {
            format: EXPORT_FORMAT.to_owned(),
            count: self.entries.len() as u64,
            head: self.head().to_owned(),
            entries: self.entries.clone(),
        }
    }

    /// The export as JSON text.
    ///
    /// # Panics
    ///
    /// If the journal starts at a base ([`Journal::export_json_with`]).
    pub fn export_json(&self) -> String {
        crate::json::to_string(&self.export())
    }

    /// The export of the first `count` entries as JSON text, the same bytes
    /// as [`Journal::export_json`] of a journal holding them, for a journal
    /// whose history before the base the caller holds: `history` is the
    /// text of entries `0..base`, one entry's JSON each, as storage keeps
    /// them. Refused with `JOURNAL_LOADING` while fewer than `base` rows
    /// are given, and with `JOURNAL_DAMAGED` when they do not chain into
    /// the base.
    pub fn export_json_with<S: AsRef<str>>(
        &self,
        history: &[S],
        count: u64,
    ) -> Result<String, PosError> {
        if (history.len() as u64) < self.base {
            return Err(PosError::JournalLoading {
                loaded: history.len() as u64,
                total: self.len() as u64,
            });
        }
        let history = &history[..self.base as usize];
        if verify_rows(0, GENESIS_HASH, history)? != self.base_head {
            return Err(damaged(
                JournalDamage::Dropped,
                self.base,
                "the history does not end where the journal's base does",
            ));
        }
        let count = count.clamp(self.base, self.len() as u64);
        let tail = &self.entries[..(count - self.base) as usize];
        let head = match count {
            0 => GENESIS_HASH,
            n => self
                .hash_of(n - 1)
                .expect("entries base - 1 .. len are known"),
        };
        let mut out = export_prefix(count, head);
        let rows = history.iter().map(|r| r.as_ref().to_owned());
        let tail = tail.iter().map(crate::json::to_string);
        for (i, row) in rows.chain(tail).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&row);
        }
        out.push_str(EXPORT_SUFFIX);
        Ok(out)
    }

    /// Parses and verifies an exported journal. Any change to the text —
    /// a changed byte, a dropped, swapped or duplicated record, a cut — is
    /// refused with `JOURNAL_DAMAGED` saying what and where. A long export
    /// can be read in steps instead: [`ExportReader`] and [`read_entry`].
    pub fn import_json(text: &str) -> Result<Self, PosError> {
        let mut export = ExportReader::new(text)?;
        let mut journal = Journal::new();
        let mut scratch = Vec::new();
        while let Some(row) = export.next_entry()? {
            let entry = read_entry(journal.len() as u64, journal.head(), row, &mut scratch)?;
            journal.entries.push(entry);
        }
        Ok(journal)
    }

    /// Appends an entry [`read_entry`] or [`check_entry`] found to follow
    /// this journal's head.
    pub(crate) fn push_checked(&mut self, entry: Entry<R>) {
        debug_assert_eq!(entry.seq, self.len() as u64);
        debug_assert_eq!(entry.prev, self.head());
        self.entries.push(entry);
    }
}

/// Reads one entry's text — a storage row, or one entry of an export — as
/// entry `seq`, following the entry whose hash is `prev`: parsed, and
/// checked to be the text [`Journal::append`] wrote for it (so an entry
/// that parses to the same values from other text is still a change), and
/// to carry the hash of its record's text. `scratch` is a buffer reused
/// across calls.
pub fn read_entry<R: Serialize + DeserializeOwned>(
    seq: u64,
    prev: &str,
    text: &str,
    scratch: &mut Vec<u8>,
) -> Result<Entry<R>, PosError> {
    let entry: Entry<R> = serde_json::from_str(text).map_err(|e| {
        damaged(
            JournalDamage::Malformed,
            seq,
            format!("not a journal entry: {e}"),
        )
    })?;
    if entry.seq != seq {
        return Err(misplaced(seq, entry.seq, false));
    }
    scratch.clear();
    crate::json::write(&entry, scratch).map_err(|e| {
        damaged(
            JournalDamage::Malformed,
            seq,
            format!("unserializable: {e}"),
        )
    })?;
    if scratch.as_slice() != text.as_bytes() {
        return Err(damaged(
            JournalDamage::Changed,
            seq,
            "the text differs from the entry it encodes",
        ));
    }
    // It does not split only when its hashes are not 64 hex digits.
    let hash = match split_row(text) {
        Some((_, _, _, record)) => hash_text(seq, &entry.prev, record.as_bytes()),
        None => [0; 64],
    };
    check_link(seq, prev, &entry, &hash)?;
    Ok(entry)
}

/// Checks a parsed entry as entry `seq` following the hash `prev`:
/// [`read_entry`] for an entry that is not text. `scratch` is a buffer
/// reused across calls.
pub fn check_entry<R: Serialize>(
    seq: u64,
    prev: &str,
    entry: &Entry<R>,
    scratch: &mut Vec<u8>,
) -> Result<(), PosError> {
    if entry.seq != seq {
        return Err(misplaced(seq, entry.seq, false));
    }
    let hash = hash_entry(entry.seq, &entry.prev, &entry.record, scratch).map_err(|e| {
        damaged(
            JournalDamage::Malformed,
            seq,
            format!("unserializable: {e}"),
        )
    })?;
    check_link(seq, prev, entry, &hash)
}

/// An entry's hash is `hash`, and it follows `prev`.
fn check_link<R>(seq: u64, prev: &str, entry: &Entry<R>, hash: &[u8; 64]) -> Result<(), PosError> {
    if entry.hash.as_bytes() != hash {
        return Err(damaged(
            JournalDamage::Changed,
            seq,
            "content does not match its hash",
        ));
    }
    if entry.prev != prev {
        return Err(damaged(
            JournalDamage::Dropped,
            seq,
            "does not follow the record before it",
        ));
    }
    Ok(())
}

/// Record `found` where `expected` belongs: moved when it is behind, or
/// when `expected` comes `later`; else `expected` was dropped.
pub(crate) fn misplaced(expected: u64, found: u64, later: bool) -> PosError {
    let damage = if later || found < expected {
        JournalDamage::Reordered
    } else {
        JournalDamage::Dropped
    };
    damaged(
        damage,
        expected,
        format!("expected record {expected}, found record {found}"),
    )
}

/// An export read an entry at a time, so a long one can be restored in
/// steps: the header is checked first, then each entry's text is cut out
/// by its brackets (cheap: the caller parses and checks it with
/// [`read_entry`]), and the end is checked against the header's count and
/// head. [`Journal::import_json`] is this in one go.
#[derive(Debug)]
pub struct ExportReader<'t> {
    /// What is left after the entries read so far.
    rest: &'t str,
    count: u64,
    head: &'t str,
    /// Entries cut out so far.
    read: u64,
    /// The hash the last entry cut out says it has.
    last_hash: &'t str,
    ended: bool,
}

impl<'t> ExportReader<'t> {
    /// Checks the export's header: its format, `count` and `head`, as
    /// [`Journal::export_json`] writes them (whitespace around the text
    /// aside).
    pub fn new(text: &'t str) -> Result<Self, PosError> {
        let text = text.trim();
        let malformed = |what: &str| damaged(JournalDamage::Malformed, 0, what);
        let not_export = || malformed("not a journal export: its header is not one");
        let rest = text.strip_prefix(r#"{"format":""#).ok_or_else(not_export)?;
        let (format, rest) = rest.split_once('"').ok_or_else(not_export)?;
        if format != EXPORT_FORMAT {
            return Err(malformed(&format!(
                "format {format:?}, expected {EXPORT_FORMAT:?}"
            )));
        }
        let rest = rest.strip_prefix(r#","count":"#).ok_or_else(not_export)?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let count: u64 = rest[..digits].parse().map_err(|_| not_export())?;
        let rest = rest[digits..]
            .strip_prefix(r#","head":""#)
            .ok_or_else(not_export)?;
        let (head, rest) = (
            rest.get(..64).ok_or_else(not_export)?,
            rest.get(64..).ok_or_else(not_export)?,
        );
        let rest = rest
            .strip_prefix(r#"","entries":["#)
            .ok_or_else(not_export)?;
        let header = &text[..text.len() - rest.len()];
        if header != export_prefix(count, head) {
            return Err(damaged(
                JournalDamage::Changed,
                0,
                "the header differs from the one the journal writes",
            ));
        }
        Ok(ExportReader {
            rest,
            count,
            head,
            read: 0,
            last_hash: GENESIS_HASH,
            ended: false,
        })
    }

    /// How many entries the header says follow.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// How many entries have been cut out.
    pub fn read(&self) -> u64 {
        self.read
    }

    /// The next entry's text, or `None` after the last, once the end is
    /// checked: as many entries as `count`, the last with the hash `head`.
    /// An entry out of its place is refused here (moved or dropped), its
    /// content is for [`read_entry`].
    pub fn next_entry(&mut self) -> Result<Option<&'t str>, PosError> {
        let at = self.read;
        let malformed = |what: &str| damaged(JournalDamage::Malformed, at, what);
        if self.ended {
            return Ok(None);
        }
        if self.rest == EXPORT_SUFFIX {
            if self.read < self.count {
                return Err(damaged(
                    JournalDamage::Truncated,
                    at,
                    format!("{at} entries, the export says {}", self.count),
                ));
            }
            if self.last_hash != self.head {
                return Err(damaged(
                    JournalDamage::Truncated,
                    at,
                    "the last entry is not the exported head",
                ));
            }
            self.ended = true;
            return Ok(None);
        }
        let rest = if at == 0 {
            self.rest
        } else {
            self.rest
                .strip_prefix(',')
                .ok_or_else(|| malformed("not a journal export: no `,` or `]}` after an entry"))?
        };
        let len =
            object_len(rest).ok_or_else(|| malformed("not a journal export: an entry is cut"))?;
        let (entry, rest) = rest.split_at(len);
        if let Some((seq, _, hash, _)) = split_row(entry) {
            if seq != at {
                let later = rest.contains(&format!(r#"{{"seq":{at},"prev""#));
                return Err(misplaced(at, seq, later));
            }
            self.last_hash = hash;
        }
        if at == self.count {
            return Err(damaged(
                JournalDamage::Changed,
                at,
                format!("more entries than the {} the export says", self.count),
            ));
        }
        self.rest = rest;
        self.read += 1;
        Ok(Some(entry))
    }
}

/// The length of the JSON object at the start of `text`, found by its
/// brackets with strings skipped; `None` when it is not one or does not
/// end within `text`. Whether it is valid JSON is the parser's to say.
fn object_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'{') {
        return None;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The text of an export up to its first entry: what
/// [`Journal::export_json`] writes before the entries, which follow joined
/// by `,`, then [`EXPORT_SUFFIX`].
pub fn export_prefix(count: u64, head: &str) -> String {
    // The field order and spelling of `Export`, as serde_json writes it.
    format!(r#"{{"format":"{EXPORT_FORMAT}","count":{count},"head":"{head}","entries":["#)
}

/// What follows the last entry of an export.
pub const EXPORT_SUFFIX: &str = "]}";

/// Checks entry texts as storage keeps them (one entry's JSON each, as
/// [`Journal::append`] made it) against the chain without parsing their
/// records: `rows` are entries `from`, `from + 1`, … and `prev` is the hash
/// of entry `from - 1` (or [`GENESIS_HASH`]). Returns the hash of the last
/// row (`prev` when there is none). Each row's hash covers the exact bytes
/// of its record, so any change to a row is found.
pub fn verify_rows<S: AsRef<str>>(from: u64, prev: &str, rows: &[S]) -> Result<String, PosError> {
    let mut prev = prev.to_owned();
    for (i, row) in rows.iter().enumerate() {
        let seq = from + i as u64;
        let (row_seq, row_prev, hash, record) = split_row(row.as_ref())
            .ok_or_else(|| damaged(JournalDamage::Malformed, seq, "not a journal entry"))?;
        if row_seq != seq {
            return Err(damaged(
                JournalDamage::Dropped,
                seq,
                format!("expected record {seq}, found record {row_seq}"),
            ));
        }
        if hash.as_bytes() != hash_text(seq, row_prev, record.as_bytes()) {
            return Err(damaged(
                JournalDamage::Changed,
                seq,
                "content does not match its hash",
            ));
        }
        if row_prev != prev {
            return Err(damaged(
                JournalDamage::Dropped,
                seq,
                "does not follow the record before it",
            ));
        }
        hash.clone_into(&mut prev);
    }
    Ok(prev)
}

/// A stored row's `seq` and the JSON text of its record, as
/// [`Journal::append`] writes rows; `None` for text of another shape.
/// Nothing is checked against the chain: that is [`verify_rows`].
pub fn row_record(row: &str) -> Option<(u64, &str)> {
    split_row(row).map(|(seq, _, _, record)| (seq, record))
}

/// `{"seq":N,"prev":"…","hash":"…","record":…}` → its four parts.
fn split_row(row: &str) -> Option<(u64, &str, &str, &str)> {
    let rest = row.strip_prefix(r#"{"seq":"#)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let seq = rest[..digits].parse().ok()?;
    let rest = rest[digits..].strip_prefix(r#","prev":""#)?;
    let (prev, rest) = (rest.get(..64)?, rest.get(64..)?);
    let rest = rest.strip_prefix(r#"","hash":""#)?;
    let (hash, rest) = (rest.get(..64)?, rest.get(64..)?);
    let record = rest.strip_prefix(r#"","record":"#)?.strip_suffix('}')?;
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(prev) && hex(hash)).then_some((seq, prev, hash, record))
}

/// Verifies `entries` as entries `from`, `from + 1`, … following `head`.
fn verify_chain<R: Serialize>(from: u64, head: &str, entries: &[Entry<R>]) -> Result<(), PosError> {
    let mut prev = head;
    let mut scratch = Vec::with_capacity(1024);
    for (i, entry) in entries.iter().enumerate() {
        let seq = from + i as u64;
        if entry.seq != seq {
            let later = entries[i..].iter().any(|e| e.seq == seq);
            return Err(misplaced(seq, entry.seq, later));
        }
        check_entry(seq, prev, entry, &mut scratch)?;
        prev = &entry.hash;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Journal<String> {
        let mut j = Journal::new();
        for i in 0..n {
            j.append(format!("record {i}"));
        }
        j
    }

    fn damage_of(text: &str) -> JournalDamage {
        match Journal::<String>::import_json(text) {
            Err(PosError::JournalDamaged { damage, .. }) => damage,
            other => panic!("expected damage, got {other:?}"),
        }
    }

    #[test]
    fn round_trip() {
        let j = sample(5);
        let text = j.export_json();
        assert_eq!(Journal::<String>::import_json(&text).unwrap(), j);
        assert_eq!(Journal::from_entries(j.entries().to_vec()).unwrap(), j);
        let empty: Journal<String> = Journal::new();
        assert!(Journal::<String>::import_json(&empty.export_json())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn each_kind_of_damage_is_named() {
        let j = sample(4);
        let mut e = j.export();
        e.entries[1].record = "forged".into();
        assert_eq!(
            damage_of(&serde_json::to_string(&e).unwrap()),
            JournalDamage::Changed
        );

        let mut e = j.export();
        e.entries.swap(1, 2);
        assert_eq!(
            damage_of(&serde_json::to_string(&e).unwrap()),
            JournalDamage::Reordered
        );

        let mut e = j.export();
        e.entries.remove(1);
        assert_eq!(
            damage_of(&serde_json::to_string(&e).unwrap()),
            JournalDamage::Dropped
        );

        let mut e = j.export();
        e.entries.pop();
        assert_eq!(
            damage_of(&serde_json::to_string(&e).unwrap()),
            JournalDamage::Truncated
        );

        let text = j.export_json();
        assert_eq!(damage_of(&text[..text.len() / 2]), JournalDamage::Malformed);
        assert_eq!(damage_of("[]"), JournalDamage::Malformed);
    }

    #[test]
    fn a_based_journal_continues_the_chain_and_exports_with_its_history() {
        let full = sample(6);
        let rows: Vec<String> = full
            .entries()
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        // The prefix is the export's own text up to its entries.
        let text = full.export_json();
        assert!(text.starts_with(&export_prefix(6, full.head())));
        assert_eq!(
            text,
            format!(
                "{}{}{EXPORT_SUFFIX}",
                export_prefix(6, full.head()),
                rows.join(",")
            )
        );
        assert_eq!(verify_rows(0, GENESIS_HASH, &rows).unwrap(), full.head());

        let mut based = full.clone();
        assert_eq!(based.forget_until(4), full.entries()[..4]);
        assert_eq!(
            (based.base(), based.len(), based.entries().len()),
            (4, 6, 2)
        );
        assert_eq!(based.head(), full.head());
        assert_eq!(based.hash_of(3), Some(full.entries()[3].hash.as_str()));
        assert_eq!(based.hash_of(2), None);
        let tail = Journal::from_tail(4, based.base_head(), full.entries()[4..].to_vec()).unwrap();
        assert_eq!(tail, based);
        assert_eq!(based.export_json_with(&rows[..4], 6).unwrap(), text);
        assert_eq!(
            based.export_json_with(&rows[..4], 5).unwrap(),
            Journal::from_entries(full.entries()[..5].to_vec())
                .unwrap()
                .export_json()
        );
        let mut a = based.clone();
        let mut b = full.clone();
        assert_eq!(a.append("more".into()), b.append("more".into()));
        assert!(matches!(
            based.export_json_with(&rows[..3], 6),
            Err(PosError::JournalLoading {
                loaded: 3,
                total: 6
            })
        ));
    }

    #[test]
    fn rows_are_checked_byte_for_byte() {
        let j = sample(3);
        let rows: Vec<String> = j
            .entries()
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        let damage = |rows: &[String]| match verify_rows(0, GENESIS_HASH, rows) {
            Err(PosError::JournalDamaged { damage, .. }) => damage,
            other => panic!("expected damage, got {other:?}"),
        };
        let mut changed = rows.clone();
        changed[1] = changed[1].replace("record 1", "record 9");
        assert_eq!(damage(&changed), JournalDamage::Changed);
        let mut spaced = rows.clone();
        spaced[1] = spaced[1].replace(r#""record":"#, r#""record": "#);
        assert_eq!(damage(&spaced), JournalDamage::Changed);
        assert_eq!(
            damage(&[rows[0].clone(), rows[2].clone()]),
            JournalDamage::Dropped
        );
        assert_eq!(
            damage(&[rows[0][..20].to_owned()]),
            JournalDamage::Malformed
        );
    }
}
