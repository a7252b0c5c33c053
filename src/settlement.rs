//! End of day in the JS API: `receipt` (签购单 as printer lines or HTML) and
//! `reconcile` (the acquirer's statement against the journal). Parse, call
//! the core, convert.

use posflow_core::digits::Digits;
use posflow_core::error::PosError;
use posflow_core::host::{BatchNo, TraceNo};
use posflow_core::money::Money;
use posflow_core::receipt::{Receipt, ReceiptCopy, ReceiptOptions, Width};
use posflow_core::reconcile::{
    self, statement_from_acquirer, CategoryTotal, CsvStatementReader, Finding, Reconciler,
    Statement,
};
use posflow_core::record::TxnId;
use posflow_core::totals::SignedMoney;
use serde::{Serialize, Serializer};
use tsify::Tsify;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::convert::{bounded, parse_text, to_js, txn_id};
use crate::error::BindingError;
use crate::input::{self, Input, Obj};
use crate::slices::{Slicer, FIRST_STEP};
use crate::terminal::{persist, queued_in, Shared, Terminal};

/// `receipt(id, options)`.
#[derive(Default, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ReceiptInput {
    /// `"merchant"` (商户存根, the default) or `"cardholder"` (持卡人存根).
    #[tsify(optional)]
    copy: Option<String>,
    /// 32 (58 mm, the default) or 48 (80 mm) columns.
    #[tsify(optional)]
    width: Option<u32>,
    /// Prints 重打印 REPRINT.
    #[tsify(optional)]
    reprint: Option<bool>,
    /// Voids and refunds with a minus sign.
    #[tsify(optional)]
    negative: Option<bool>,
    /// 商户名称.
    #[tsify(optional)]
    merchant_name: Option<String>,
    /// `"lines"` (the default: an array of fixed-width lines) or `"html"`.
    #[tsify(optional)]
    format: Option<String>,
}

impl Input for ReceiptInput {
    const FIELDS: &'static [&'static str] = &[
        "copy",
        "width",
        "reprint",
        "negative",
        "merchantName",
        "format",
    ];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(ReceiptInput {
            copy: o.opt_str("copy")?,
            width: o.opt_u32("width")?,
            reprint: o.opt_bool("reprint")?,
            negative: o.opt_bool("negative")?,
            merchant_name: o.opt_str("merchantName")?,
            format: o.opt_str("format")?,
        })
    }
}

/// What `reconcile` resolves with: the core's report as JS sees it.
///
/// Each finding's next step is given once, in `nextSteps`, rather than on
/// every item, and amounts are decimal strings in `currency`, as everywhere
/// else in the API: a day of 100,000 lines is 100,000 items, and two
/// sentences and two `{ amount, currency }` objects on each were most of
/// what `JSON.parse` had to read. Ids are `T00000042`, written straight
/// into the JSON. Nothing is copied: it borrows the core's report.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReconReport<'a> {
    merchant_id: &'a str,
    terminal_id: &'a str,
    /// The currency of every amount in the report.
    currency: &'static str,
    /// The dates reconciled, `YYYY-MM-DD`.
    dates: &'a [String],
    /// Every finding: terminal records in journal order, then lines found
    /// only at the acquirer in statement order.
    #[tsify(type = "ReconItem[]")]
    items: Items<'a>,
    /// What to do about each finding, in Chinese and English:
    /// `nextSteps[item.finding]`.
    #[tsify(type = "Record<ReconFinding, NextStepText>")]
    next_steps: NextSteps,
    summary: ReconSummary<'a>,
    /// Refunds the acquirer confirmed credited: now `credited`.
    #[tsify(type = "string[]")]
    credited: Ids<'a>,
    /// Refunds whose money came back: now `returned`.
    #[tsify(type = "string[]")]
    returned: Ids<'a>,
    /// When it was made, ms since the epoch.
    at: i64,
}

