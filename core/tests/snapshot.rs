//! Snapshots (issue 9): opening from a snapshot of any journal prefix plus
//! the rest of the journal is opening from the whole journal — the same
//! state, views, invariants, recovery records and behaviour on the next
//! commands — and a damaged or misfitting snapshot is refused with a
//! stable code, never half-used.
//!
//! The journals come from seeded random days at the demo terminal through
//! the public `Driver`, on a `SimulatedAcquirer` running the simulator's
//! fault rates for the seed (timeouts, lost, duplicated, late replies),
//! with restarts, wrong PINs, settlements and clock jumps.

mod common;

use common::SplitMix64;
use posflow_core::error::PosError;
use posflow_core::journal::{verify_rows, Entry, Journal, GENESIS_HASH};
use posflow_core::planner::{RefundOriginal, Voucher};
use posflow_core::prelude::*;
use posflow_core::record::{Record, Resolution};
use posflow_core::sim::{fast_config, refund_command, Swarm};
use posflow_core::terminal::TxnState;
use posflow_core::terminal::{Snapshot, SnapshotStep, SNAPSHOT_FORMAT};
use posflow_core::time::DAY_MS;

const T0: Timestamp = Timestamp(1_795_365_000_000);
const PANS: [&str; 3] = [
    "6222020200112233445",
    "4761340000000019",
    "6228480402564890018",
];

fn approval(id: &str, pin: &str) -> ApprovalInput {
    ApprovalInput {
        operator_id: id.into(),
        pin: pin.into(),
    }
}

fn cny(fen: u64) -> Money {
    Money::parse(&format!("{}.{:02}", fen / 100, fen % 100), Currency::Cny).unwrap()
}

/// One random operation on `term` through a driver; errors are part of
/// the day (a refused void is still a tested path). Returns the entries it
/// made durable.
fn operate(
    term: &mut Terminal,
    host: &mut SimulatedAcquirer,
    rng: &mut SplitMix64,
    now: Timestamp,
) -> Vec<Entry<Record>> {
    let ids: Vec<TxnId> = term.transactions().map(|t| t.id).collect();
    let pick = |rng: &mut SplitMix64| {
        ids.get(rng.below(ids.len().max(1) as u64) as usize)
            .copied()
    };
    let pre_auths: Vec<TxnId> = term
        .transactions()
        .filter(|t| t.request.kind == Kind::PreAuth)
        .map(|t| t.id)
        .collect();
    let pre_auth = |rng: &mut SplitMix64| {
        let n = pre_auths.len().max(1) as u64;
        pre_auths.get(rng.below(n) as usize).copied()
    };
    let key = format!("k{}", rng.next());
    let sup = vec![approval("90", "246810")];
    let op = rng.below(23);
    if term.signed_in().is_none() && op != 15 {
        let _ = term.sign_in("01", "1234", now);
    }
    let mut fresh = term.take_unpersisted();
    let mut d = Driver::new(term, host);
    let start = d.stored.len();
    let card = Card::from_pan(PANS[rng.below(3) as usize]).unwrap();
    let amount = cny(1 + rng.below(50_000));
    let _ = match op {
        0..=6 => d.run(Command::Sale { amount, card }, &key, now).map(drop),
        7 => d
            .run(Command::PreAuth { amount, card }, &key, now)
            .map(drop),
        8 => match pick(rng) {
            Some(id) => d
                .run(
                    Command::Void {
                        original: OriginalSelector::Id(id),
                        approvals: sup,
                    },
                    &key,
                    now,
                )
                .map(drop),
            None => Ok(()),
        },
        9 | 10 => match pick(rng) {
            Some(id) => {
                let part = cny(1 + rng.below(20_000));
                match refund_command(d.terminal(), OriginalSelector::Id(id), part, "return", now) {
                    Ok(c) => d.run(c, &key, now).map(drop),
                    Err(e) => Err(e),
                }
            }
            None => Ok(()),
        },
        11 => match pre_auth(rng) {
            Some(id) => d
                .run(
                    Command::Complete {
                        original: OriginalSelector::Id(id),
                        amount,
                        advice: rng.below(2) == 0,
                    },
                    &key,
                    now,
                )
                .map(drop),
            None => Ok(()),
        },
        12 => match pre_auth(rng) {
            Some(id) => d
                .run(
                    Command::CancelPreAuth {
                        original: OriginalSelector::Id(id),
                    },
                    &key,
                    now,
                )
                .map(drop),
            None => Ok(()),
        },
        13 => d.settle(now),
        14 => match pick(rng) {
            Some(id) => d.query(&OriginalSelector::Id(id), now),
            None => Ok(()),
        },
        15 => {
            // Wrong PINs, up to a lock.
            for _ in 0..=rng.below(6) {
                let _ = d.terminal().sign_in("91", "000000", now);
            }
            Ok(())
        }
        16 => {
            d.flush(now);
            Ok(())
        }
        17 => {
            // A supervisor settles a manual review with what the acquirer says.
            let review = d
                .terminal()
                .transactions()
                .find(|t| matches!(t.state, TxnState::ManualReview { .. }))
                .map(|t| t.id);
            match review {
                Some(id) => {
                    let r = d.terminal().resolve_review(
                        &OriginalSelector::Id(id),
                        Resolution::Reversed,
                        &sup,
                        now,
                    );
                    d.flush(now);
                    r
                }
                None => Ok(()),
            }
        }
        18 => {
            // Rule 6: a refund of a sale this journal never saw.
            let voucher = Voucher {
                date: now.local_date(480),
                amount: cny(10_000 + rng.below(10_000)),
                rrn: format!("{:012}", rng.below(1_000_000_000_000)),
                auth_code: None,
                trace_no: TraceNo::parse("000042").unwrap(),
                batch_no: BatchNo::parse("000001").unwrap(),
                card: card.clone(),
            };
            d.refund(
                &RefundOriginal::Voucher(voucher),
                Some(cny(1 + rng.below(10_000))),
                "no original",
                sup,
                None,
                &key,
                now,
            )
            .map(drop)
        }
        _ => d.run(Command::Sale { amount, card }, &key, now).map(drop),
    };
    fresh.extend(d.stored.drain(start..));
    fresh.extend(term.take_unpersisted());
    fresh
}

