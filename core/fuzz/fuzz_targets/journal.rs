//! A journal import (`exportJournal()`'s text) and, when it is accepted,
//! its replay with the invariants checked; each line also as a storage row,
//! an amount and a date. Nothing may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use posflow_core::journal::Journal;
use posflow_core::prelude::*;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let now = Timestamp(1_795_365_000_000);
    static CONFIG: std::sync::OnceLock<TerminalConfig> = std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(demo_config);
    if let Ok(j) = Journal::<Record>::import_json(text) {
        if let Ok(t) = Terminal::replay(config.clone(), j.entries().to_vec(), now) {
            t.check_invariants(now).unwrap();
        }
    }
    for line in text.lines() {
        let _ = posflow_core::journal::row_record(line);
        let _ = Money::parse(line, Currency::Cny);
        let _ = Money::parse(line, Currency::Jpy);
        let _ = posflow_core::money::decimal_from_text(line);
        let _ = Date::parse(line);
    }
});
