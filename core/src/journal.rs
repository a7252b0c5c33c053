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

/// The journal: entries in order, verified on the way in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal<R> {
    entries: Vec<Entry<R>>,
}

impl<R> Default for Journal<R> {
    fn default() -> Self {
        Journal {
            entries: Vec::new(),
        }
    }
}

/// An entry's hash over `seq ‖ prev ‖ record`, the record as its JSON text,
/// in lower-case hex. The text is written into `text` (cleared first, so a
/// caller hashing many entries reuses one buffer) and hashed in one piece:
/// serde_json writes many small pieces, cheap to append to a buffer and
/// dear to feed to the hash one by one.
fn hash_entry<R: Serialize>(
    seq: u64,
    prev: &str,
    record: &R,
    text: &mut Vec<u8>,
) -> serde_json::Result<[u8; 64]> {
    text.clear();
    serde_json::to_writer(&mut *text, record)?;
    let mut h = Sha256::new();
    h.update(seq.to_be_bytes());
    h.update(prev.as_bytes());
    h.update(&text);
    let mut hex = [0; 64];
    hex::encode_to_slice(h.finalize(), &mut hex).expect("64 hex digits for 32 bytes");
    Ok(hex)
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

    /// The entries, in order.
    pub fn entries(&self) -> &[Entry<R>] {
        &self.entries
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the journal is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The last entry's hash, or [`GENESIS_HASH`].
    pub fn head(&self) -> &str {
        self.entries
            .last()
            .map_or(GENESIS_HASH, |e| e.hash.as_str())
    }

    /// Appends a record and returns the new entry, to be persisted by the
    /// caller before anything that depends on it happens.
    pub fn append(&mut self, record: R) -> Entry<R> {
        let seq = self.entries.len() as u64;
        let prev = self.head().to_owned();
        let mut text = Vec::with_capacity(1024);
        let hash = hash_entry(seq, &prev, &record, &mut text).expect("records serialize");
        let entry = Entry {
            seq,
            hash: std::str::from_utf8(&hash).expect("hex").to_owned(),
            prev,
            record,
        };
        self.entries.push(entry.clone());
        entry
    }

    /// Verifies entries as a storage backend returns them, one by one.
    pub fn from_entries(entries: Vec<Entry<R>>) -> Result<Self, PosError> {
        verify_chain(&entries)?;
        Ok(Journal { entries })
    }

    /// The entries, handed back without a copy.
    pub fn into_entries(self) -> Vec<Entry<R>> {
        self.entries
    }

    /// The export document.
    pub fn export(&self) -> Export<R> {
        Export {
            format: EXPORT_FORMAT.to_owned(),
            count: self.entries.len() as u64,
            head: self.head().to_owned(),
            entries: self.entries.clone(),
        }
    }

    /// The export as JSON text.
    pub fn export_json(&self) -> String {
        serde_json::to_string(&self.export()).expect("journal serializes")
    }

    /// Parses and verifies an exported journal. Any change to the text —
    /// a changed byte, a dropped, swapped or duplicated record, a cut — is
    /// refused with `JOURNAL_DAMAGED` saying what and where.
    pub fn import_json(text: &str) -> Result<Self, PosError> {
        let export: Export<R> = serde_json::from_str(text).map_err(|e| {
            damaged(
                JournalDamage::Malformed,
                e.line() as u64,
                format!("not a journal export: {e}"),
            )
        })?;
        if export.format != EXPORT_FORMAT {
            return Err(damaged(
                JournalDamage::Malformed,
                0,
                format!("format {:?}, expected {EXPORT_FORMAT:?}", export.format),
            ));
        }
        verify_chain(&export.entries)?;
        let n = export.entries.len() as u64;
        if export.count != n {
            let damage = if export.count > n {
                JournalDamage::Truncated
            } else {
                JournalDamage::Changed
            };
            return Err(damaged(
                damage,
                n,
                format!("{n} entries, the export says {}", export.count),
            ));
        }
        let journal = Journal {
            entries: export.entries,
        };
        if journal.head() != export.head {
            return Err(damaged(
                JournalDamage::Truncated,
                n,
                "the last entry is not the exported head",
            ));
        }
        // Anything that parses to the same values but is not the same text
        // (a changed escape, a renamed duplicate key) is still a change.
        if journal.export_json() != text.trim() {
            return Err(damaged(
                JournalDamage::Changed,
                0,
                "the text differs from the journal it encodes",
            ));
        }
        Ok(journal)
    }
}

fn verify_chain<R: Serialize>(entries: &[Entry<R>]) -> Result<(), PosError> {
    let mut prev = GENESIS_HASH;
    let mut text = Vec::with_capacity(1024);
    for (i, entry) in entries.iter().enumerate() {
        let i = i as u64;
        if entry.seq != i {
            let later = entries.iter().skip(i as usize + 1).any(|e| e.seq == i);
            let damage = if later || entry.seq < i {
                JournalDamage::Reordered
            } else {
                JournalDamage::Dropped
            };
            return Err(damaged(
                damage,
                i,
                format!("expected record {i}, found record {}", entry.seq),
            ));
        }
        let hash = hash_entry(entry.seq, &entry.prev, &entry.record, &mut text)
            .map_err(|e| damaged(JournalDamage::Malformed, i, format!("unserializable: {e}")))?;
        if entry.hash.as_bytes() != hash {
            return Err(damaged(
                JournalDamage::Changed,
                i,
                "content does not match its hash",
            ));
        }
        if entry.prev != prev {
            return Err(damaged(
                JournalDamage::Dropped,
                i,
                "does not follow the record before it",
            ));
        }
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
}