/// One finding of `reconcile`.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReconItem<'a> {
    #[tsify(type = "ReconCategory")]
    category: &'static str,
    /// Why; `nextSteps[finding]` says what to do.
    #[tsify(type = "ReconFinding")]
    finding: &'static str,
    /// The terminal's record, if it has one.
    #[tsify(type = "string | null")]
    #[serde(serialize_with = "id")]
    txn: Option<TxnId>,
    /// The record's type, else the line's.
    #[tsify(type = "TxnKind")]
    kind: &'static str,
    #[tsify(type = "string")]
    #[serde(serialize_with = "display")]
    batch_no: BatchNo,
    #[tsify(type = "string")]
    #[serde(serialize_with = "display")]
    trace_no: TraceNo,
    /// The record's RRN, else the line's.
    #[tsify(type = "string | null")]
    rrn: Option<&'a str>,
    /// The statement's line (CSV) or entry (JSON, 1-based), if there is one.
    #[tsify(type = "number | null")]
    line: Option<u64>,
    /// The amount on the terminal, a decimal string.
    #[tsify(type = "string | null")]
    #[serde(serialize_with = "display_option")]
    terminal_amount: Option<Money>,
    /// The amount on the statement.
    #[tsify(type = "string | null")]
    #[serde(serialize_with = "display_option")]
    acquirer_amount: Option<Money>,
    /// What the statement says became of it.
    #[tsify(type = "LineStatus | null")]
    acquirer_status: Option<&'static str>,
    /// How the record and the line were matched.
    #[tsify(type = "MatchedBy | null")]
    matched_by: Option<&'static str>,
}

/// A next step in both languages.
#[derive(Serialize, Tsify)]
pub(crate) struct NextStepText {
    zh: &'static str,
    en: &'static str,
}

/// The summary of `reconcile`.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReconSummary<'a> {
    /// One row per category, every category, in report order.
    #[tsify(type = "ReconCategoryTotal[]")]
    #[serde(serialize_with = "totals")]
    per_category: &'a [CategoryTotal],
    /// Items no one has explained.
    unexplained: u32,
    /// Whether the day balances: nothing unexplained.
    balanced: bool,
    /// Net of the terminal's approved records reconciled (sales and
    /// completions less voids and refunds), a decimal string, may be
    /// negative.
    #[tsify(type = "string")]
    #[serde(serialize_with = "display")]
    terminal_net: SignedMoney,
    /// Net of the statement's settled lines of this terminal.
    #[tsify(type = "string")]
    #[serde(serialize_with = "display")]
    acquirer_net: SignedMoney,
    /// The acquirer's fees on this terminal's lines.
    #[tsify(type = "string")]
    #[serde(serialize_with = "display")]
    fees: SignedMoney,
    /// Lines of other terminals or merchants, left alone.
    other_terminal_lines: u32,
    /// This terminal's lines with no record here and no money moved.
    lines_without_effect: u32,
}

/// Count and amounts of one category.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReconCategoryTotal {
    #[tsify(type = "ReconCategory")]
    category: &'static str,
    count: u32,
    /// Sum of the terminal amounts, a decimal string.
    #[tsify(type = "string")]
    #[serde(serialize_with = "display")]
    terminal_amount: Money,
    /// Sum of the statement amounts.
    #[tsify(type = "string")]
    #[serde(serialize_with = "display")]
    acquirer_amount: Money,
}

impl<'a> ReconReport<'a> {
    fn new(r: &'a reconcile::ReconReport) -> Self {
        let s = &r.summary;
        ReconReport {
            merchant_id: &r.merchant_id,
            terminal_id: &r.terminal_id,
            currency: s.terminal_net.currency().code(),
            dates: &r.dates,
            items: Items(&r.items),
            next_steps: NextSteps,
            summary: ReconSummary {
                per_category: &s.per_category,
                unexplained: s.unexplained,
                balanced: s.balanced,
                terminal_net: s.terminal_net,
                acquirer_net: s.acquirer_net,
                fees: s.fees,
                other_terminal_lines: s.other_terminal_lines,
                lines_without_effect: s.lines_without_effect,
            },
            credited: Ids(&r.credited),
            returned: Ids(&r.returned),
            at: r.at.0,
        }
    }

    /// The JSON text of the report: what the derived `Serialize` writes
    /// (the tests hold the two equal), with the items written by hand, and
    /// ASCII only.
    /// Through serde_json, 100,000 items took ~240 ms in the browser, as
    /// long as reading and matching the statement together: escaping each
    /// key and formatting each number through `fmt`.
    #[cfg(test)]
    fn to_json(&self) -> String {
        let mut out = String::with_capacity(256 * self.items.0.len() + 4096);
        out.push_str(&self.head());
        self.push_items(&mut out, 0..self.items.0.len());
        out.push_str(&self.tail());
        out
    }

