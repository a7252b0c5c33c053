//! Writes `corpus/`, the fuzzers' first inputs, from the simulator: a
//! day's journal export, its statement as CSV and JSON, and the acquirer's
//! reply (once and twice) to the sale the `reply` target waits on.
use posflow_core::prelude::*;
use posflow_core::reconcile::statement_from_acquirer;

const T0: Timestamp = Timestamp(1_795_365_000_000);

fn sale(amount: &str) -> Command {
    Command::Sale {
        amount: Money::parse(amount, Currency::Cny).unwrap(),
        card: Card::from_pan("6222020200112233445").unwrap(),
    }
}

fn main() {
    for dir in ["journal", "statement", "reply"] {
        std::fs::create_dir_all(format!("corpus/{dir}")).unwrap();
    }
    let mut term = Terminal::open(demo_config(), Vec::new(), T0).unwrap();
    term.sign_in("01", "1234", T0).unwrap();
    let mut host = SimulatedAcquirer::new(1);
    for (i, amount) in ["100.00", "5.00", "0.01"].into_iter().enumerate() {
        let now = Timestamp(T0.0 + i as i64 * 60_000);
        Driver::new(&mut term, &mut host)
            .run(sale(amount), &format!("k{i}"), now)
            .unwrap();
    }
    std::fs::write("corpus/journal/day", term.journal().export_json()).unwrap();
    let file = host.statement("10000001", Timestamp(T0.0 + 2 * 86_400_000));
    let statement =
        statement_from_acquirer(&file, &term.config().merchant_id, Currency::Cny, 480).unwrap();
    std::fs::write("corpus/statement/csv", statement.to_csv()).unwrap();
    std::fs::write("corpus/statement/json", statement.to_json()).unwrap();

    let mut term = Terminal::open(demo_config(), Vec::new(), T0).unwrap();
    term.sign_in("01", "1234", T0).unwrap();
    let mut host = SimulatedAcquirer::new(1);
    Driver::new(&mut term, &mut host)
        .run(sale("100.00"), "k1", T0)
        .unwrap();
    let request = term
        .execute(sale("5.00"), "k2", T0)
        .unwrap()
        .request
        .unwrap();
    let reply = serde_json::to_string(&host.process(&request, T0)).unwrap();
    std::fs::write("corpus/reply/approved", &reply).unwrap();
    std::fs::write("corpus/reply/twice", format!("{reply}\n{reply}")).unwrap();
}
