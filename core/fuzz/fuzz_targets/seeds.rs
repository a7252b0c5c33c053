//! Writes `corpus/`, the fuzzers' first inputs, from the simulator: a
//! day's journal export, its statement as CSV and JSON, and the acquirer's
//! reply (once and twice) to the sale the `reply` target waits on.
#[path = "common.rs"]
mod common;
use common::{three_sales, waiting, T0};
use posflow_core::prelude::*;
use posflow_core::reconcile::statement_from_acquirer;

fn main() {
    for dir in ["journal", "statement", "reply"] {
        std::fs::create_dir_all(format!("corpus/{dir}")).unwrap();
    }
    let (term, mut host) = three_sales();
    std::fs::write("corpus/journal/day", term.journal().export_json()).unwrap();
    let file = host.statement("10000001", Timestamp(T0.0 + 2 * 86_400_000));
    let statement =
        statement_from_acquirer(&file, &term.config().merchant_id, Currency::Cny, 480).unwrap();
    std::fs::write("corpus/statement/csv", statement.to_csv()).unwrap();
    std::fs::write("corpus/statement/json", statement.to_json()).unwrap();

    let (_, _, request, mut host) = waiting();
    let reply = serde_json::to_string(&host.process(&request, T0)).unwrap();
    std::fs::write("corpus/reply/approved", &reply).unwrap();
    std::fs::write("corpus/reply/twice", format!("{reply}\n{reply}")).unwrap();
}
