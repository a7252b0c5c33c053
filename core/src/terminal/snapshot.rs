//! Snapshots: the replayed [`State`] as a document, so that `open` costs
//! the records since the last snapshot instead of the whole history
//! (issue 9).
//!
//! A snapshot covers the first `count` entries of a journal whose entry
//! `count - 1` has the hash `head`; opening from it verifies the tail's
//! chain from there, applies the tail and recovers exactly as
//! [`Terminal::open`] does. It is derived data: storage keeps the journal,
//! and a snapshot that fails its check or does not fit is refused with
//! `SNAPSHOT_DAMAGED`, after which the caller replays the journal from its
//! start. The journal remains the truth (DESIGN.md invariant 7).
//!
//! The text is JSON:
//!
//! ```text
//! {"format":"posflow-snapshot/1","merchantId":…,"terminalId":…,"currency":…,
//!  "count":N,"head":"…","state":{…},"sha256":"…"}
//! ```
//!
//! where `sha256` is the SHA-256 of the text before `,"sha256"` followed by
//! `}`: any change to a byte (a flipped bit on disk, a cut write) is found
//! before anything is parsed into the terminal. Like the journal's chain it
//! detects damage; it is not a signature. Indexes (by key, trace number,
//! batch, original, voucher, open transactions) are rebuilt on load rather
//! than stored.
//!
//! Transactions, which are nearly all of it, are written as JSON arrays —
//! their fields in declaration order, without names — and read back by
//! their ordinary derived `Deserialize` (serde_json reads a struct from an
//! array as well as from an object). That halves the text and its parse
//! time against named fields. A field added to `Transaction`, `Request`,
//! `Money` or `Card` fails to compile here until it is written too (the
//! writers destructure them), and an old snapshot then fails to read: it is
//! refused and the journal replayed, never misread.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{PendingUpload, PinState, State, Terminal, TerminalConfig, Transaction, TxnState};
use crate::card::Card;
use crate::error::PosError;
use crate::host::{BatchNo, SettlementSummary, TraceNo};
use crate::journal::{Entry, Journal};
use crate::money::{Currency, Money};
use crate::record::{Purpose, Record, Request, TxnId};
use crate::time::Timestamp;

use super::BatchClose;

/// The format tag of a snapshot; bumped on any incompatible change (an old
/// snapshot is then refused and the journal replayed, never misread).
pub const SNAPSHOT_FORMAT: &str = "posflow-snapshot/1";

/// `,"sha256":"` + 64 hex digits + `"}`.
const CHECK_LEN: usize = 11 + 64 + 2;

/// The state as written: borrowed from the terminal, in a fixed order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Out<'a> {
    format: &'a str,
    merchant_id: &'a str,
    terminal_id: &'a str,
    currency: Currency,
    count: u64,
    head: &'a str,
    state: StateOut<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateOut<'a> {
    batch_no: BatchNo,
    next_trace: TraceNo,
    /// In id order (the map's), each as an array.
    txns: Vec<TxnSeq<'a>>,
    /// Not derived from `txns`: an RRN names the transaction last approved
    /// (or advised) with it, in journal order.
    rrns: BTreeMap<&'a str, TxnId>,
    outstanding: Option<Purpose>,
    pending_summary: Option<&'a SettlementSummary>,
    upload: Option<&'a PendingUpload>,
    pins: BTreeMap<&'a str, &'a PinState>,
    closed: &'a [BatchClose],
}

/// The state as read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct In {
    format: String,
    merchant_id: String,
    terminal_id: String,
    currency: Currency,
    count: u64,
    head: String,
    state: StateIn,
    #[allow(dead_code)] // checked on the text, before parsing
    sha256: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StateIn {
    batch_no: BatchNo,
    next_trace: TraceNo,
    txns: Vec<Transaction>,
    rrns: HashMap<String, TxnId>,
    outstanding: Option<Purpose>,
    pending_summary: Option<SettlementSummary>,
    upload: Option<PendingUpload>,
    pins: HashMap<String, PinState>,
    closed: Vec<BatchClose>,
}

