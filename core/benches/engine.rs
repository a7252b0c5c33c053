//! Native figures of the engine (issue 9): a sale with its reply, a refund
//! plan, a refund, and opening (replaying) journals of 1,000 / 10,000 /
//! 100,000 records, from the journal or from a snapshot. Run with
//! `cargo bench -p posflow-core --bench engine`.
//!
//! Per-operation figures are taken on a terminal that already holds 10,000
//! transactions, so a cost that grew with the journal would show here.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use posflow_core::journal::Entry;
use posflow_core::prelude::*;
use posflow_core::record::Record;

const PAN: &str = "6222020200112233445";

/// The demo terminal with cheap PIN hashes (the benches measure the engine,
/// not PBKDF2).
fn config() -> TerminalConfig {
    posflow_core::driver::demo_config_with(Policy {
        pin_hash_iterations: 1,
        ..Policy::default()
    })
}

fn cny(text: &str) -> Money {
    Money::parse(text, Currency::Cny).unwrap()
}

/// A signed-in terminal after `sales` approved sales, and its host.
fn day(sales: usize) -> (Terminal, SimulatedAcquirer, Timestamp) {
    let mut now = Timestamp(1_795_140_000_000);
    let mut term = Terminal::open(config(), Vec::new(), now).unwrap();
    term.sign_in("01", "1234", now).unwrap();
    let mut host = SimulatedAcquirer::new(9);
    let mut d = Driver::new(&mut term, &mut host);
    let card = Card::from_pan(PAN).unwrap();
    for i in 0..sales {
        now = Timestamp(now.0 + 1_000);
        let amount = cny(&format!("{}.{:02}", 1 + i % 500, i % 100));
        d.run(
            Command::Sale {
                amount,
                card: card.clone(),
            },
            &format!("s{i}"),
            now,
        )
        .unwrap();
    }
    drop(d);
    (term, host, now)
}

fn entries(records: usize) -> Vec<Entry<Record>> {
    // Each sale is two records (requested, answered), after opened and
    // signed_in.
    let (term, _, _) = day(records.saturating_sub(2) / 2);
    term.journal().entries().to_vec()
}

fn per_operation(c: &mut Criterion) {
    let (mut term, mut host, mut now) = day(10_000);
    let card = Card::from_pan(PAN).unwrap();
    let approvals = vec![ApprovalInput {
        operator_id: "90".into(),
        pin: "246810".into(),
    }];
    let mut d = Driver::new(&mut term, &mut host);
    let mut n = 0u64;
    c.bench_function("sale with reply (10k in journal)", |b| {
        b.iter(|| {
            n += 1;
            now = Timestamp(now.0 + 10);
            d.run(
                Command::Sale {
                    amount: cny("12.34"),
                    card: card.clone(),
                },
                &format!("b{n}"),
                now,
            )
            .unwrap()
        })
    });
    c.bench_function("plan_refund (10k in journal)", |b| {
        let original = RefundOriginal::Journal(OriginalSelector::Id(TxnId(2)));
        b.iter(|| {
            d.terminal()
                .plan_refund(&original, Some(cny("0.01")), now)
                .unwrap()
        })
    });
    // Partial refunds of successive originals, one cent each.
    let mut o = 2u64;
    c.bench_function("refund with reply (10k in journal)", |b| {
        b.iter(|| {
            n += 1;
            o += 2;
            now = Timestamp(now.0 + 10);
            d.refund(
                &RefundOriginal::Journal(OriginalSelector::Id(TxnId(o))),
                Some(cny("0.01")),
                "bench",
                approvals.clone(),
                None,
                &format!("r{n}"),
                now,
            )
            .unwrap()
        })
    });
}

fn replay(c: &mut Criterion) {
    let mut group = c.benchmark_group("open (replay)");
    group.sample_size(10);
    for records in [1_000, 10_000, 100_000] {
        let entries = entries(records);
        let json = posflow_core::journal::Journal::from_entries(entries.clone())
            .unwrap()
            .export_json();
        let now = Timestamp(1_895_140_000_000);
        group.bench_function(format!("{records} records, parsed"), |b| {
            b.iter_batched(
                || entries.clone(),
                |e| Terminal::open(config(), e, now).unwrap(),
                BatchSize::LargeInput,
            )
        });
        // As the binding restores a backup (and replays stored rows): each
        // entry cut out of the text, checked and replayed in turn.
        group.bench_function(format!("{records} records, from JSON"), |b| {
            b.iter(|| {
                let mut export = posflow_core::journal::ExportReader::new(&json).unwrap();
                let mut replay = posflow_core::terminal::Replay::new(config()).unwrap();
                while let Some(row) = export.next_entry().unwrap() {
                    replay.push_text(row).unwrap();
                }
                replay.open(now)
            })
        });
    }
    group.finish();
}

/// Opening from a snapshot (issue 9): checking and decoding the snapshot
/// and rebuilding the state, with an empty tail; and taking one.
fn snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("open (snapshot)");
    group.sample_size(10);
    for records in [1_000, 10_000, 100_000] {
        let now = Timestamp(1_895_140_000_000);
        let term = Terminal::open(config(), entries(records), now).unwrap();
        let bytes = term.snapshot();
        eprintln!("snapshot of {records} records: {} bytes", bytes.len());
        group.bench_function(format!("{records} records, from snapshot"), |b| {
            b.iter(|| {
                let s = posflow_core::terminal::Snapshot::from_bytes(&bytes).unwrap();
                Terminal::open_from_snapshot(config(), s, Vec::new(), now).unwrap()
            })
        });
        group.bench_function(format!("{records} records, take snapshot"), |b| {
            b.iter(|| term.snapshot())
        });
    }
    group.finish();
}

criterion_group!(benches, per_operation, replay, snapshot);
criterion_main!(benches);