/// A seeded day: the journal as stored, the acquirer after it, and the
/// time it ended.
fn day(seed: u64, ops: u32) -> (Vec<Entry<Record>>, SimulatedAcquirer, Timestamp) {
    let mut rng = SplitMix64(seed);
    let mut host = SimulatedAcquirer::new(seed);
    host.set_fault_rates(Swarm::of_seed(seed).rates).unwrap();
    let mut now = T0;
    let mut term = Terminal::open(fast_config(), Vec::new(), now).unwrap();
    let mut stored = term.take_unpersisted();
    for _ in 0..ops {
        now = Timestamp(now.0 + 1 + rng.below(600_000) as i64);
        if rng.below(40) == 0 {
            now = Timestamp(now.0 + DAY_MS * (1 + rng.below(3) as i64));
        }
        stored.extend(operate(&mut term, &mut host, &mut rng, now));
        if rng.below(25) == 0 {
            // A restart from what is durable.
            term = Terminal::open(fast_config(), stored.clone(), now).unwrap();
            stored.extend(term.take_unpersisted());
        }
    }
    assert_eq!(stored, term.journal().entries());
    (stored, host, now)
}

/// Everything a caller can observe of two terminals is the same.
fn same(a: &Terminal, b: &Terminal, now: Timestamp) -> Result<(), String> {
    if a.journal().len() != b.journal().len() || a.journal().head() != b.journal().head() {
        return Err(format!(
            "journals end differently: {} / {} records",
            a.journal().len(),
            b.journal().len()
        ));
    }
    let base = b.journal().base() as usize;
    if a.journal().entries()[base - a.journal().base() as usize..] != *b.journal().entries() {
        return Err("the tails differ".into());
    }
    if a.state() != b.state() {
        return Err("the states differ".into());
    }
    for t in a.transactions() {
        if a.view(t.id, now) != b.view(t.id, now) {
            return Err(format!("the views of {} differ", t.id));
        }
    }
    if a.check_invariants(now) != b.check_invariants(now) {
        return Err("the invariant checks differ".into());
    }
    if a.batch_no() != b.batch_no()
        || a.outstanding() != b.outstanding()
        || a.signed_in() != b.signed_in()
        || a.closed_batches() != b.closed_batches()
    {
        return Err("the accessors differ".into());
    }
    Ok(())
}