/// A parsed, checked snapshot, ready for [`Terminal::open_from_snapshot`].
#[derive(Debug, Clone)]
pub struct Snapshot {
    merchant_id: String,
    terminal_id: String,
    currency: Currency,
    count: u64,
    head: String,
    state: State,
}

fn unusable(what: impl Into<String>) -> PosError {
    PosError::SnapshotDamaged { what: what.into() }
}

impl Snapshot {
    /// Checks `text` (format tag, its SHA-256, its shape) and reads it.
    /// Anything wrong is `SNAPSHOT_DAMAGED`.
    pub fn from_json(text: &str) -> Result<Snapshot, PosError> {
        let tag = format!(r#"{{"format":"{SNAPSHOT_FORMAT}","#);
        if !text.starts_with(&tag) {
            let found: String = text.chars().take(40).collect();
            return Err(unusable(format!(
                "expected format {SNAPSHOT_FORMAT:?}, found {found:?}"
            )));
        }
        let cut = text
            .len()
            .checked_sub(CHECK_LEN)
            .filter(|&cut| text.is_char_boundary(cut))
            .ok_or_else(|| unusable("too short"))?;
        let check = text[cut..]
            .strip_prefix(r#","sha256":""#)
            .and_then(|rest| rest.strip_suffix(r#""}"#))
            .ok_or_else(|| unusable("its checksum is missing (a cut write?)"))?;
        if check != checksum(&text[..cut]) {
            return Err(unusable("its checksum does not match its content"));
        }
        let doc: In =
            serde_json::from_str(text).map_err(|e| unusable(format!("not a snapshot: {e}")))?;
        debug_assert_eq!(doc.format, SNAPSHOT_FORMAT);
        if doc.count == 0 || doc.head.len() != 64 {
            return Err(unusable("it covers no record"));
        }
        let state = State::from_data(doc.state, doc.count)?;
        Ok(Snapshot {
            merchant_id: doc.merchant_id,
            terminal_id: doc.terminal_id,
            currency: doc.currency,
            count: doc.count,
            head: doc.head,
            state,
        })
    }

    /// How many journal entries it covers: the tail starts at this `seq`.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The hash of the last entry it covers.
    pub fn head(&self) -> &str {
        &self.head
    }
}

/// Serializes a tuple of elements of different types.
macro_rules! tuple {
    ($s:expr, $($e:expr),+ $(,)?) => {{
        let mut t = $s.serialize_tuple(0 $(+ { let _ = &$e; 1 })+)?;
        $(t.serialize_element($e)?;)+
        t.end()
    }};
}

/// A transaction as `[id, request, state, advicePending, outcome]`.
struct TxnSeq<'a>(&'a Transaction);

impl Serialize for TxnSeq<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Transaction {
            id,
            request,
            state,
            advice_pending,
            outcome,
        } = self.0;
        tuple!(
            s,
            id,
            &RequestSeq(request),
            &StateSeq(state),
            advice_pending,
            outcome
        )
    }
}

/// A request's fields in declaration order.
struct RequestSeq<'a>(&'a Request);

impl Serialize for RequestSeq<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Request {
            kind,
            key,
            fingerprint,
            amount,
            card,
            trace_no,
            batch_no,
            original,
            operator_id,
            approvals,
            reason,
            fallback,
            voucher,
            at,
        } = self.0;
        let Card {
            masked_pan,
            method,
            foreign,
        } = card;
        tuple!(
            s,
            kind,
            key,
            fingerprint,
            &MoneySeq(*amount),
            &(masked_pan, method, foreign),
            trace_no,
            batch_no,
            original,
            operator_id,
            approvals,
            reason,
            fallback,
            voucher,
            at,
        )
    }
}

/// Money as `[amount, currency]`, the fields of `Money` in order.
struct MoneySeq(Money);

impl Serialize for MoneySeq {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // `Display` is the amount at the currency's scale, as the field's
        // own `rust_decimal::serde::str` writes it.
        tuple!(s, &self.0.to_string(), &self.0.currency())
    }
}