    /// The text up to the items, `{"merchantId":…,"items":[`.
    fn head(&self) -> String {
        let mut out = String::new();
        // The small parts through serde_json.
        push_field(&mut out, "merchantId");
        push_str_value(&mut out, self.merchant_id);
        push_field(&mut out, "terminalId");
        push_str_value(&mut out, self.terminal_id);
        push_field(&mut out, "currency");
        push_str_value(&mut out, self.currency);
        push_field(&mut out, "dates");
        push_serde(&mut out, &self.dates);
        push_field(&mut out, "items");
        out.push('[');
        out
    }

    /// The items `range`, joined by commas.
    fn push_items(&self, out: &mut String, range: std::ops::Range<usize>) {
        let first = range.start;
        for k in range {
            if k > first {
                out.push(',');
            }
            push_item(out, &self.items.0[k]);
        }
    }

    /// The items `range` as a JSON array of their own.
    fn push_piece(&self, out: &mut String, range: std::ops::Range<usize>) {
        out.push('[');
        self.push_items(out, range);
        out.push(']');
    }

    /// The text after the items, `],"nextSteps":…}`.
    fn tail(&self) -> String {
        let mut out = String::from("]");
        push_field(&mut out, "nextSteps");
        push_serde(&mut out, &self.next_steps);
        push_field(&mut out, "summary");
        push_serde(&mut out, &self.summary);
        push_field(&mut out, "credited");
        push_serde(&mut out, &self.credited);
        push_field(&mut out, "returned");
        push_serde(&mut out, &self.returned);
        push_field(&mut out, "at");
        push_serde(&mut out, &self.at);
        out.push('}');
        out
    }

    /// The report as JS sees it, written and parsed a few items a step:
    /// at 100,000 items, writing the text, decoding it into a JS string
    /// and `JSON.parse` took ~210 ms in one block. The items are parsed in
    /// pieces into one array, which then takes the place of the `[]` in
    /// the parsed rest: the same object as `JSON.parse(to_json())`, with
    /// its keys in the same order.
    async fn to_js(&self, slicer: &mut Slicer) -> JsValue {
        let parse = |text: &str| {
            parse_text(&js_sys::JsString::from(text)).expect("the writer writes valid JSON")
        };
        let all = js_sys::Array::new();
        let push: js_sys::Function = js_sys::Reflect::get(&all, &"push".into())
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .expect("arrays have push");
        let count = self.items.0.len();
        let mut next = 0;
        let mut piece = String::new();
        let written: Result<(), std::convert::Infallible> = slicer
            .run(FIRST_STEP, |budget| {
                // Within what `push` takes as arguments.
                let end = count.min(next + budget.min(8192));
                piece.clear();
                self.push_piece(&mut piece, next..end);
                let items = parse(&piece);
                js_sys::Reflect::apply(&push, &all, &items.unchecked_into())
                    .expect("an array takes the pushed items");
                next = end;
                Ok((next == count).then_some(()))
            })
            .await;
        let Ok(()) = written;
        let mut rest = self.head();
        rest.push_str(&self.tail());
        let report = parse(&rest);
        js_sys::Reflect::set(&report, &"items".into(), &all).expect("the report is an object");
        report
    }
}

/// `,"name":`, or `{"name":` first.
fn push_field(out: &mut String, name: &str) {
    out.push_str(if out.is_empty() { "{\"" } else { ",\"" });
    out.push_str(name);
    out.push_str("\":");
}

/// The items, serialized from the core's one by one.
pub(crate) struct Items<'a>(&'a [reconcile::ReconItem]);

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|i| ReconItem {
            category: i.category.as_str(),
            finding: i.finding.as_str(),
            txn: i.txn,
            kind: i.kind.as_str(),
            batch_no: i.batch_no,
            trace_no: i.trace_no,
            rrn: i.rrn.as_deref(),
            line: i.line,
            terminal_amount: i.terminal_amount,
            acquirer_amount: i.acquirer_amount,
            acquirer_status: i.acquirer_status.map(|s| s.as_str()),
            matched_by: i.matched_by.map(|m| m.as_str()),
        }))
    }
}