/// The same further commands on both, against equal acquirers.
fn go_on(
    a: &mut Terminal,
    b: &mut Terminal,
    host: &SimulatedAcquirer,
    seed: u64,
    now: Timestamp,
) -> Result<(), String> {
    let (mut ha, mut hb) = (host.clone(), host.clone());
    let (mut ra, mut rb) = (SplitMix64(seed ^ 0xABCD), SplitMix64(seed ^ 0xABCD));
    let mut now = now;
    for _ in 0..25 {
        now = Timestamp(now.0 + 1 + ra.below(600_000) as i64);
        rb.next();
        if operate(a, &mut ha, &mut ra, now) != operate(b, &mut hb, &mut rb, now) {
            return Err("the next commands appended other records".into());
        }
        same(a, b, now)?;
    }
    Ok(())
}

fn snapshot_at(journal: &[Entry<Record>], k: usize, now: Timestamp) -> Vec<u8> {
    let prefix = Terminal::replay(fast_config(), journal[..k].to_vec(), now).unwrap();
    prefix.snapshot()
}

fn rows(entries: &[Entry<Record>]) -> Vec<String> {
    entries
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect()
}

#[test]
fn a_snapshot_of_every_prefix_plus_the_tail_opens_as_the_whole_journal() {
    let mut prefixes = 0;
    let mut seen = std::collections::BTreeSet::new();
    // 20 seeds: with garbled replies in the swarm, the first 10 days no
    // longer reach a completion advice.
    for seed in 0..20 {
        let (journal, host, end) = day(seed, 90);
        for e in &journal {
            seen.insert(e.record.type_name());
            if let Record::Requested(r) = &e.record {
                seen.insert(if r.voucher.is_some() {
                    "voucher refund"
                } else {
                    r.kind.as_str()
                });
            }
        }
        let now = Timestamp(end.0 + 1_000);
        let mut full = Terminal::open(fast_config(), journal.clone(), now).unwrap();
        let recovery = full.take_unpersisted();
        full.check_invariants(now).unwrap();
        for k in 1..=journal.len() {
            let text = snapshot_at(&journal, k, now);
            let snapshot = Snapshot::from_bytes(&text).unwrap();
            assert_eq!(snapshot.count(), k as u64);
            assert_eq!(snapshot.head(), journal[k - 1].hash);
            let mut opened =
                Terminal::open_from_snapshot(fast_config(), snapshot, journal[k..].to_vec(), now)
                    .unwrap_or_else(|e| panic!("seed {seed}, prefix {k}: {e}"));
            assert_eq!(opened.journal().base(), k as u64);
            assert_eq!(
                opened.take_unpersisted(),
                recovery,
                "seed {seed}, prefix {k}"
            );
            same(&full, &opened, now).unwrap_or_else(|e| panic!("seed {seed}, prefix {k}: {e}"));
            // Deterministic: the reopened terminal snapshots to the same bytes.
            assert_eq!(
                opened.snapshot(),
                full.snapshot(),
                "seed {seed}, prefix {k}"
            );
            if k % 17 == 0 || k == journal.len() || k == 1 {
                let mut a = full.clone();
                go_on(&mut a, &mut opened, &host, seed, now)
                    .unwrap_or_else(|e| panic!("seed {seed}, prefix {k}, next commands: {e}"));
            }
            prefixes += 1;
        }
    }
    assert!(prefixes > 1_000, "only {prefixes} prefixes");
    // Not vacuous: the days went through every record the state keeps.
    for what in [
        "sale",
        "void",
        "refund",
        "pre_auth",
        "pre_auth_cancel",
        "completion",
        "completion_advice",
        "voucher refund",
        "settlement_sent",
        "unanswered",
        "manual_review",
        "review_resolved",
        "operator_locked",
        "late_reply",
    ] {
        assert!(seen.contains(what), "no {what} in the days: {seen:?}");
    }
}