/// A state as its variant, with a struct variant's fields as an array.
struct StateSeq<'a>(&'a TxnState);

impl Serialize for StateSeq<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const NAME: &str = "TxnState";
        match self.0 {
            TxnState::Sent => s.serialize_unit_variant(NAME, 0, "sent"),
            TxnState::InDoubt {
                cause,
                failed_reversals,
            } => s.serialize_newtype_variant(NAME, 1, "in_doubt", &(cause, failed_reversals)),
            TxnState::ManualReview { cause } => {
                s.serialize_newtype_variant(NAME, 2, "manual_review", &(cause,))
            }
            TxnState::Approved { rrn, auth_code, at } => {
                s.serialize_newtype_variant(NAME, 3, "approved", &(rrn, auth_code, at))
            }
            TxnState::Declined { code } => {
                s.serialize_newtype_variant(NAME, 4, "declined", &(code,))
            }
            TxnState::Reversed { at } => s.serialize_newtype_variant(NAME, 5, "reversed", &(at,)),
        }
    }
}

/// SHA-256 (hex) of `body` closed by `}`.
fn checksum(body: &str) -> String {
    let mut h = Sha256::new();
    h.update(body.as_bytes());
    h.update(b"}");
    hex::encode(h.finalize())
}

impl State {
    fn to_data(&self) -> StateOut<'_> {
        StateOut {
            batch_no: self.batch_no,
            next_trace: self.next_trace,
            txns: self.txns.values().map(TxnSeq).collect(),
            rrns: self.rrns.iter().map(|(k, v)| (k.as_str(), *v)).collect(),
            outstanding: self.outstanding,
            pending_summary: self.pending_summary.as_ref(),
            upload: self.upload.as_ref(),
            pins: self.pins.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            closed: &self.closed,
        }
    }

    /// The state `data` describes, its indexes rebuilt as `apply` builds
    /// them (transactions in id order are requests in journal order).
    fn from_data(data: StateIn, count: u64) -> Result<State, PosError> {
        let n = data.txns.len();
        let mut state = State {
            batch_no: data.batch_no,
            next_trace: data.next_trace,
            txns: BTreeMap::new(),
            children: HashMap::new(),
            keys: HashMap::with_capacity(n),
            rrns: data.rrns,
            voucher_refunds: HashMap::new(),
            traces: HashMap::with_capacity(n.min(999_999)),
            batches: HashMap::new(),
            open: BTreeSet::new(),
            outstanding: data.outstanding,
            pending_summary: data.pending_summary,
            upload: data.upload,
            // A restart forgets who was signed in: never stored.
            signed_in: None,
            pins: data.pins,
            closed: data.closed,
        };
        let mut last = None;
        for t in data.txns {
            let id = t.id;
            if id.0 >= count || last.is_some_and(|l| l >= id) {
                return Err(unusable(format!("transaction {id} out of order")));
            }
            last = Some(id);
            let r = &t.request;
            state.keys.insert(r.key.clone(), id);
            state.traces.entry(r.trace_no).or_default().push(id);
            state.batches.entry(r.batch_no).or_default().push(id);
            if let Some(original) = r.original {
                state.children.entry(original).or_default().push(id);
            }
            if let Some(voucher) = &r.voucher {
                state
                    .voucher_refunds
                    .entry(voucher.rrn.clone())
                    .or_default()
                    .push(id);
            }
            let open = t.advice_pending
                || matches!(
                    t.state,
                    TxnState::Sent | TxnState::InDoubt { .. } | TxnState::ManualReview { .. }
                );
            if open {
                state.open.insert(id);
            }
            state.txns.insert(id, t);
        }
        let named = |id: &TxnId| state.txns.contains_key(id);
        let dangling = state.rrns.values().any(|id| !named(id))
            || state.children.keys().any(|id| !named(id))
            || state
                .outstanding
                .and_then(|p| p.txn())
                .is_some_and(|id| !named(&id));
        if dangling {
            return Err(unusable("it names a transaction it does not hold"));
        }
        Ok(state)
    }
}