/// Every finding's next step.
pub(crate) struct NextSteps;

impl Serialize for NextSteps {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(Finding::ALL.iter().map(|f| {
            let step = f.next_step();
            let text = NextStepText {
                zh: step.zh,
                en: step.en,
            };
            (f.as_str(), text)
        }))
    }
}

/// Ids as JS sees them, `T00000042`.
pub(crate) struct Ids<'a>(&'a [TxnId]);

impl Serialize for Ids<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|id| id.to_string()))
    }
}

fn totals<S: Serializer>(totals: &&[CategoryTotal], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(totals.iter().map(|t| ReconCategoryTotal {
        category: t.category.as_str(),
        count: t.count,
        terminal_amount: t.terminal_amount,
        acquirer_amount: t.acquirer_amount,
    }))
}

/// Written with `Display`, without a `String` per value.
fn display<T: std::fmt::Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

fn display_option<T: std::fmt::Display, S: Serializer>(
    value: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// An id as JS sees it, `T00000042`.
fn id<S: Serializer>(id: &Option<TxnId>, s: S) -> Result<S::Ok, S::Error> {
    display_option(id, s)
}

/// `value` through serde_json, kept ASCII (see [`push_ascii`]).
fn push_serde<T: Serialize>(out: &mut String, value: &T) {
    push_ascii(out, &posflow_core::json::to_string(value));
}

/// JSON text with every non-ASCII character escaped (`\u4e2d`). One such
/// character (the Chinese next steps) would make the whole report a
/// two-byte string in JS: twice the memory, and slower to decode and to
/// parse. JSON's syntax is ASCII, so they can only be inside strings.
fn push_ascii(out: &mut String, json: &str) {
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str("\\u");
                let hex = |n: u16| char::from_digit(u32::from(n & 0xf), 16).expect("a hex digit");
                for shift in [12, 8, 4, 0] {
                    out.push(hex(*unit >> shift));
                }
            }
        }
    }
}

/// One item as [`Items`] serializes it.
fn push_item(out: &mut String, i: &reconcile::ReconItem) {
    out.push_str("{\"category\":");
    push_name(out, i.category.as_str());
    out.push_str(",\"finding\":");
    push_name(out, i.finding.as_str());
    out.push_str(",\"txn\":");
    push_option(out, i.txn, |out, id| {
        out.push_str("\"T");
        push_int(out, id.0, 8);
        out.push('"');
    });
    out.push_str(",\"kind\":");
    push_name(out, i.kind.as_str());
    out.push_str(",\"batchNo\":\"");
    push_int(out, u64::from(i.batch_no.get()), 6);
    out.push_str("\",\"traceNo\":\"");
    push_int(out, u64::from(i.trace_no.get()), 6);
    out.push_str("\",\"rrn\":");
    push_option(out, i.rrn.as_deref(), push_str_value);
    out.push_str(",\"line\":");
    push_option(out, i.line, |out, l| push_int(out, l, 1));
    out.push_str(",\"terminalAmount\":");
    push_option(out, i.terminal_amount, push_money);
    out.push_str(",\"acquirerAmount\":");
    push_option(out, i.acquirer_amount, push_money);
    out.push_str(",\"acquirerStatus\":");
    push_option(out, i.acquirer_status.map(|s| s.as_str()), push_name);
    out.push_str(",\"matchedBy\":");
    push_option(out, i.matched_by.map(|m| m.as_str()), push_name);
    out.push('}');
}

/// One of the core's snake_case names, which need no escaping.
fn push_name(out: &mut String, name: &'static str) {
    debug_assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    out.push('"');
    out.push_str(name);
    out.push('"');
}

fn push_option<T>(out: &mut String, value: Option<T>, push: impl FnOnce(&mut String, T)) {
    match value {
        Some(v) => push(out, v),
        None => out.push_str("null"),
    }
}

/// A JSON string: as it is when it is printable ASCII without `"` or
/// `\`, else escaped by serde_json.
fn push_str_value(out: &mut String, value: &str) {
    let plain = value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if plain {
        out.push('"');
        out.push_str(value);
        out.push('"');
    } else {
        push_serde(out, &value);
    }
}

/// `n` in decimal, zero-padded to at least `width` digits.
fn push_int(out: &mut String, n: u64, width: usize) {
    out.push_str(Digits::new(None, n, width).as_str());
}