#[test]
fn the_export_with_the_history_is_the_full_export() {
    let (journal, _, end) = day(3, 60);
    let now = Timestamp(end.0 + 1);
    let mut full = Terminal::open(fast_config(), journal.clone(), now).unwrap();
    full.take_unpersisted();
    let all = full.journal().export_json();
    let history = rows(&journal);
    for k in [1, journal.len() / 3, journal.len()] {
        let snapshot = Snapshot::from_bytes(&snapshot_at(&journal, k, now)).unwrap();
        let opened =
            Terminal::open_from_snapshot(fast_config(), snapshot, journal[k..].to_vec(), now)
                .unwrap();
        let based = opened.journal();
        let n = based.len() as u64;
        assert_eq!(based.export_json_with(&history[..k], n).unwrap(), all);
        // More rows than the base are fine: the journal's own tail counts.
        assert_eq!(based.export_json_with(&history, n).unwrap(), all);
        // A durable prefix, as a read-only terminal exports it.
        let cut = (k as u64 + n) / 2;
        let prefix = Journal::from_entries(journal[..cut as usize].to_vec()).unwrap();
        assert_eq!(
            based.export_json_with(&history[..k], cut).unwrap(),
            prefix.export_json()
        );
        assert_eq!(
            Journal::<Record>::import_json(&all).unwrap().len() as u64,
            n
        );
        match based.export_json_with(&history[..k - 1], n) {
            Err(PosError::JournalLoading { loaded, total }) => {
                assert_eq!((loaded, total), (k as u64 - 1, n))
            }
            other => panic!("expected JOURNAL_LOADING, got {other:?}"),
        }
        let mut damaged = history[..k].to_vec();
        damaged[k / 2] = damaged[k / 2].replacen("\"at\":", "\"at\": ", 1);
        let err = based.export_json_with(&damaged, n).unwrap_err();
        assert_eq!(err.code(), "JOURNAL_DAMAGED");
    }
    assert_eq!(
        verify_rows(0, GENESIS_HASH, &history).unwrap(),
        journal.last().unwrap().hash
    );
}

#[test]
fn forgetting_the_history_keeps_the_terminal() {
    let (journal, host, end) = day(5, 60);
    let now = Timestamp(end.0 + 1);
    let mut a = Terminal::open(fast_config(), journal.clone(), now).unwrap();
    a.take_unpersisted();
    let mut b = a.clone();
    let n = journal.len() as u64;
    let gone = b.forget_history(n - 10);
    assert_eq!(gone, journal[..(n - 10) as usize]);
    assert_eq!(b.journal().base(), n - 10);
    assert_eq!(b.journal().len(), a.journal().len());
    assert_eq!(b.snapshot(), a.snapshot());
    // Forgetting less than the base forgets nothing more.
    assert!(b.forget_history(3).is_empty());
    go_on(&mut a, &mut b, &host, 5, now).unwrap();
}

/// A terminal taken apart holds nothing, and is freed a budget at a time.
#[test]
fn a_dismantled_terminal_holds_nothing() {
    let (journal, _, end) = day(6, 120);
    let now = Timestamp(end.0 + 1);
    let mut term = Terminal::open(fast_config(), journal.clone(), now).unwrap();
    let held = term.transactions().count() + journal.len();
    assert!(held > 100, "{held}");
    // A snapshot begun before is not finished from a terminal taken apart.
    let mut writer = term.snapshot_writer();
    assert_eq!(writer.step(&term, 1), SnapshotStep::Wrote);
    let mut parts = term.dismantle();
    assert_eq!(term.halted(), Some(posflow_core::terminal::DISMANTLED));
    assert_eq!(term.transactions().count(), 0);
    assert!(term.journal().entries().is_empty());
    assert_eq!(writer.step(&term, usize::MAX), SnapshotStep::Stale);
    let mut steps = 1;
    while !parts.step(7) {
        steps += 1;
        assert!(steps <= held, "it ends");
    }
    // Transactions and entries, and an RRN, a key and a trace index entry
    // for most sales.
    assert!(steps > held / 7, "{steps} steps for {held}");
    assert!(parts.step(7), "nothing left");
}

