//! How long reconciliation takes for a day of 1,000, 10,000 and 100,000
//! statement lines: reading the CSV file, and matching it against the
//! terminal's journal. Run with `cargo bench -p posflow-core --bench reconcile`.
//!
//! The terminal holds one approved sale per line (one in a thousand of them
//! returned at the acquirer), replayed from a journal built by
//! `tests/common/day.rs`'s `synthetic_day`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use posflow_core::money::Currency;
use posflow_core::reconcile::{reconcile, statement_from_ledger, Statement};
use posflow_core::time::Timestamp;

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/day.rs"]
mod day;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("reconcile");
    group.sample_size(10);
    for n in [1_000u32, 10_000, 100_000] {
        let (term, postings) = day::synthetic_day(n, 1_000);
        let statement =
            statement_from_ledger(&postings, "898440350480001", Currency::Cny, 480).unwrap();
        let csv = statement.to_csv();
        group.throughput(Throughput::Elements(u64::from(n)));
        group.bench_with_input(BenchmarkId::new("read_csv", n), &csv, |b, csv| {
            b.iter(|| Statement::from_csv(csv, Currency::Cny).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("match", n), &statement, |b, st| {
            b.iter(|| reconcile(&term, st, Timestamp(0)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