/// As `Money`'s `Display` writes it: at the currency's scale.
fn push_money(out: &mut String, m: Money) {
    let scale = m.currency().minor_units();
    match m.minor_units().and_then(|u| u64::try_from(u).ok()) {
        Some(units) => {
            let unit = 10u64.pow(scale);
            out.push('"');
            push_int(out, units / unit, 1);
            if scale > 0 {
                out.push('.');
                push_int(out, units % unit, scale as usize);
            }
            out.push('"');
        }
        None => push_str_value(out, &m.to_string()),
    }
}

#[wasm_bindgen]
impl Terminal {
    /// `receipt(id, { copy?, width?, reprint?, negative?, merchantName?,
    /// format? })`: the voucher of a transaction as lines for a 58 mm (32
    /// columns) or 80 mm (48) printer, or as HTML with print CSS. Never
    /// more than the masked card number.
    #[wasm_bindgen(unchecked_return_type = "string[] | string")]
    pub fn receipt(
        &self,
        id: String,
        #[wasm_bindgen(unchecked_param_type = "ReceiptInput | undefined")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let shared = self.shared();
        shared.check_alive().map_err(|e| shared.err(e))?;
        let made = (|| {
            let id = txn_id("id", &id)?;
            let o: ReceiptInput = input::parse_or_default(options, "receipt options")?;
            let copy = match o.copy.as_deref() {
                None | Some("merchant") => ReceiptCopy::Merchant,
                Some("cardholder") => ReceiptCopy::Cardholder,
                Some(other) => {
                    return Err(PosError::invalid_input(
                        "copy",
                        "\"merchant\" or \"cardholder\"",
                        other,
                    ))
                }
            };
            let width = Width::from_columns(o.width.unwrap_or(32))?;
            let merchant_name = bounded("merchantName", o.merchant_name.as_deref().unwrap_or(""))?;
            let opts = ReceiptOptions {
                copy,
                width,
                reprint: o.reprint.unwrap_or(false),
                negative: o.negative.unwrap_or(false),
                merchant_name: merchant_name.to_owned(),
            };
            let printout = Receipt::new(&shared.core.borrow(), id, &opts)?.printout();
            match o.format.as_deref() {
                None | Some("lines") => Ok(to_js(&printout.lines(width))),
                Some("html") => Ok(JsValue::from(printout.html(width))),
                Some(other) => Err(PosError::invalid_input(
                    "format",
                    "\"lines\" or \"html\"",
                    other,
                )),
            }
        })();
        made.map_err(|e| shared.err(e))
    }