impl Terminal {
    /// The terminal as a snapshot document covering its whole journal
    /// (see [`crate::terminal::snapshot`]). Take it once every entry is
    /// persisted: a snapshot must never cover a record storage may lose.
    pub fn snapshot(&self) -> String {
        debug_assert!(
            self.unpersisted.is_empty(),
            "snapshot of unpersisted entries"
        );
        let c = &self.config;
        let out = Out {
            format: SNAPSHOT_FORMAT,
            merchant_id: &c.merchant_id,
            terminal_id: &c.terminal_id,
            currency: c.currency,
            count: self.journal.len() as u64,
            head: self.journal.head(),
            state: self.state.to_data(),
        };
        let mut text = serde_json::to_string(&out).expect("states serialize");
        let body_end = text.len() - 1;
        let check = checksum(&text[..body_end]);
        text.truncate(body_end);
        text.push_str(r#","sha256":""#);
        text.push_str(&check);
        text.push_str(r#""}"#);
        text
    }

    /// Opens a terminal from `snapshot` and the journal entries after it
    /// (`tail`, from `seq == snapshot.count()` on): checks `config` against
    /// the snapshot's terminal as [`Terminal::open`] does against the
    /// journal's `opened` record (`JOURNAL_MISMATCH`), verifies that the
    /// tail chains on from the snapshot's head (`SNAPSHOT_DAMAGED` when its
    /// first entry does not follow it, `JOURNAL_DAMAGED` for damage within
    /// the tail), applies the tail, then recovers as `open` does. The
    /// terminal holds only the tail: its journal starts at the snapshot's
    /// base ([`Journal::base`]).
    pub fn open_from_snapshot(
        config: TerminalConfig,
        snapshot: Snapshot,
        tail: Vec<Entry<Record>>,
        now: Timestamp,
    ) -> Result<Terminal, PosError> {
        config.validate()?;
        check_identity(
            &config,
            &snapshot.merchant_id,
            &snapshot.terminal_id,
            snapshot.currency,
        )?;
        if let Some(first) = tail.first() {
            if first.seq != snapshot.count || first.prev != snapshot.head {
                return Err(unusable(format!(
                    "the journal's record {} does not follow the snapshot of {} records",
                    first.seq, snapshot.count
                )));
            }
        }
        let journal = Journal::from_tail(snapshot.count, &snapshot.head, tail)?;
        let mut terminal = Terminal {
            state: snapshot.state,
            journal: Journal::new(),
            unpersisted: Vec::new(),
            config,
            halted: None,
            tried: Vec::new(),
        };
        for entry in journal.entries() {
            terminal.state.apply(entry.seq, &entry.record);
        }
        terminal.journal = journal;
        terminal.recover(now);
        Ok(terminal)
    }

    /// Drops the journal entries before `count` from memory and returns
    /// them: storage holds them, and a snapshot at `count` stands in for
    /// them when the terminal must be rebuilt. The terminal's journal then
    /// starts at base `count`.
    ///
    /// # Panics
    ///
    /// If `count` covers an entry not yet taken by
    /// [`Terminal::take_unpersisted`].
    pub fn forget_history(&mut self, count: u64) -> Vec<Entry<Record>> {
        let persisted = self.journal.len() - self.unpersisted.len();
        assert!(count as usize <= persisted, "forget unpersisted entries");
        self.journal.forget_until(count)
    }
}

/// `JOURNAL_MISMATCH` unless the journal's terminal is `config`'s.
pub(super) fn check_identity(
    config: &TerminalConfig,
    merchant_id: &str,
    terminal_id: &str,
    currency: Currency,
) -> Result<(), PosError> {
    if merchant_id != config.merchant_id
        || terminal_id != config.terminal_id
        || currency != config.currency
    {
        return Err(PosError::JournalMismatch {
            expected: format!(
                "{}/{}/{}",
                config.merchant_id, config.terminal_id, config.currency
            ),
            found: format!("{merchant_id}/{terminal_id}/{currency}"),
        });
    }
    Ok(())
}
