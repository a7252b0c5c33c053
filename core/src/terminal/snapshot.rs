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
//! # Encoding
//!
//! Bytes: the format tag [`SNAPSHOT_FORMAT`], then the SHA-256 (32 bytes)
//! of everything after it, then the body. Any change to a byte (a flipped
//! bit on disk, a cut write) is found before anything is decoded. Like the
//! journal's chain it detects damage; it is not a signature.
//!
//! The body is a plain binary encoding — unsigned integers as LEB128,
//! signed ones zigzag, strings as length and UTF-8, amounts in minor units —
//! of the terminal's identity, `count`, `head`, and the state's own data.
//! Transactions, which are nearly all of it, are written field by field;
//! the few rare and nested values (fallback details, vouchers, settlement
//! totals, the outstanding exchange) as the JSON the journal already uses
//! for them. Indexes (by key, trace number, batch, original, voucher, open
//! transactions) are rebuilt on load rather than stored. JSON with named
//! fields was 24 MB at 100,000 records and twice the decoding time of this,
//! and its derived decoders added some 45 KB of wasm.
//!
//! The writer destructures every type it writes and the reader builds them
//! with struct literals, so a field added to `Transaction`, `Request`,
//! `Card`, `TxnState` or `State` fails to compile here until the format
//! (and its tag) says how to keep it.

use std::collections::HashMap;
use std::ops::Bound;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    BatchClose, DoubtCause, PendingUpload, PinState, RefundOutcome, State, Terminal,
    TerminalConfig, Transaction, TxnState,
};
use crate::card::{Card, PaymentMethod};
use crate::error::PosError;
use crate::host::{BatchNo, NoReply, TraceNo};
use crate::journal::{Entry, Journal};
use crate::money::{Currency, Money};
use crate::operator::{ApprovalRecord, Role};
use crate::record::{Kind, Outcome, Record, Request, TxnId};
use crate::time::Timestamp;