    /// `reconcile(statement)`: the acquirer's statement — its JSON or CSV
    /// text, or the object `SimulatedAcquirer.statement()` returns —
    /// against the journal. Resolves with every finding and the summary;
    /// refunds the statement shows credited or returned move to that status
    /// (durably) before it resolves. A CSV file is read, matched and its
    /// report built a few milliseconds at a time, the page drawing and
    /// taking taps in between; other commands wait for the match.
    ///
    /// ```js
    /// const rec = await term.reconcile(await file.text());
    /// for (const item of rec.items.filter((i) => i.category !== "matched")) {
    ///   show(item.txn ?? `line ${item.line}`, item.terminalAmount, rec.currency,
    ///        rec.nextSteps[item.finding].zh);
    /// }
    /// ```
    #[wasm_bindgen(unchecked_return_type = "Promise<ReconReport>")]
    pub fn reconcile(&self, statement: JsValue) -> js_sys::Promise {
        let shared = self.shared().clone();
        let text = shared.check_writable().and_then(|()| {
            let text = match statement.dyn_ref::<js_sys::JsString>() {
                Some(text) => text.clone(),
                None if statement.is_object() => js_sys::JSON::stringify(&statement)
                    .ok()
                    .and_then(|s| s.dyn_into::<js_sys::JsString>().ok())
                    .ok_or_else(|| PosError::invalid_input("statement", "JSON", "another value"))?,
                None => {
                    return Err(BindingError::from(PosError::invalid_input(
                        "statement",
                        "CSV or JSON text, or a statement object",
                        "something else",
                    )))
                }
            };
            Ok(text)
        });
        let text = match text {
            Ok(text) => text,
            Err(e) => return js_sys::Promise::reject(&shared.err(e)),
        };
        let is_acquirers = statement.is_object()
            && js_sys::Reflect::has(&statement, &"batches".into()).unwrap_or(false);
        future_to_promise(async move {
            // Each phase in steps, the page's thread shared out in slices
            // (`Slicer`): copying the text into the wasm, reading the
            // statement, matching it, writing the report, freeing what was
            // read.
            // The reconcile's place among the commands is taken at the
            // call, as before it read in steps: a sale called after it
            // cannot slip into the match.
            let place = shared.queue.place();
            let mut slicer = Slicer::new();
            let text = slicer.string(&text).await;
            let statement = read_statement(&shared, &text, is_acquirers, &mut slicer)
                .await
                .map_err(|e| shared.err(e))?;
            drop(text);
            // Nothing changes the terminal between the steps of the match:
            // the command queue is held from the match (or from its turn,
            // if that came while the statement was read) until the report
            // is applied and durable.
            let work = async {
                shared.check_writable()?;
                let now = shared.now();
                let mut reconciler = Reconciler::new(&statement, now);
                let report = slicer
                    .run(FIRST_STEP, |budget| {
                        reconciler.step(&shared.core.borrow(), budget)
                    })
                    .await?;
                // Closed between two steps: the terminal is no longer
                // this page's to change.
                shared.check_writable()?;
                shared
                    .core
                    .borrow_mut()
                    .apply_reconciliation(&report, now)?;
                persist(&shared).await?;
                Ok::<_, BindingError>(report)
            };
            let report = queued_in(place, work).await.map_err(|e| shared.err(e));
            slicer.drop_vec(statement.lines).await;
            let mut report = report?;
            let out = ReconReport::new(&report).to_js(&mut slicer).await;
            slicer.drop_vec(std::mem::take(&mut report.items)).await;
            Ok(out)
        })
    }
}

/// Reads the statement `text`: the simulated acquirer's own file, the JSON
/// form, or CSV, in steps.
async fn read_statement(
    shared: &Shared,
    text: &str,
    is_acquirers: bool,
    slicer: &mut Slicer,
) -> Result<Statement, BindingError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if is_acquirers {
        // The simulated acquirer's own file: it knows no merchant id, so it
        // is read as this terminal's merchant's.
        let file: posflow_core::acquirer::Statement =
            serde_json::from_str(trimmed).map_err(|e| {
                PosError::invalid_input("statement", "the acquirer's statement", &e.to_string())
            })?;
        let core = shared.core.borrow();
        let config = core.config();
        Ok(statement_from_acquirer(
            &file,
            &config.merchant_id,
            config.currency,
            config.policy.utc_offset_minutes,
        )?)
    } else if trimmed.starts_with('{') {
        Ok(Statement::from_json(trimmed)?)
    } else {
        let mut reader = CsvStatementReader::new(text, shared.currency);
        Ok(slicer.run(FIRST_STEP, |budget| reader.step(budget)).await?)
    }
}

#[cfg(test)]
mod tests {
    use posflow_core::money::Currency;
    use posflow_core::reconcile::{Category, LineStatus, MatchedBy, NextStep};
    use posflow_core::record::Kind;
    use posflow_core::time::Timestamp;

    use super::*;

    fn item(n: u32, currency: Currency) -> reconcile::ReconItem {
        let money = |s: &str| Money::parse(s, currency).unwrap();
        let finding = Finding::ALL[n as usize % Finding::ALL.len()];
        let some = n.is_multiple_of(2);
        reconcile::ReconItem {
            category: Category::ALL[n as usize % Category::ALL.len()],
            finding,
            txn: some.then_some(TxnId(u64::from(n) * 99_991)),
            kind: Kind::ALL[n as usize % Kind::ALL.len()],
            batch_no: BatchNo::new(1 + n % 999_999).unwrap(),
            trace_no: TraceNo::new(999_999 - n % 999_999).unwrap(),
            rrn: match n % 4 {
                0 => Some(format!("{n:012}")),
                1 => None,
                2 => Some("say \"hi\"\\ 参考\u{1}".to_owned()),
                _ => Some(String::new()),
            },
            line: (!n.is_multiple_of(3)).then_some(u64::from(n) * 1_000_003),
            terminal_amount: some.then(|| money("1")),
            acquirer_amount: (n % 3 != 1).then(|| {
                let amounts = match currency.minor_units() {
                    0 => ["1", "12345678", "100", "7"],
                    2 => ["0.01", "12345678", "100.5", "7.10"],
                    _ => ["0.001", "12345678", "100.5", "7.010"],
                };
                money(amounts[n as usize % 4])
            }),
            acquirer_status: (!n.is_multiple_of(5))
                .then_some(LineStatus::ALL[n as usize % LineStatus::ALL.len()]),
            matched_by: (n % 4 != 3).then_some(MatchedBy::ALL[n as usize % MatchedBy::ALL.len()]),
            next_step: finding.next_step(),
        }
    }