/// Every kind of damage to a snapshot is `SNAPSHOT_DAMAGED`.
#[test]
fn a_damaged_snapshot_is_refused() {
    let (journal, _, end) = day(7, 40);
    let now = Timestamp(end.0 + 1);
    let bytes = snapshot_at(&journal, journal.len(), now);
    Snapshot::from_bytes(&bytes).unwrap();
    let refused = |b: &[u8]| match Snapshot::from_bytes(b) {
        Err(e @ PosError::SnapshotDamaged { .. }) => e.code(),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a damaged snapshot was accepted"),
    };
    let mut rng = SplitMix64(7);
    for _ in 0..400 {
        let i = rng.below(bytes.len() as u64) as usize;
        let mut changed = bytes.clone();
        changed[i] ^= 1 << rng.below(8);
        assert_eq!(refused(&changed), "SNAPSHOT_DAMAGED", "byte {i}");
    }
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
        assert_eq!(refused(&bytes[..cut]), "SNAPSHOT_DAMAGED", "cut at {cut}");
    }
    let mut other = bytes.clone();
    other[SNAPSHOT_FORMAT.len() - 1] = b'9';
    refused(&other);
    let mut longer = bytes.clone();
    longer.push(0);
    refused(&longer);
    refused(b"");
}

/// A sound snapshot that does not fit the journal or the terminal.
#[test]
fn a_snapshot_that_does_not_fit_is_refused() {
    let (journal, _, end) = day(9, 40);
    let (other, _, _) = day(10, 40);
    let now = Timestamp(end.0 + 1);
    let k = journal.len() / 2;
    let open = |text: &[u8], tail: &[Entry<Record>], config: TerminalConfig| {
        let snapshot = Snapshot::from_bytes(text).unwrap();
        Terminal::open_from_snapshot(config, snapshot, tail.to_vec(), now)
            .map(drop)
            .unwrap_err()
            .code()
    };
    let text = snapshot_at(&journal, k, now);
    // Another journal's tail, a tail that skips a record, one that repeats.
    assert_eq!(open(&text, &other[k..], fast_config()), "SNAPSHOT_DAMAGED");
    assert_eq!(
        open(&text, &journal[k + 1..], fast_config()),
        "SNAPSHOT_DAMAGED"
    );
    assert_eq!(
        open(&text, &journal[k - 1..], fast_config()),
        "SNAPSHOT_DAMAGED"
    );
    // A tail damaged inside.
    let mut tail = journal[k..].to_vec();
    tail.swap(1, 2);
    assert_eq!(open(&text, &tail, fast_config()), "JOURNAL_DAMAGED");
    // Another terminal's configuration.
    let mut config = fast_config();
    config.terminal_id = "10000002".into();
    assert_eq!(open(&text, &journal[k..], config), "JOURNAL_MISMATCH");
}

/// Written in steps of any size, a snapshot is the bytes `snapshot` gives,
/// and a spent writer writes nothing more.
#[test]
fn a_snapshot_written_in_steps_is_the_snapshot() {
    for seed in 0..4 {
        let (journal, _host, end) = day(seed, 80);
        let mut term = Terminal::open(fast_config(), journal, Timestamp(end.0 + 1)).unwrap();
        term.take_unpersisted();
        let whole = term.snapshot();
        let txns = term.transactions().count();
        assert!(txns > 10, "seed {seed}: a day of {txns} transactions");
        for budget in [0, 1, 2, 7, txns - 1, txns, usize::MAX] {
            let mut writer = term.snapshot_writer();
            let mut steps = 1;
            let bytes = loop {
                match writer.step(&term, budget) {
                    SnapshotStep::Wrote => steps += 1,
                    SnapshotStep::Done(bytes) => break bytes,
                    SnapshotStep::Stale => panic!("seed {seed}, budget {budget}: stale"),
                }
            };
            assert_eq!(bytes, whole, "seed {seed}, budget {budget}");
            // A step writes up to `budget` transactions, then RRNs (one at
            // most per transaction).
            let (least, most) = (
                txns.div_ceil(budget.max(1)),
                (2 * txns).div_ceil(budget.max(1)),
            );
            assert!(
                (least.max(1)..=most.max(1)).contains(&steps),
                "seed {seed}, budget {budget}: {steps} steps"
            );
            assert_eq!(writer.step(&term, budget), SnapshotStep::Stale);
        }
        Snapshot::from_bytes(&whole).unwrap();
    }
}