/// The format tag a snapshot starts with; bumped on any incompatible
/// change (an old snapshot is then refused and the journal replayed, never
/// misread).
pub const SNAPSHOT_FORMAT: &str = "posflow-snapshot/2";

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
    /// Checks `bytes` (format tag, SHA-256) and decodes them. Anything
    /// wrong is `SNAPSHOT_DAMAGED`. [`Snapshot::reader`] does it in steps.
    pub fn from_bytes(bytes: &[u8]) -> Result<Snapshot, PosError> {
        Snapshot::reader(bytes.to_vec())?.finish()
    }

    /// A reader of `bytes` in steps, so that a long snapshot is checked
    /// and decoded without holding the caller's thread for all of it.
    /// Only the format tag is checked here; the rest as it is read.
    pub fn reader(bytes: Vec<u8>) -> Result<SnapshotReader, PosError> {
        let tag = SNAPSHOT_FORMAT.as_bytes();
        if !bytes.starts_with(tag) {
            let found = String::from_utf8_lossy(&bytes[..bytes.len().min(24)]).into_owned();
            return Err(unusable(format!(
                "expected format {SNAPSHOT_FORMAT:?}, found {found:?}"
            )));
        }
        if bytes.len() < BODY {
            return Err(unusable("too short"));
        }
        Ok(SnapshotReader {
            bytes,
            at: BODY,
            phase: ReadPhase::Check {
                hasher: Sha256::new(),
            },
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

/// Where a snapshot's body starts: after its tag and its checksum.
const BODY: usize = SNAPSHOT_FORMAT.len() + 32;

/// Bytes hashed for one unit of a [`SnapshotReader::step`]'s budget:
/// about what decoding one transaction costs.
const HASHED_PER_UNIT: usize = 1024;

/// A snapshot being checked and decoded in steps: see
/// [`Snapshot::reader`].
#[derive(Debug)]
pub struct SnapshotReader {
    bytes: Vec<u8>,
    /// Where the next step goes on: in the body, hashing or decoding.
    at: usize,
    phase: ReadPhase,
}

/// Where a [`SnapshotReader`] is: the checksum over the whole body first,
/// then the transactions one by one, then the rest at once.
#[derive(Debug)]
enum ReadPhase {
    Check {
        hasher: Sha256,
    },
    Txns {
        head: Box<Snapshot>,
        left: usize,
        last: Option<TxnId>,
    },
    /// The RRN index, as long as the transactions (50,000 inserts were a
    /// 19 ms block of their own in Chromium at 100,000 records).
    Rrns {
        head: Box<Snapshot>,
        left: usize,
    },
    Spent,
}

impl SnapshotReader {
    /// Checks or decodes about `budget` transactions' worth more (at least
    /// one); the snapshot once it is whole. `SNAPSHOT_DAMAGED` for
    /// anything wrong, after which the reader is spent.
    pub fn step(&mut self, budget: usize) -> Result<Option<Snapshot>, PosError> {
        let phase = std::mem::replace(&mut self.phase, ReadPhase::Spent);
        let (next, done) = self.advance(phase, budget.max(1))?;
        self.phase = next;
        Ok(done)
    }

    /// The rest of the reading in one go.
    pub fn finish(mut self) -> Result<Snapshot, PosError> {
        crate::in_one_go(|budget| self.step(budget))
    }

    fn advance(
        &mut self,
        phase: ReadPhase,
        budget: usize,
    ) -> Result<(ReadPhase, Option<Snapshot>), PosError> {
        let undecodable = |at: usize| unusable(format!("undecodable at byte {at}"));
        match phase {
            ReadPhase::Check { mut hasher } => {
                let end = self.bytes.len().min(
                    self.at
                        .saturating_add(budget.saturating_mul(HASHED_PER_UNIT)),
                );
                hasher.update(&self.bytes[self.at..end]);
                self.at = end;
                if end < self.bytes.len() {
                    return Ok((ReadPhase::Check { hasher }, None));
                }
                if hasher.finalize().as_slice() != &self.bytes[SNAPSHOT_FORMAT.len()..BODY] {
                    return Err(unusable("its checksum does not match its content"));
                }
                let mut r = Reader {
                    bytes: &self.bytes,
                    at: BODY,
                };
                let head = r.head().ok_or_else(|| undecodable(r.at))?;
                self.at = r.at;
                let (head, left) = head;
                Ok((
                    ReadPhase::Txns {
                        head: Box::new(head),
                        left,
                        last: None,
                    },
                    None,
                ))
            }
            ReadPhase::Txns {
                mut head,
                mut left,
                mut last,
            } => {
                let mut r = Reader {
                    bytes: &self.bytes,
                    at: self.at,
                };
                for _ in 0..budget.min(left) {
                    r.txn_into(&mut head.state, head.count, &mut last)
                        .ok_or_else(|| undecodable(r.at))?;
                    left -= 1;
                }
                if left > 0 {
                    self.at = r.at;
                    return Ok((ReadPhase::Txns { head, left, last }, None));
                }
                let left = r
                    .u()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| undecodable(r.at))?;
                self.at = r.at;
                Ok((ReadPhase::Rrns { head, left }, None))
            }
            ReadPhase::Rrns { mut head, mut left } => {
                let mut r = Reader {
                    bytes: &self.bytes,
                    at: self.at,
                };
                for _ in 0..budget.min(left) {
                    r.rrn_into(&mut head.state)
                        .ok_or_else(|| undecodable(r.at))?;
                    left -= 1;
                }
                if left > 0 {
                    self.at = r.at;
                    return Ok((ReadPhase::Rrns { head, left }, None));
                }
                r.rest_into(&mut head.state)
                    .ok_or_else(|| undecodable(r.at))?;
                if r.at != self.bytes.len() {
                    return Err(unusable("bytes after its end"));
                }
                if head.count == 0 || head.head.len() != 64 {
                    return Err(unusable("it covers no record"));
                }
                Ok((ReadPhase::Spent, Some(*head)))
            }
            ReadPhase::Spent => Err(unusable("read already, or refused")),
        }
    }
}

/// A snapshot being written in steps: see [`Terminal::snapshot_writer`].
#[derive(Debug)]
pub struct SnapshotWriter {
    w: Writer,
    hasher: Sha256,
    /// How much of `w` the hasher has seen.
    hashed: usize,
    /// The journal it covers, by length and head: a step on a terminal
    /// whose journal is no longer this is [`SnapshotStep::Stale`].
    count: usize,
    head: String,
    at: Phase,
}

/// Where a [`SnapshotWriter`] is: the state's two long parts are written
/// in their order, resuming after the last one written.
#[derive(Debug)]
enum Phase {
    Txns { after: Option<TxnId>, left: usize },
    Rrns { after: Option<String>, left: usize },
    Spent,
}

/// What a [`SnapshotWriter::step`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum SnapshotStep {
    /// Wrote some; more to come.
    Wrote,
    /// The snapshot, whole: the bytes [`Terminal::snapshot`] gives.
    Done(Vec<u8>),
    /// The terminal's journal moved on since the writer started (or the
    /// writer had already finished, or the terminal is being dismantled):
    /// what it wrote would mix two states, so it is dropped. Start again
    /// on the terminal as it is.
    Stale,
}

impl SnapshotWriter {
    /// Writes up to `budget` more transactions of `term` (at least one),
    /// which must be the terminal the writer was made from, unchanged;
    /// then, with none left, the rest of the state and the checksum.
    pub fn step(&mut self, term: &Terminal, budget: usize) -> SnapshotStep {
        // A terminal being dismantled no longer matches its journal.
        if term.journal.len() != self.count
            || term.journal.head() != self.head
            || term.halted() == Some(super::DISMANTLED)
        {
            self.at = Phase::Spent;
        }
        let state = &term.state;
        let mut budget = budget.max(1);
        if let Phase::Txns { after, left } = &mut self.at {
            let rest = match *after {
                Some(id) => state.txns.range((Bound::Excluded(id), Bound::Unbounded)),
                None => state.txns.range(..),
            };
            for (id, t) in rest.take(budget) {
                self.w.txn(t);
                *after = Some(*id);
                *left -= 1;
                budget -= 1;
            }
            if *left == 0 {
                self.w.u(state.rrns.len() as u64);
                self.at = Phase::Rrns {
                    after: None,
                    left: state.rrns.len(),
                };
            }
        }
        if let Phase::Rrns { after, left } = &mut self.at {
            let rest = match after {
                Some(rrn) => state
                    .rrns
                    .range::<str, _>((Bound::Excluded(rrn.as_str()), Bound::Unbounded)),
                None => state.rrns.range::<str, _>(..),
            };
            let mut last = None;
            for (rrn, id) in rest.take(budget) {
                self.w.str(rrn);
                self.w.u(id.0);
                last = Some(rrn);
                *left -= 1;
            }
            if let Some(rrn) = last {
                *after = Some(rrn.clone());
            }
            if *left == 0 {
                self.w.state_after_rrns(state);
            }
        }
        let done = matches!(self.at, Phase::Rrns { left: 0, .. });
        if matches!(self.at, Phase::Spent) {
            return SnapshotStep::Stale;
        }
        self.hasher.update(&self.w.0[self.hashed..]);
        self.hashed = self.w.0.len();
        if !done {
            return SnapshotStep::Wrote;
        }
        self.at = Phase::Spent;
        let check = std::mem::take(&mut self.hasher).finalize();
        let mut bytes = std::mem::take(&mut self.w.0);
        bytes[SNAPSHOT_FORMAT.len()..SNAPSHOT_FORMAT.len() + 32].copy_from_slice(&check);
        SnapshotStep::Done(bytes)
    }
}

// ----- writing -------------------------------------------------------------

#[derive(Debug)]
struct Writer(Vec<u8>);

impl Writer {
    fn u(&mut self, mut n: u64) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }

    fn i(&mut self, n: i64) {
        self.u(((n << 1) ^ (n >> 63)) as u64);
    }

    fn flag(&mut self, b: bool) {
        self.0.push(u8::from(b));
    }

    fn str(&mut self, s: &str) {
        self.u(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }

    fn opt_str(&mut self, s: &Option<String>) {
        self.flag(s.is_some());
        if let Some(s) = s {
            self.str(s);
        }
    }

    fn opt_u(&mut self, n: Option<u64>) {
        self.flag(n.is_some());
        if let Some(n) = n {
            self.u(n);
        }
    }

    /// A value as the JSON its journal record uses.
    fn json<T: Serialize>(&mut self, v: &T) {
        self.str(&crate::json::to_string(v));
    }

    fn opt_json<T: Serialize>(&mut self, v: &Option<T>) {
        self.flag(v.is_some());
        if let Some(v) = v {
            self.json(v);
        }
    }

    fn money(&mut self, m: Money) {
        self.str(m.currency().code());
        self.i(m.minor_units().expect("amounts fit i64 minor units"));
    }

    fn txn(&mut self, t: &Transaction) {
        let Transaction {
            id,
            request,
            state,
            advice_pending,
            outcome,
        } = t;
        self.u(id.0);
        self.request(request);
        self.txn_state(state);
        self.flag(*advice_pending);
        self.flag(outcome.is_some());
        if let Some(RefundOutcome {
            outcome,
            reference,
            at,
        }) = outcome
        {
            self.flag(*outcome == Outcome::Returned);
            self.opt_str(reference);
            self.i(at.0);
        }
    }

    fn request(&mut self, r: &Request) {
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
        } = r;
        let Card {
            masked_pan,
            method,
            foreign,
        } = card;
        let kind = Kind::ALL
            .iter()
            .position(|k| k == kind)
            .expect("every kind");
        self.0.push(kind as u8);
        self.str(key);
        self.str(fingerprint);
        self.money(*amount);
        self.str(masked_pan);
        self.0.push(match method {
            PaymentMethod::BankCard => 0,
            PaymentMethod::QrWallet => 1,
            PaymentMethod::Prepaid => 2,
        });
        self.flag(*foreign);
        self.u(trace_no.get().into());
        self.u(batch_no.get().into());
        self.opt_u(original.map(|o| o.0));
        self.str(operator_id);
        self.u(approvals.len() as u64);
        for ApprovalRecord { operator_id, role } in approvals {
            self.str(operator_id);
            self.0.push(match role {
                Role::Cashier => 0,
                Role::Supervisor => 1,
                Role::Admin => 2,
            });
        }
        self.opt_str(reason);
        self.opt_json(fallback);
        self.opt_json(voucher);
        self.i(at.0);
    }

    fn cause(&mut self, c: &DoubtCause) {
        match c {
            DoubtCause::NoReply(n) => {
                self.0.push(0);
                self.0.push(match n {
                    NoReply::Timeout => 0,
                    NoReply::LostReply => 1,
                    NoReply::TransportError => 2,
                    NoReply::Restart => 3,
                });
            }
            DoubtCause::UnknownCode(code) => {
                self.0.push(1);
                self.str(code);
            }
        }
    }

    fn txn_state(&mut self, s: &TxnState) {
        match s {
            TxnState::Sent => self.0.push(0),
            TxnState::InDoubt {
                cause,
                failed_reversals,
            } => {
                self.0.push(1);
                self.cause(cause);
                self.u((*failed_reversals).into());
            }
            TxnState::ManualReview { cause } => {
                self.0.push(2);
                self.cause(cause);
            }
            TxnState::Approved { rrn, auth_code, at } => {
                self.0.push(3);
                self.opt_str(rrn);
                self.opt_str(auth_code);
                self.i(at.0);
            }
            TxnState::Declined { code } => {
                self.0.push(4);
                self.str(code);
            }
            TxnState::Reversed { at } => {
                self.0.push(5);
                self.i(at.0);
            }
        }
    }

    /// What comes after the RRNs. The state's fields before them
    /// (`batch_no`, `next_trace`, the count of `txns`) are written by
    /// [`Terminal::snapshot_writer`], the transactions and the RRNs by
    /// [`SnapshotWriter::step`].
    fn state_after_rrns(&mut self, s: &State) {
        // Taken apart whole: a new field of `State` must be placed here
        // (stored, or rebuilt in `Reader::state`).
        let State {
            batch_no: _,
            next_trace: _,
            txns: _,
            children: _,
            keys: _,
            // Not derived from the transactions: an RRN names the one last
            // approved (or advised) with it, in journal order. Written in
            // the map's order, so one state always gives the same bytes.
            rrns: _,
            voucher_refunds: _,
            traces: _,
            batches: _,
            open: _,
            outstanding,
            pending_summary,
            upload,
            signed_in: _,
            pins,
            closed,
        } = s;
        self.opt_json(outstanding);
        self.opt_json(pending_summary);
        self.flag(upload.is_some());
        if let Some(PendingUpload {
            batch_no,
            summary,
            records,
            done,
        }) = upload
        {
            self.u(batch_no.get().into());
            self.json(summary);
            self.u(records.len() as u64);
            for id in records {
                self.u(id.0);
            }
            self.u(*done as u64);
        }
        self.u(pins.len() as u64);
        for (
            id,
            PinState {
                failures,
                locked_until,
            },
        ) in pins.iter()
        {
            self.str(id);
            self.u((*failures).into());
            self.flag(locked_until.is_some());
            if let Some(t) = locked_until {
                self.i(t.0);
            }
        }
        self.u(closed.len() as u64);
        for BatchClose {
            batch_no,
            summary,
            balanced,
            uploaded,
            at,
        } in closed
        {
            self.u(batch_no.get().into());
            self.json(summary);
            self.flag(*balanced);
            self.flag(*uploaded);
            self.i(at.0);
        }
    }
}