    fn report(currency: Currency) -> reconcile::ReconReport {
        let zero = Money::zero(currency);
        let signed = |s: &str, negative| {
            SignedMoney::from_money(Money::parse(s, currency).unwrap(), negative)
        };
        reconcile::ReconReport {
            merchant_id: "898440350480001".into(),
            terminal_id: "1000000\"".into(),
            dates: vec!["2026-11-23".into(), "2026-11-24".into()],
            items: (0..60).map(|n| item(n, currency)).collect(),
            summary: reconcile::ReconSummary {
                per_category: Category::ALL
                    .iter()
                    .map(|&category| CategoryTotal {
                        category,
                        count: 3,
                        terminal_amount: zero,
                        acquirer_amount: Money::parse("99", currency).unwrap(),
                    })
                    .collect(),
                unexplained: 4,
                balanced: false,
                terminal_net: signed("30", true),
                acquirer_net: signed("1", false),
                fees: SignedMoney::zero(currency),
                other_terminal_lines: 2,
                lines_without_effect: 1,
            },
            credited: vec![TxnId(7), TxnId(123_456_789)],
            returned: vec![],
            at: Timestamp(1_795_365_000_000),
        }
    }

    #[test]
    fn the_report_in_pieces_is_the_one_shot_text() {
        let core = report(Currency::Cny);
        let out = ReconReport::new(&core);
        let whole = out.to_json();
        let count = core.items.len();
        for size in [1, 2, 7, count - 1, count, count + 5] {
            // As `to_js` writes them: pieces that are arrays of their own,
            // and the rest with no items.
            let mut items = Vec::new();
            let mut text = String::new();
            for start in (0..count).step_by(size) {
                let mut piece = String::new();
                out.push_piece(&mut piece, start..count.min(start + size));
                let parsed: Vec<serde_json::Value> = serde_json::from_str(&piece).unwrap();
                items.extend(parsed);
                let inner = &piece[1..piece.len() - 1];
                text.push_str(if start > 0 { "," } else { "" });
                text.push_str(inner);
            }
            assert_eq!(format!("{}{text}{}", out.head(), out.tail()), whole);
            let mut rest: serde_json::Value =
                serde_json::from_str(&format!("{}{}", out.head(), out.tail())).unwrap();
            rest["items"] = serde_json::Value::Array(items);
            let one_shot: serde_json::Value = serde_json::from_str(&whole).unwrap();
            assert_eq!(rest, one_shot, "{size} a piece");
        }
    }

    #[test]
    fn the_report_json_is_what_serde_writes_from_the_derived_shape() {
        for currency in [Currency::Cny, Currency::Jpy, Currency::Kwd] {
            let core = report(currency);
            let out = ReconReport::new(&core);
            let by_hand = out.to_json();
            let mut by_serde = String::new();
            push_ascii(&mut by_serde, &serde_json::to_string(&out).unwrap());
            assert_eq!(by_hand, by_serde);
            assert!(by_hand.is_ascii());
            let value: serde_json::Value = serde_json::from_str(&by_hand).unwrap();
            assert_eq!(value["items"][0]["txn"], "T00000000");
            assert_eq!(value["credited"][1], "T123456789");
            assert_eq!(value["items"][2]["rrn"], "say \"hi\"\\ 参考\u{1}");
            let step = &value["nextSteps"][Finding::Returned.as_str()];
            let NextStep { zh, en } = Finding::Returned.next_step();
            assert_eq!(
                (step["zh"].as_str(), step["en"].as_str()),
                (Some(zh), Some(en))
            );
        }
    }
}