/// Reading a snapshot in steps (its checksum, then a transaction at a
/// time) opens the same terminal as reading it at once, at any budget;
/// damaged bytes are refused as they are at once; a reader that is done
/// refuses another step.
#[test]
fn a_snapshot_read_in_steps_is_the_snapshot() {
    for seed in 0..3 {
        let (journal, _host, end) = day(seed, 80);
        let now = Timestamp(end.0 + 1);
        let bytes = snapshot_at(&journal, journal.len(), now);
        let whole = Terminal::open_from_snapshot(
            fast_config(),
            Snapshot::from_bytes(&bytes).unwrap(),
            Vec::new(),
            now,
        )
        .unwrap();
        let txns = whole.transactions().count();
        for budget in [0, 1, 2, 7, txns, usize::MAX] {
            let mut reader = Snapshot::reader(bytes.clone()).unwrap();
            let mut steps = 1;
            let snapshot = loop {
                match reader.step(budget).unwrap() {
                    Some(snapshot) => break snapshot,
                    None => steps += 1,
                }
            };
            let read =
                Terminal::open_from_snapshot(fast_config(), snapshot, Vec::new(), now).unwrap();
            same(&whole, &read, now)
                .unwrap_or_else(|e| panic!("seed {seed}, budget {budget}: {e}"));
            // A step checks 1 KiB or reads a transaction per unit of budget.
            let least = (bytes.len() / 1024 + txns).div_ceil(budget.max(1));
            assert!(
                steps >= least.max(1),
                "seed {seed}, budget {budget}: {steps} steps"
            );
            assert_eq!(reader.step(budget).unwrap_err().code(), "SNAPSHOT_DAMAGED");
        }
        let mut rng = SplitMix64(seed);
        for _ in 0..50 {
            let i = rng.below(bytes.len() as u64) as usize;
            let mut changed = bytes.clone();
            changed[i] ^= 1 << rng.below(8);
            let at_once = Snapshot::from_bytes(&changed).unwrap_err();
            let stepped = Snapshot::reader(changed).and_then(|mut r| loop {
                if let Some(s) = r.step(3)? {
                    break Ok(s);
                }
            });
            assert_eq!(stepped.unwrap_err(), at_once, "byte {i}");
        }
    }
}

/// A writer whose terminal moved on between steps drops what it wrote:
/// its bytes would mix two states.
#[test]
fn a_snapshot_writer_refuses_a_terminal_that_moved_on() {
    let (journal, mut host, end) = day(2, 60);
    let now = Timestamp(end.0 + 1);
    let mut term = Terminal::open(fast_config(), journal, now).unwrap();
    term.take_unpersisted();
    let mut writer = term.snapshot_writer();
    assert_eq!(writer.step(&term, 1), SnapshotStep::Wrote);
    let _ = term.sign_in("01", "1234", now);
    let card = Card::from_pan(PANS[0]).unwrap();
    let mut d = Driver::new(&mut term, &mut host);
    d.run(
        Command::Sale {
            amount: cny(500),
            card,
        },
        "moved-on",
        now,
    )
    .unwrap();
    assert_eq!(writer.step(&term, usize::MAX), SnapshotStep::Stale);
    assert_eq!(writer.step(&term, usize::MAX), SnapshotStep::Stale);
    // A new writer on the terminal as it is writes its snapshot.
    term.take_unpersisted();
    let mut fresh = term.snapshot_writer();
    assert_eq!(
        fresh.step(&term, usize::MAX),
        SnapshotStep::Done(term.snapshot())
    );
}