// ----- reading -------------------------------------------------------------

/// Reads what [`Writer`] wrote; `None` on anything malformed (the checksum
/// passed, so only a writer of another version gets here).
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn u(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(n);
            }
        }
        None
    }

    fn u32(&mut self) -> Option<u32> {
        self.u()?.try_into().ok()
    }

    fn i(&mut self) -> Option<i64> {
        let n = self.u()?;
        Some((n >> 1) as i64 ^ -((n & 1) as i64))
    }

    fn flag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn str(&mut self) -> Option<String> {
        let len = usize::try_from(self.u()?).ok()?;
        let end = self.at.checked_add(len)?;
        let s = std::str::from_utf8(self.bytes.get(self.at..end)?).ok()?;
        self.at = end;
        Some(s.to_owned())
    }

    fn opt_str(&mut self) -> Option<Option<String>> {
        Some(if self.flag()? {
            Some(self.str()?)
        } else {
            None
        })
    }

    fn json<T: DeserializeOwned>(&mut self) -> Option<T> {
        serde_json::from_str(&self.str()?).ok()
    }

    fn opt_json<T: DeserializeOwned>(&mut self) -> Option<Option<T>> {
        Some(if self.flag()? {
            Some(self.json()?)
        } else {
            None
        })
    }

    fn time(&mut self) -> Option<Timestamp> {
        Some(Timestamp(self.i()?))
    }

    fn trace(&mut self) -> Option<TraceNo> {
        TraceNo::new(self.u32()?)
    }

    fn batch(&mut self) -> Option<BatchNo> {
        BatchNo::new(self.u32()?)
    }

    fn money(&mut self) -> Option<Money> {
        let currency = Currency::parse(&self.str()?).ok()?;
        Some(Money::from_minor_units(self.i()?, currency))
    }

    /// The identity, `count`, `head` and the state before its
    /// transactions, with how many transactions follow.
    fn head(&mut self) -> Option<(Snapshot, usize)> {
        let merchant_id = self.str()?;
        let terminal_id = self.str()?;
        let currency = Currency::parse(&self.str()?).ok()?;
        let count = self.u()?;
        let head = self.str()?;
        let batch_no = self.batch()?;
        let next_trace = self.trace()?;
        let n = usize::try_from(self.u()?).ok()?;
        // Not more than the bytes could hold: a bound before allocating.
        let capacity = n.min(self.bytes.len());
        // A restart forgets who was signed in: `signed_in` is never stored.
        let state = State {
            batch_no,
            next_trace,
            keys: HashMap::with_capacity(capacity),
            traces: HashMap::with_capacity(capacity.min(999_999)),
            ..State::new()
        };
        let snapshot = Snapshot {
            merchant_id,
            terminal_id,
            currency,
            count,
            head,
            state,
        };
        Some((snapshot, n))
    }

    /// The next transaction, into `state` with its indexes rebuilt by the
    /// indexing `apply` does (transactions in id order are requests in
    /// journal order). `last` is the id of the one before.
    fn txn_into(&mut self, state: &mut State, count: u64, last: &mut Option<TxnId>) -> Option<()> {
        let t = self.txn()?;
        let id = t.id;
        if id.0 >= count || last.is_some_and(|l| l >= id) {
            return None;
        }
        *last = Some(id);
        state.index_request(id, &t.request);
        state.txns.insert(id, Box::new(t));
        state.index_open(id);
        Some(())
    }

    fn txn(&mut self) -> Option<Transaction> {
        Some(Transaction {
            id: TxnId(self.u()?),
            request: self.request()?,
            state: self.txn_state()?,
            advice_pending: self.flag()?,
            outcome: if self.flag()? {
                Some(RefundOutcome {
                    outcome: if self.flag()? {
                        Outcome::Returned
                    } else {
                        Outcome::Credited
                    },
                    reference: self.opt_str()?,
                    at: self.time()?,
                })
            } else {
                None
            },
        })
    }

    fn request(&mut self) -> Option<Request> {
        Some(Request {
            kind: *Kind::ALL.get(usize::from(self.byte()?))?,
            key: self.str()?,
            fingerprint: self.str()?,
            amount: self.money()?,
            card: Card {
                masked_pan: self.str()?,
                method: match self.byte()? {
                    0 => PaymentMethod::BankCard,
                    1 => PaymentMethod::QrWallet,
                    2 => PaymentMethod::Prepaid,
                    _ => return None,
                },
                foreign: self.flag()?,
            },
            trace_no: self.trace()?,
            batch_no: self.batch()?,
            original: if self.flag()? {
                Some(TxnId(self.u()?))
            } else {
                None
            },
            operator_id: self.str()?,
            approvals: {
                let n = self.u()?;
                let mut v = Vec::new();
                for _ in 0..n {
                    v.push(ApprovalRecord {
                        operator_id: self.str()?,
                        role: match self.byte()? {
                            0 => Role::Cashier,
                            1 => Role::Supervisor,
                            2 => Role::Admin,
                            _ => return None,
                        },
                    });
                }
                v
            },
            reason: self.opt_str()?,
            fallback: self.opt_json()?,
            voucher: self.opt_json()?,
            at: self.time()?,
        })
    }

    fn cause(&mut self) -> Option<DoubtCause> {
        Some(match self.byte()? {
            0 => DoubtCause::NoReply(match self.byte()? {
                0 => NoReply::Timeout,
                1 => NoReply::LostReply,
                2 => NoReply::TransportError,
                3 => NoReply::Restart,
                _ => return None,
            }),
            1 => DoubtCause::UnknownCode(self.str()?),
            _ => return None,
        })
    }

    fn txn_state(&mut self) -> Option<TxnState> {
        Some(match self.byte()? {
            0 => TxnState::Sent,
            1 => TxnState::InDoubt {
                cause: self.cause()?,
                failed_reversals: self.u32()?,
            },
            2 => TxnState::ManualReview {
                cause: self.cause()?,
            },
            3 => TxnState::Approved {
                rrn: self.opt_str()?,
                auth_code: self.opt_str()?,
                at: self.time()?,
            },
            4 => TxnState::Declined { code: self.str()? },
            5 => TxnState::Reversed { at: self.time()? },
            _ => return None,
        })
    }

    /// The state after its transactions: the RRNs, the exchange and the
    /// upload under way, PIN failures, closed batches; then a check that
    /// nothing names a transaction the snapshot does not hold.
    /// One entry of the RRN index; the transaction it names must have been
    /// read.
    fn rrn_into(&mut self, state: &mut State) -> Option<()> {
        let rrn = self.str()?;
        let id = TxnId(self.u()?);
        state.txns.contains_key(&id).then_some(())?;
        state.rrns.insert(rrn, id);
        Some(())
    }

    /// What follows the RRN index: the outstanding exchange, the pending
    /// settlement and upload, PIN states and closed batches.
    fn rest_into(&mut self, state: &mut State) -> Option<()> {
        state.outstanding = self.opt_json()?;
        state.pending_summary = self.opt_json()?;
        if self.flag()? {
            let batch_no = self.batch()?;
            let summary = self.json()?;
            let mut records = Vec::new();
            for _ in 0..self.u()? {
                records.push(TxnId(self.u()?));
            }
            state.upload = Some(PendingUpload {
                batch_no,
                summary,
                records,
                done: usize::try_from(self.u()?).ok()?,
            });
        }
        for _ in 0..self.u()? {
            let id = self.str()?;
            let pin = PinState {
                failures: self.u32()?,
                locked_until: if self.flag()? {
                    Some(self.time()?)
                } else {
                    None
                },
            };
            state.pins.insert(id, pin);
        }
        for _ in 0..self.u()? {
            state.closed.push(BatchClose {
                batch_no: self.batch()?,
                summary: self.json()?,
                balanced: self.flag()?,
                uploaded: self.flag()?,
                at: self.time()?,
            });
        }
        let named = |id: &TxnId| state.txns.contains_key(id);
        let dangling = state.children.keys().any(|id| !named(id))
            || state
                .outstanding
                .and_then(|p| p.txn())
                .is_some_and(|id| !named(&id));
        (!dangling).then_some(())
    }
}

