//! `Terminal` for JS: opens the core terminal, drives the host transport
//! with promises, persists before sending, and converts results.

use std::cell::RefCell;
use std::rc::Rc;

use posflow_core::error::{Locale, PosError};
use posflow_core::host::{HostReply, HostRequest, NoReply};
use posflow_core::journal::{Entry, Journal};
use posflow_core::money::Currency;
use posflow_core::operator::{Operator, Role};
use posflow_core::policy::Policy;
use posflow_core::record::{Kind, Record};
use posflow_core::terminal::{Command, Status, Terminal as CoreTerminal, TerminalConfig};
use posflow_core::time::Timestamp;
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use crate::convert::{self, bounded, parse, to_js, RecordOut};
use crate::error::{self, set};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OpenIn {
    merchant_id: String,
    terminal_id: String,
    currency: String,
    #[serde(default)]
    storage: Option<StorageIn>,
    operators: Vec<OperatorIn>,
    #[serde(default)]
    policy: Option<Policy>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    journal: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageIn {
    kind: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorIn {
    id: String,
    role: String,
    pin: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FilterIn {
    state: Option<String>,
    kind: Option<String>,
}

pub(crate) struct Inner {
    pub(crate) term: CoreTerminal,
    host: JsValue,
    now: Option<js_sys::Function>,
    locale: Locale,
    /// Memory storage: what has been made durable.
    stored: Vec<Entry<Record>>,
    listeners: Vec<js_sys::Function>,
}

impl Inner {
    pub(crate) fn now(&self) -> Timestamp {
        let ms = self
            .now
            .as_ref()
            .and_then(|f| f.call0(&JsValue::NULL).ok())
            .and_then(|v| v.as_f64())
            .filter(|v| v.is_finite())
            .unwrap_or_else(js_sys::Date::now);
        Timestamp(ms as i64)
    }

    /// Makes new entries durable, then tells listeners. Called after every
    /// core call and before any request leaves.
    fn persist(&mut self) {
        let entries = self.term.take_unpersisted();
        if entries.is_empty() {
            return;
        }
        self.stored.extend(entries.iter().cloned());
        for entry in &entries {
            let event = to_js(&entry.record);
            set(&event, "seq", &JsValue::from_f64(entry.seq as f64));
            for listener in &self.listeners {
                // A throwing listener must not stop the terminal.
                let _ = listener.call1(&JsValue::NULL, &event);
            }
        }
    }

    pub(crate) fn locale(&self) -> Locale {
        self.locale
    }

    pub(crate) fn err(&self, e: &PosError) -> JsValue {
        error::to_js(e, self.locale)
    }
}

/// A POS terminal: sale, void, refund, pre-authorisation, settlement, with
/// the refund and reversal rules of posflow-core.
///
/// ```js
/// const term = await Terminal.open({ merchantId: "898440350480001", terminalId: "10000001",
///   currency: "CNY", storage: { kind: "memory" }, host: new SimulatedAcquirer({ seed: 7 }),
///   operators: [{ id: "01", role: "cashier", pin: "1234" }] });
/// ```
#[wasm_bindgen]
pub struct Terminal {
    inner: Rc<RefCell<Inner>>,
}

fn random_salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    let bytes = js_sys::Uint8Array::new_with_length(16);
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into()).ok();
    let get = crypto
        .as_ref()
        .and_then(|c| js_sys::Reflect::get(c, &"getRandomValues".into()).ok())
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    if let (Some(c), Some(get)) = (crypto, get) {
        let _ = get.call1(&c, &bytes);
        bytes.copy_to(&mut salt);
    }
    salt
}

fn open_config(input: &OpenIn, host: &JsValue) -> Result<(TerminalConfig, Locale), PosError> {
    let currency = Currency::parse(bounded("currency", &input.currency)?)?;
    let locale = match &input.locale {
        Some(l) => Locale::parse(l)?,
        None => Locale::ZhCn,
    };
    match input.storage.as_ref().map(|s| s.kind.as_str()) {
        None | Some("memory") => {}
        Some(other) => {
            return Err(PosError::invalid_input("storage.kind", "\"memory\"", other));
        }
    }
    if !host.is_object() {
        return Err(PosError::invalid_input(
            "host",
            "an object with send(request) → Promise<reply>",
            "something else",
        ));
    }
    let policy = input.policy.clone().unwrap_or_default();
    policy.validate()?;
    if input.operators.len() > 64 {
        return Err(PosError::invalid_input(
            "operators",
            "at most 64 operators",
            "more",
        ));
    }
    let operators = input
        .operators
        .iter()
        .map(|o| {
            let role = Role::parse(bounded("operators[].role", &o.role)?)?;
            Operator::new(
                bounded("operators[].id", &o.id)?,
                role,
                bounded("operators[].pin", &o.pin)?,
                random_salt(),
                policy.pin_hash_iterations,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let config = TerminalConfig {
        merchant_id: input.merchant_id.clone(),
        terminal_id: input.terminal_id.clone(),
        currency,
        operators,
        policy,
        locale,
    };
    config.validate()?;
    Ok((config, locale))
}

/// Sends through the JS host, waiting at most `timeout_ms`. A rejection is
/// the kind it names (`timeout`, `lost_reply`), else a transport error.
async fn send_with_timeout(
    host: &JsValue,
    request: &JsValue,
    timeout_ms: u32,
) -> Result<JsValue, NoReply> {
    let send = js_sys::Reflect::get(host, &"send".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or(NoReply::TransportError)?;
    let sent = send
        .call1(host, request)
        .map_err(|_| NoReply::TransportError)?;
    let sentinel = js_sys::Object::new();
    let timer_value = sentinel.clone();
    let timer = js_sys::Promise::new(&mut |resolve, _reject| {
        let set_timeout = js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        if let Some(set_timeout) = set_timeout {
            let bound = resolve.bind1(&JsValue::NULL, &timer_value);
            let _ = set_timeout.call2(&JsValue::NULL, &bound, &JsValue::from(timeout_ms));
        }
    });
    let race = js_sys::Promise::race(&js_sys::Array::of2(
        &js_sys::Promise::resolve(&sent),
        &timer,
    ));
    match JsFuture::from(race).await {
        Ok(v) if v == JsValue::from(sentinel) => Err(NoReply::Timeout),
        Ok(v) => Ok(v),
        Err(e) => {
            let kind = js_sys::Reflect::get(&e, &"kind".into())
                .ok()
                .and_then(|k| k.as_string());
            Err(match kind.as_deref() {
                Some("timeout") => NoReply::Timeout,
                Some("lost_reply") => NoReply::LostReply,
                _ => NoReply::TransportError,
            })
        }
    }
}

/// One exchange with the host; the request's record is already durable.
async fn exchange(inner: &Rc<RefCell<Inner>>, request: HostRequest) {
    let (host, timeout_ms) = {
        let i = inner.borrow();
        (i.host.clone(), i.term.config().policy.host_timeout_ms)
    };
    let outcome = send_with_timeout(&host, &to_js(&request), timeout_ms).await;
    let mut i = inner.borrow_mut();
    let now = i.now();
    // A reply that cannot be read is no reply: the outcome is unknown.
    let outcome = outcome.and_then(|reply| {
        parse::<HostReply>(reply, "reply")
            .map(|r| vec![r])
            .map_err(|_| NoReply::TransportError)
    });
    i.term.handle_exchange(outcome, now);
    i.persist();
}

/// Sends pending reversals and advices before anything new (Rule 4).
async fn flush(inner: &Rc<RefCell<Inner>>) {
    loop {
        let request = {
            let mut i = inner.borrow_mut();
            let now = i.now();
            let request = i.term.poll_transmit(now);
            i.persist();
            request
        };
        match request {
            Some(request) => exchange(inner, request).await,
            None => return,
        }
    }
}

fn record_of(i: &Inner, id: posflow_core::record::TxnId) -> JsValue {
    let now = i.now();
    i.term
        .view(id, now)
        .map_or(JsValue::NULL, |v| to_js(&RecordOut::from_view(&v)))
}

/// Runs a command built from JS input: flush, execute, persist, exchange,
/// and resolve with the transaction's record.
fn submit(
    inner: Rc<RefCell<Inner>>,
    build: impl FnOnce(&CoreTerminal, Timestamp) -> Result<(Command, String), PosError> + 'static,
) -> js_sys::Promise {
    future_to_promise(async move {
        let (command, key) = {
            let i = inner.borrow();
            build(&i.term, i.now()).map_err(|e| i.err(&e))?
        };
        let txn = execute_command(&inner, command, key).await?;
        let i = inner.borrow();
        Ok(record_of(&i, txn))
    })
}

/// Flushes pending reversals and advices, executes, persists, and
/// exchanges with the host.
pub(crate) async fn execute_command(
    inner: &Rc<RefCell<Inner>>,
    command: Command,
    key: String,
) -> Result<posflow_core::record::TxnId, JsValue> {
    flush(inner).await;
    let submitted = {
        let mut i = inner.borrow_mut();
        let now = i.now();
        let result = i.term.execute(command, &key, now);
        i.persist();
        result.map_err(|e| i.err(&e))?
    };
    if let Some(request) = submitted.request {
        exchange(inner, request).await;
    }
    Ok(submitted.txn)
}

impl Terminal {
    pub(crate) fn inner(&self) -> Rc<RefCell<Inner>> {
        self.inner.clone()
    }

    pub(crate) fn submit(
        &self,
        build: impl FnOnce(&CoreTerminal, Timestamp) -> Result<(Command, String), PosError> + 'static,
    ) -> js_sys::Promise {
        submit(self.inner.clone(), build)
    }

    /// Runs a read-only call on the core, errors as `PosError`s.
    pub(crate) fn with_inner(
        &self,
        f: impl FnOnce(&CoreTerminal, Timestamp, Locale) -> Result<JsValue, PosError>,
    ) -> Result<JsValue, JsValue> {
        let i = self.inner.borrow();
        f(&i.term, i.now(), i.locale).map_err(|e| i.err(&e))
    }

    /// Runs a call that records, then persists what it appended.
    pub(crate) fn with_inner_mut(
        &self,
        f: impl FnOnce(&mut CoreTerminal, Timestamp, Locale) -> Result<JsValue, PosError>,
    ) -> Result<JsValue, JsValue> {
        let mut i = self.inner.borrow_mut();
        let now = i.now();
        let locale = i.locale;
        let result = f(&mut i.term, now, locale);
        i.persist();
        result.map_err(|e| i.err(&e))
    }
}

use convert::key;

#[wasm_bindgen]
impl Terminal {
    /// Opens a terminal (async). See the API contract for the fields.
    pub async fn open(config: JsValue) -> Result<Terminal, JsValue> {
        // `host` and `now` are live JS objects, not data: take them out
        // before the rest is parsed as JSON.
        let host = js_sys::Reflect::get(&config, &"host".into()).unwrap_or(JsValue::UNDEFINED);
        let now = js_sys::Reflect::get(&config, &"now".into()).unwrap_or(JsValue::UNDEFINED);
        let data = if config.is_object() {
            let copy = js_sys::Object::assign(&js_sys::Object::new(), config.unchecked_ref());
            let _ = js_sys::Reflect::delete_property(&copy, &"host".into());
            let _ = js_sys::Reflect::delete_property(&copy, &"now".into());
            copy.into()
        } else {
            config
        };
        let input: OpenIn = parse(data, "config").map_err(|e| error::to_js(&e, Locale::ZhCn))?;
        let locale = input
            .locale
            .as_deref()
            .and_then(|l| Locale::parse(l).ok())
            .unwrap_or_default();
        let fail = |e: PosError| error::to_js(&e, locale);
        let (config, locale) = open_config(&input, &host).map_err(fail)?;
        let now_fn = if now.is_undefined() {
            None
        } else {
            Some(now.dyn_into::<js_sys::Function>().map_err(|_| {
                fail(PosError::invalid_input(
                    "now",
                    "a function returning ms since the epoch",
                    "something else",
                ))
            })?)
        };
        let entries = match &input.journal {
            Some(text) => Journal::<Record>::import_json(text)
                .map_err(fail)?
                .entries()
                .to_vec(),
            None => Vec::new(),
        };
        let mut inner = Inner {
            term: CoreTerminal::open(config.clone(), Vec::new(), Timestamp(0)).map_err(fail)?,
            host,
            now: now_fn,
            locale,
            stored: entries.clone(),
            listeners: Vec::new(),
        };
        let now = inner.now();
        inner.term = CoreTerminal::open(config, entries, now).map_err(fail)?;
        inner.persist();
        let terminal = Terminal {
            inner: Rc::new(RefCell::new(inner)),
        };
        // Resume pending work: a request that was in flight is reversed now.
        flush(&terminal.inner).await;
        Ok(terminal)
    }

    /// `signIn({ operatorId, pin })`: signs an operator in.
    #[wasm_bindgen(js_name = signIn)]
    pub fn sign_in(&self, input: JsValue) -> js_sys::Promise {
        let mut i = self.inner.borrow_mut();
        let now = i.now();
        let result = parse::<convert::SignInIn>(input, "signIn").and_then(|s| {
            let id = bounded("operatorId", &s.operator_id)?.to_owned();
            let pin = bounded("pin", &s.pin)?.to_owned();
            i.term.sign_in(&id, &pin, now).map(|_| id)
        });
        i.persist();
        match result {
            Ok(id) => {
                let out = js_sys::Object::new();
                set(&out, "operatorId", &JsValue::from_str(&id));
                js_sys::Promise::resolve(&JsValue::from(out))
            }
            Err(e) => js_sys::Promise::reject(&i.err(&e)),
        }
    }

    /// `sale({ amount, card: { pan } | { qr }, key })` → the record.
    pub fn sale(&self, input: JsValue) -> js_sys::Promise {
        let parsed = parse::<convert::SaleIn>(input, "sale");
        submit(self.inner.clone(), move |term, _| {
            let currency = term.config().currency;
            let s = parsed?;
            Ok((
                Command::Sale {
                    amount: convert::money("amount", &s.amount, currency)?,
                    card: s.card.card()?,
                },
                key("key", s.key)?,
            ))
        })
    }

    /// `preAuth({ amount, card, key })` → the record.
    #[wasm_bindgen(js_name = preAuth)]
    pub fn pre_auth(&self, input: JsValue) -> js_sys::Promise {
        let parsed = parse::<convert::SaleIn>(input, "preAuth");
        submit(self.inner.clone(), move |term, _| {
            let currency = term.config().currency;
            let s = parsed?;
            Ok((
                Command::PreAuth {
                    amount: convert::money("amount", &s.amount, currency)?,
                    card: s.card.card()?,
                },
                key("key", s.key)?,
            ))
        })
    }

    /// `void({ original: { traceNo } | { rrn } | { id }, approval, key })`.
    pub fn void(&self, input: JsValue) -> js_sys::Promise {
        let parsed = parse::<convert::VoidIn>(input, "void");
        submit(self.inner.clone(), move |_, _| {
            let v = parsed?;
            Ok((
                Command::Void {
                    original: v.original.selector()?,
                    approvals: convert::approvals(v.approval)?,
                },
                key("key", v.key)?,
            ))
        })
    }

    /// `completePreAuth({ original, amount, advice?, key })`.
    #[wasm_bindgen(js_name = completePreAuth)]
    pub fn complete_pre_auth(&self, input: JsValue) -> js_sys::Promise {
        let parsed = parse::<convert::CompleteIn>(input, "completePreAuth");
        submit(self.inner.clone(), move |term, _| {
            let currency = term.config().currency;
            let c = parsed?;
            Ok((
                Command::Complete {
                    original: c.original.selector()?,
                    amount: convert::money("amount", &c.amount, currency)?,
                    advice: c.advice,
                },
                key("key", c.key)?,
            ))
        })
    }

    /// `cancelPreAuth({ original, key })`.
    #[wasm_bindgen(js_name = cancelPreAuth)]
    pub fn cancel_pre_auth(&self, input: JsValue) -> js_sys::Promise {
        let parsed = parse::<convert::CancelIn>(input, "cancelPreAuth");
        submit(self.inner.clone(), move |_, _| {
            let c = parsed?;
            Ok((
                Command::CancelPreAuth {
                    original: c.original.selector()?,
                },
                key("key", c.key)?,
            ))
        })
    }

    /// `settle()` → `{ batchNo, balanced, debitCount, debitAmount, creditCount, creditAmount }`.
    pub fn settle(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            flush(&inner).await;
            let request = {
                let mut i = inner.borrow_mut();
                let now = i.now();
                let result = i.term.settle(now);
                i.persist();
                result.map_err(|e| i.err(&e))?
            };
            let batch_no = request.batch_no;
            exchange(&inner, request).await;
            let i = inner.borrow();
            let closed = i
                .term
                .closed_batches()
                .iter()
                .find(|c| c.batch_no == batch_no)
                .ok_or_else(|| {
                    i.err(&PosError::SettlementBlocked {
                        in_doubt: 0,
                        reversals: 0,
                    })
                })?;
            let out = js_sys::Object::new();
            set(
                &out,
                "batchNo",
                &JsValue::from_str(&closed.batch_no.to_string()),
            );
            set(&out, "balanced", &JsValue::from_bool(closed.balanced));
            set(
                &out,
                "debitCount",
                &JsValue::from(closed.summary.debit_count),
            );
            set(
                &out,
                "debitAmount",
                &JsValue::from_str(&closed.summary.debit_amount.to_string()),
            );
            set(
                &out,
                "creditCount",
                &JsValue::from(closed.summary.credit_count),
            );
            set(
                &out,
                "creditAmount",
                &JsValue::from_str(&closed.summary.credit_amount.to_string()),
            );
            Ok(out.into())
        })
    }

    /// `transactions({ state?, kind? })` → records, newest first.
    pub fn transactions(&self, filter: JsValue) -> Result<JsValue, JsValue> {
        let i = self.inner.borrow();
        let filter: FilterIn = if filter.is_undefined() {
            FilterIn::default()
        } else {
            parse(filter, "filter").map_err(|e| i.err(&e))?
        };
        let state = match filter.state.as_deref() {
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                i.err(&PosError::invalid_input("state", "a transaction state", s))
            })?),
            None => None,
        };
        let kind =
            match filter.kind.as_deref() {
                Some(k) => Some(Kind::parse(k).ok_or_else(|| {
                    i.err(&PosError::invalid_input("kind", "a transaction kind", k))
                })?),
                None => None,
            };
        let now = i.now();
        let out = js_sys::Array::new();
        for t in i.term.transactions().collect::<Vec<_>>().into_iter().rev() {
            let Some(view) = i.term.view(t.id, now) else {
                continue;
            };
            if state.is_some_and(|s| s != view.status) || kind.is_some_and(|k| k != t.request.kind)
            {
                continue;
            }
            out.push(&to_js(&RecordOut::from_view(&view)));
        }
        Ok(out.into())
    }

    /// `on("event", callback)`: called with every journal record as it is
    /// made durable (state changes, reversals, locks, settlement).
    pub fn on(&self, name: &str, callback: js_sys::Function) -> Result<(), JsValue> {
        let mut i = self.inner.borrow_mut();
        if name != "event" {
            return Err(i.err(&PosError::invalid_input("name", "\"event\"", name)));
        }
        i.listeners.push(callback);
        Ok(())
    }

    /// `exportJournal()` → the journal as text, for `Terminal.open({ journal })`.
    #[wasm_bindgen(js_name = exportJournal)]
    pub fn export_journal(&self) -> String {
        self.inner.borrow().term.journal().export_json()
    }
}