impl Terminal {
    /// The terminal as a snapshot covering its whole journal (see
    /// [`crate::terminal::snapshot`]). Take it once every entry is
    /// persisted: a snapshot must never cover a record storage may lose.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut writer = self.snapshot_writer();
        loop {
            match writer.step(self, usize::MAX) {
                SnapshotStep::Wrote => {}
                SnapshotStep::Done(bytes) => return bytes,
                SnapshotStep::Stale => unreachable!("the same terminal throughout"),
            }
        }
    }

    /// [`Terminal::snapshot`] a few transactions at a time: a binding calls
    /// [`SnapshotWriter::step`] until it is done and lets its page run in
    /// between, instead of blocking it for the whole state (~1 µs a
    /// transaction natively, ~110 ms at 100,000 records in the browser).
    /// The bytes are those `snapshot` gives.
    pub fn snapshot_writer(&self) -> SnapshotWriter {
        debug_assert!(
            self.unpersisted().is_empty(),
            "snapshot of unpersisted entries"
        );
        let txns = self.state.txns.len();
        // The format tag, then room for the checksum, filled in at the end:
        // the body is not copied again.
        let mut w = Writer(Vec::with_capacity(
            SNAPSHOT_FORMAT.len() + 32 + 256 * txns + 1024,
        ));
        w.0.extend_from_slice(SNAPSHOT_FORMAT.as_bytes());
        w.0.extend_from_slice(&[0; 32]);
        let c = &self.config;
        w.str(&c.merchant_id);
        w.str(&c.terminal_id);
        w.str(c.currency.code());
        w.u(self.journal.len() as u64);
        w.str(self.journal.head());
        w.u(self.state.batch_no.get().into());
        w.u(self.state.next_trace.get().into());
        w.u(txns as u64);
        SnapshotWriter {
            w,
            hasher: Sha256::new(),
            hashed: SNAPSHOT_FORMAT.len() + 32,
            count: self.journal.len(),
            head: self.journal.head().to_owned(),
            at: Phase::Txns {
                after: None,
                left: txns,
            },
        }
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
        let mut state = snapshot.state;
        for entry in journal.entries() {
            state.apply(entry.seq, &entry.record);
        }
        let mut terminal = Terminal::from_parts(config, state, journal);
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
        assert!(count as usize <= self.taken, "forget unpersisted entries");
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
