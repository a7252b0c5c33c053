//! `Terminal` for JS: opens the core terminal on browser storage, drives the
//! host transport with promises, makes every journal append durable before
//! anything that depends on it is sent, and converts results.
//!
//! Every exported method is parse → core → convert. Commands that change
//! the journal run one at a time, in call order (a queue of promises), so
//! an append never races another; reads (`transactions`, `exportJournal`)
//! answer at once. A new command is one method here that parses its input
//! into a `Command` (built in `convert.rs`) and calls [`Terminal::command`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use posflow_core::acquirer::SimulatedAcquirer as CoreAcquirer;
use posflow_core::error::{Locale, PosError};
use posflow_core::host::{check_rrn, HostReply, HostRequest, NoReply, TraceNo};
use posflow_core::journal::{Entry, Journal};
use posflow_core::money::Currency;
use posflow_core::operator::{Operator, Role};
use posflow_core::policy::Policy;
use posflow_core::record::{Kind, Record, TxnId};
use posflow_core::terminal::{Command, Status, Terminal as CoreTerminal, TerminalConfig};
use posflow_core::time::Timestamp;
use tsify::Tsify;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use crate::acquirer::{self, Delivered};
use crate::convert::{self, bounded, parse_serde, to_js, TxnRecord};
use crate::error::{set, BindingError};
use crate::history::{self, History};
use crate::input::{self, Input, Obj};
use crate::locks::{self, Acquired, LockGuard};
use crate::panic;
use crate::queue::{self, Queue};
use crate::restore::{self, Progress};
use crate::slices::{Slicer, FIRST_STEP};
use crate::storage::{self, Storage, StorageConfig};

/// `Terminal.open(config)`, without `host`, `now` and `onProgress` (live
/// JS objects, not data) and `journal` (a long text, read in slices): the
/// `.d.ts` adds them in `TerminalConfig`.
#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct OpenConfig {
    /// 15-character merchant id (商户号).
    merchant_id: String,
    /// 8-character terminal id (终端号).
    terminal_id: String,
    /// ISO 4217 code, e.g. `"CNY"`.
    currency: String,
    /// Where the journal is kept; `{ kind: "memory" }` when absent.
    #[serde(default)]
    #[tsify(optional)]
    storage: Option<StorageConfig>,
    operators: Vec<OperatorConfig>,
    /// Overrides of the policy defaults.
    #[serde(default)]
    #[tsify(optional, type = "PolicyOverrides")]
    policy: Option<Policy>,
    #[serde(default)]
    #[tsify(optional, type = "Locale")]
    locale: Option<String>,
}

/// The largest journal `Terminal.open({ journal })` takes: a year of a busy
/// terminal is tens of megabytes.
const MAX_JOURNAL_BYTES: usize = 512 * 1024 * 1024;

/// One operator of `Terminal.open`.
#[derive(Tsify)]
#[serde(deny_unknown_fields)]
pub(crate) struct OperatorConfig {
    id: String,
    #[tsify(type = "\"cashier\" | \"supervisor\" | \"admin\"")]
    role: String,
    pin: String,
}

impl Input for OpenConfig {
    const FIELDS: &'static [&'static str] = &[
        "merchantId",
        "terminalId",
        "currency",
        "storage",
        "operators",
        "policy",
        "locale",
        // Live objects and the journal's text, which `Terminal::open` reads
        // apart.
        "host",
        "now",
        "journal",
        "onProgress",
    ];

    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(OpenConfig {
            merchant_id: o.str("merchantId")?,
            terminal_id: o.str("terminalId")?,
            currency: o.str("currency")?,
            storage: o.opt("storage")?,
            operators: o.list("operators")?,
            policy: o.opt("policy")?,
            locale: o.opt_str("locale")?,
        })
    }
}

impl Input for OperatorConfig {
    const FIELDS: &'static [&'static str] = &["id", "role", "pin"];

    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(OperatorConfig {
            id: o.str("id")?,
            role: o.str("role")?,
            pin: o.str("pin")?,
        })
    }
}

/// What the journal's durability stands at. Counts, not copies: the
/// entries are in the core's journal (`durable..durable + pending`).
#[derive(Default)]
struct Durability {
    /// How many entries after the durable ones the core has handed over
    /// that are not yet durable.
    pending: usize,
    /// How many entries are durable.
    durable: usize,
}

/// Everything a terminal holds. Shared with the futures of its commands,
/// which may outlive the JS object (a host that never answers).
pub(crate) struct Shared {
    pub(crate) core: RefCell<CoreTerminal>,
    durability: RefCell<Durability>,
    /// Taken out by `close`; the futures hold their own `Rc` meanwhile.
    pub(crate) storage: RefCell<Option<Rc<Storage>>>,
    /// Whether the journal outlives the page (everything but memory).
    persistent: bool,
    /// Held while this terminal is the journal's writer.
    lock: RefCell<Option<LockGuard>>,
    /// `Some(lock name)` when another tab is the writer.
    pub(crate) read_only: Option<String>,
    pub(crate) closed: Cell<bool>,
    host: JsValue,
    /// The simulator itself when `host` is a bare `SimulatedAcquirer`:
    /// called without the JS round trip (see [`acquirer::direct`]).
    direct: Option<Rc<RefCell<CoreAcquirer>>>,
    now: Option<js_sys::Function>,
    pub(crate) locale: Locale,
    pub(crate) currency: Currency,
    /// Commands that change the journal, one at a time.
    pub(crate) queue: Queue,
    listeners: RefCell<Vec<js_sys::Function>>,
    /// The journal before the core's base, and the snapshots.
    pub(crate) history: RefCell<History>,
}

impl Shared {
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

    /// Whether the core's `entries` records are all durable, nothing
    /// pending (what a snapshot may cover).
    pub(crate) fn all_durable(&self, entries: usize) -> bool {
        let d = self.durability.borrow();
        d.pending == 0 && d.durable == entries
    }

    /// How many records storage holds (a journal export covers these).
    pub(crate) fn durable(&self) -> usize {
        self.durability.borrow().durable
    }

    pub(crate) fn err(&self, e: impl Into<BindingError>) -> JsValue {
        e.into().to_js(self.locale)
    }

    /// A poisoned module, a closed terminal or a read-only one refuses
    /// commands before anything is looked at.
    pub(crate) fn check_writable(&self) -> Result<(), BindingError> {
        self.check_alive()?;
        if self.closed.get() {
            return Err(BindingError::Closed);
        }
        if let Some(lock) = &self.read_only {
            return Err(BindingError::ReadOnly { lock: lock.clone() });
        }
        Ok(())
    }

    pub(crate) fn check_alive(&self) -> Result<(), BindingError> {
        panic::check().map_err(|e| {
            if let Ok(mut core) = self.core.try_borrow_mut() {
                core.halt(&e.to_string());
            }
            BindingError::Core(e)
        })
    }

    pub(crate) fn record_of(&self, id: TxnId) -> JsValue {
        let now = self.now();
        self.core
            .borrow()
            .view(id, now)
            .map_or(JsValue::NULL, |v| to_js(&TxnRecord::from_view(&v)))
    }

    /// Tells listeners about entries just made durable: each record as a
    /// plain object with its `seq`, and `transaction` (its state now) when
    /// the record is about one.
    fn emit(&self, entries: &[Entry<Record>]) {
        let listeners = self.listeners.borrow().clone();
        if listeners.is_empty() {
            return;
        }
        for entry in entries {
            let event = to_js(&entry.record);
            set(&event, "seq", &JsValue::from_f64(entry.seq as f64));
            if let Some(txn) = entry.record.txn(entry.seq) {
                set(&event, "transaction", &self.record_of(txn));
            }
            for listener in &listeners {
                // A throwing listener must not stop the terminal.
                let _ = listener.call1(&JsValue::NULL, &event);
            }
        }
    }

    /// Resolves once the writer lock is free for another terminal.
    fn close(&self) -> js_sys::Promise {
        self.closed.set(true);
        let released = self.lock.borrow_mut().take().map(LockGuard::release);
        if let Some(storage) = self.storage.borrow_mut().take() {
            if let Ok(storage) = Rc::try_unwrap(storage) {
                storage.close();
            }
        }
        future_to_promise(async move {
            if let Some(released) = released {
                let _ = JsFuture::from(released).await;
            }
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// Makes the core's new entries durable, then tells listeners. On failure
/// they stay pending and go out with the next append.
///
/// The entries are copied out of the core's journal only when something
/// reads them: storage that writes rows, or listeners. A memory journal
/// with no listeners copies nothing.
pub(crate) async fn persist(shared: &Rc<Shared>) -> Result<(), BindingError> {
    let (from, count) = {
        let mut d = shared.durability.borrow_mut();
        let new = shared.core.borrow_mut().take_unpersisted_seqs();
        d.pending += (new.end - new.start) as usize;
        (d.durable, d.pending)
    };
    if count == 0 {
        return Ok(());
    }
    let storage = shared.storage.borrow().clone();
    let storage = match storage {
        Some(s) if !shared.closed.get() => s,
        _ => return Err(BindingError::Closed),
    };
    // A memory append is done at once, so no listener can come meanwhile.
    let read = !matches!(*storage, Storage::Memory) || !shared.listeners.borrow().is_empty();
    let batch = if read {
        let core = shared.core.borrow();
        let journal = core.journal();
        let held = from - journal.base() as usize;
        journal.entries()[held..held + count].to_vec()
    } else {
        Vec::new()
    };
    storage.append(&batch).await?;
    let durable = {
        let mut d = shared.durability.borrow_mut();
        d.pending -= count;
        d.durable += count;
        d.durable
    };
    history::note_durable(shared, durable);
    shared.emit(&batch);
    Ok(())
}

/// Where the journal stood before a command, to go back to if the append
/// of what the command added fails: the command is then refused as if it
/// never ran.
struct Checkpoint {
    entries: usize,
    pending: usize,
}

fn checkpoint(shared: &Shared) -> Checkpoint {
    Checkpoint {
        entries: shared.core.borrow().journal().len(),
        pending: shared.durability.borrow().pending,
    }
}

/// Rebuilds the core from the journal as it stood at `to` (durable and
/// still-pending entries). Costs a replay, but only when storage fails;
/// a copy of the core kept for every command would cost one each time.
/// A core that holds only the tail after a snapshot is rebuilt from that
/// snapshot and the tail. A replay forgets who was signed in, as a restart
/// does.
fn roll_back(shared: &Shared, to: Checkpoint) {
    let now = shared.now();
    let rebuilt = {
        let core = shared.core.borrow();
        if core.journal().base() > 0 {
            history::reopen(shared, &core, to.entries, now)
        } else {
            let entries = core.journal().entries()[..to.entries].to_vec();
            CoreTerminal::open(core.config().clone(), entries, now)
        }
    };
    match rebuilt {
        Ok(mut core) => {
            // The journal ends where it did before the command, with nothing
            // outstanding: a replay adds no record.
            debug_assert!(core.take_unpersisted().is_empty());
            *shared.core.borrow_mut() = core;
            shared.durability.borrow_mut().pending = to.pending;
        }
        Err(e) => shared
            .core
            .borrow_mut()
            .halt(&format!("rollback after a storage failure: {e}")),
    }
}

/// Host timeouts: one `setTimeout` serves every exchange in flight. Arming a
/// timer per request (and leaving it armed after the reply) kept one
/// pending timer per sale for `hostTimeoutMs`, and `setTimeout` was the
/// largest JavaScript cost of a sale. The timer is armed for the earliest
/// deadline; when it fires it ends the exchanges that are due and re-arms
/// for the next, so a run of quick replies arms it about once per timeout.
mod deadline {
    use std::cell::RefCell;

    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    struct Waiting {
        id: u64,
        at: f64,
        resolve: js_sys::Function,
    }

    #[derive(Default)]
    struct Timers {
        waiting: Vec<Waiting>,
        /// When the armed `setTimeout` fires, if one is armed.
        armed_for: Option<f64>,
        fire: Option<Closure<dyn FnMut()>>,
        next_id: u64,
    }

    thread_local! {
        static TIMERS: RefCell<Timers> = RefCell::default();
        /// What a deadline resolves with: an object no host can return.
        static TIMED_OUT: JsValue = js_sys::Object::new().into();
    }

    /// Whether a race's winner is a deadline.
    pub(super) fn is_timeout(value: &JsValue) -> bool {
        TIMED_OUT.with(|t| t == value)
    }

    /// Arms the timer for `at` unless it fires before then. Without a
    /// `setTimeout` nothing times out (the exchange waits for its reply).
    fn arm(t: &mut Timers, at: f64) {
        if t.armed_for.is_some_and(|armed| armed <= at) {
            return;
        }
        let Some(set_timeout) = js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        else {
            return;
        };
        let fire = t
            .fire
            .get_or_insert_with(|| Closure::new(fire))
            .as_ref()
            .clone();
        let ms = (at - js_sys::Date::now()).max(0.0);
        if set_timeout
            .call2(&JsValue::NULL, &fire, &JsValue::from_f64(ms))
            .is_ok()
        {
            t.armed_for = Some(at);
        }
    }

    /// The timer fired: ends what is due, re-arms for what is left.
    fn fire() {
        let due = TIMERS.with(|t| {
            let mut t = t.borrow_mut();
            t.armed_for = None;
            let now = js_sys::Date::now();
            let (due, left): (Vec<_>, Vec<_>) = t.waiting.drain(..).partition(|w| w.at <= now);
            t.waiting = left;
            if let Some(next) = t.waiting.iter().map(|w| w.at).reduce(f64::min) {
                arm(&mut t, next);
            }
            due
        });
        // Resolved outside the borrow: the callbacks run later anyway
        // (promise reactions), but nothing here may re-enter `TIMERS`.
        TIMED_OUT.with(|t| {
            for w in due {
                let _ = w.resolve.call1(&JsValue::NULL, t);
            }
        });
    }

    /// A promise that resolves (see [`is_timeout`]) once `ms` have passed,
    /// unless [`cancel`]led with the returned id first.
    pub(super) fn after(ms: u32) -> (u64, js_sys::Promise) {
        TIMERS.with(|t| {
            let mut t = t.borrow_mut();
            let id = t.next_id;
            t.next_id += 1;
            let at = js_sys::Date::now() + f64::from(ms);
            let mut resolve = None;
            let promise = js_sys::Promise::new(&mut |r, _| resolve = Some(r));
            if let Some(resolve) = resolve {
                t.waiting.push(Waiting { id, at, resolve });
            }
            arm(&mut t, at);
            (id, promise)
        })
    }

    /// Forgets a deadline whose exchange ended first.
    pub(super) fn cancel(id: u64) {
        TIMERS.with(|t| t.borrow_mut().waiting.retain(|w| w.id != id));
    }
}

/// Sends through the JS host, waiting at most `timeout_ms`.
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
    reply_within(sent, timeout_ms).await
}

/// Waits at most `timeout_ms` for `sent` (a promise or a value). A
/// rejection is the kind it names (`timeout`, `lost_reply`), else a
/// transport error.
async fn reply_within(sent: JsValue, timeout_ms: u32) -> Result<JsValue, NoReply> {
    let (deadline, timer) = deadline::after(timeout_ms);
    let race = js_sys::Promise::race(&js_sys::Array::of2(
        &js_sys::Promise::resolve(&sent),
        &timer,
    ));
    let outcome = JsFuture::from(race).await;
    deadline::cancel(deadline);
    match outcome {
        Ok(v) if deadline::is_timeout(&v) => Err(NoReply::Timeout),
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
async fn exchange(shared: &Rc<Shared>, request: HostRequest) {
    let timeout_ms = shared.core.borrow().config().policy.host_timeout_ms;
    let delivered = shared
        .direct
        .as_ref()
        .map(|sim| acquirer::deliver(sim, &request));
    let outcome = match delivered {
        Some(Delivered::Now(outcome)) => outcome.map(|reply| vec![reply]),
        later => {
            let reply = match later {
                Some(Delivered::Later(reply)) => reply_within(reply.into(), timeout_ms).await,
                _ => send_with_timeout(&shared.host, &to_js(&request), timeout_ms).await,
            };
            // A reply that cannot be read is no reply: the outcome is unknown.
            reply.and_then(|reply| {
                parse_serde::<HostReply>(reply, "reply")
                    .map(|r| vec![r])
                    .map_err(|_| NoReply::TransportError)
            })
        }
    };
    if shared.closed.get() {
        // Closed or dropped meanwhile: another terminal may own the journal
        // now. Its open recovers this request as in doubt.
        return;
    }
    let now = shared.now();
    shared.core.borrow_mut().handle_exchange(outcome, now);
    // Failure leaves the outcome pending; a restart before it is durable
    // recovers the request as in doubt and reverses it (never paid twice).
    let _ = persist(shared).await;
}

/// Sends pending reversals and advices before anything new (Rule 4).
/// They go out even when their attempt cannot be recorded (storage full):
/// the reversal was armed durably with its request, and sending it again
/// after a restart is harmless.
async fn flush(shared: &Rc<Shared>) {
    // One round: the core sends each advice and upload step at most once,
    // so a host that stays down cannot keep this loop going.
    shared.core.borrow_mut().begin_flush();
    while !shared.closed.get() {
        let request = {
            let now = shared.now();
            shared.core.borrow_mut().poll_transmit(now)
        };
        let _ = persist(shared).await;
        match request {
            Some(request) => exchange(shared, request).await,
            None => return,
        }
    }
}

/// Runs `work` once every command queued before it has finished.
pub(crate) async fn queued<T>(
    shared: &Rc<Shared>,
    work: impl std::future::Future<Output = T>,
) -> T {
    queued_in(shared.queue.turn(), work).await
}

/// Runs `work` in `place` once every command queued before it has
/// finished: a place from [`Queue::place`], taken by a command that first
/// reads its input (in steps, yielding to the page), keeps the commands
/// called after it behind it.
pub(crate) async fn queued_in<T>(
    place: queue::Wait<'_>,
    work: impl std::future::Future<Output = T>,
) -> T {
    // The next command's turn comes when this one ends, or is dropped.
    let _turn = place.await;
    work.await
}

/// A financial command: flush, execute, persist (or roll back), exchange.
pub(crate) async fn run_command(
    shared: Rc<Shared>,
    command: Command,
    key: String,
) -> Result<JsValue, BindingError> {
    shared.check_writable()?;
    flush(&shared).await;
    let checkpoint = checkpoint(&shared);
    let result = {
        let now = shared.now();
        shared.core.borrow_mut().execute(command, &key, now)
    };
    let persisted = persist(&shared).await;
    let submitted = match (result, persisted) {
        (Err(e), _) => return Err(e.into()),
        (Ok(s), Err(e)) if !s.replayed => {
            roll_back(&shared, checkpoint);
            return Err(e);
        }
        (Ok(s), _) => s,
    };
    if let Some(request) = submitted.request {
        exchange(&shared, request).await;
    }
    Ok(shared.record_of(submitted.txn))
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

fn open_config(input: &OpenConfig, host: &JsValue) -> Result<(TerminalConfig, Locale), PosError> {
    let currency = Currency::parse(bounded("currency", &input.currency)?)?;
    let locale = match &input.locale {
        Some(l) => Locale::parse(l)?,
        None => Locale::ZhCn,
    };
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

/// A POS terminal: sale, void, refund, pre-authorisation, settlement, with
/// the refund and reversal rules of posflow-core.
///
/// ```js
/// const term = await Terminal.open({ merchantId: "898440350480001", terminalId: "10000001",
///   currency: "CNY", storage: { kind: "indexeddb", name: "pos" },
///   host: new SimulatedAcquirer({ seed: 7 }),
///   operators: [{ id: "01", role: "cashier", pin: "1234" }] });
/// ```
#[wasm_bindgen]
pub struct Terminal {
    shared: Rc<Shared>,
}

impl Drop for Terminal {
    /// Dropping (`free()`, or the garbage collector) closes: the writer
    /// lock goes to the next tab, and an exchange still in flight records
    /// nothing more. Then its state is freed in slices.
    fn drop(&mut self) {
        let _ = self.shared.close();
        dismantle_later(self.shared.clone());
    }
}

/// Frees a dropped terminal's state in slices, once the commands before
/// have ended. Nothing can read it any more; freed at once, by the garbage
/// collector's finalizer, 50,000 sales' state held the page ~50 ms and a
/// memory terminal's 100,000 entries ~160 ms, at a moment the page did not
/// choose.
fn dismantle_later(shared: Rc<Shared>) {
    wasm_bindgen_futures::spawn_local(async move {
        let freeing = async {
            let mut parts = shared.core.borrow_mut().dismantle();
            let freed: Result<(), ()> = Slicer::new()
                .run(FIRST_STEP, |budget| Ok(parts.step(budget).then_some(())))
                .await;
            debug_assert!(freed.is_ok());
        };
        queued(&shared, freeing).await;
    });
}

impl Terminal {
    pub(crate) fn shared(&self) -> &Rc<Shared> {
        &self.shared
    }

    /// `exportJournal()` for Rust callers (the browser tests), as a
    /// `String`.
    pub fn export_journal(&self) -> Result<String, JsValue> {
        self.export_journal_text().map(String::from)
    }

    /// Parses `input` now (bad input changes nothing and is refused at
    /// once), then queues the command.
    fn command<T: Input>(
        &self,
        input: JsValue,
        what: &str,
        build: impl FnOnce(T, Currency) -> Result<(Command, String), PosError>,
    ) -> js_sys::Promise {
        let currency = self.shared.currency;
        self.command_planned(input, what, move |t, _: &CoreTerminal, _| {
            build(t, currency)
        })
    }

    /// [`Terminal::command`] for commands the core plans first (refunds):
    /// `build` sees the terminal and the time.
    pub(crate) fn command_planned<T: Input>(
        &self,
        input: JsValue,
        what: &str,
        build: impl FnOnce(T, &CoreTerminal, Timestamp) -> Result<(Command, String), PosError>,
    ) -> js_sys::Promise {
        let shared = &self.shared;
        let built = shared.check_writable().and_then(|()| {
            let now = shared.now();
            Ok(build(
                input::parse(input, what)?,
                &shared.core.borrow(),
                now,
            )?)
        });
        let (command, key) = match built {
            Ok(b) => b,
            Err(e) => return js_sys::Promise::reject(&shared.err(e)),
        };
        let shared = shared.clone();
        future_to_promise(async move {
            let result = queued(&shared, run_command(shared.clone(), command, key)).await;
            result.map_err(|e| shared.err(e))
        })
    }
}

#[wasm_bindgen]
impl Terminal {
    /// Opens a terminal (async): loads and verifies the journal from
    /// `storage`, takes the writer lock (else opens read-only), and sends
    /// what an earlier run left pending — a reversal first.
    pub async fn open(
        #[wasm_bindgen(unchecked_param_type = "TerminalConfig")] config: JsValue,
    ) -> Result<Terminal, JsValue> {
        panic::install_hook();
        panic::check().map_err(|e| crate::error::to_js(&e, Locale::ZhCn))?;
        // `host` and `now` are live JS objects, not data: read apart from
        // the rest.
        let host = js_sys::Reflect::get(&config, &"host".into()).unwrap_or(JsValue::UNDEFINED);
        let now = js_sys::Reflect::get(&config, &"now".into()).unwrap_or(JsValue::UNDEFINED);
        // A journal import is a large text with its own checks (format, hash
        // chain); the 64 KiB limit is for command input. It is copied into
        // the wasm in slices (src/restore.rs).
        let journal =
            js_sys::Reflect::get(&config, &"journal".into()).unwrap_or(JsValue::UNDEFINED);
        let journal = if journal.is_undefined() || journal.is_null() {
            None
        } else {
            match journal.dyn_into::<js_sys::JsString>() {
                // A UTF-16 unit is at least a byte of UTF-8.
                Ok(text) if text.length() as usize <= MAX_JOURNAL_BYTES => Some(text),
                Ok(_) => {
                    return Err(crate::error::to_js(
                        &PosError::invalid_input("journal", "at most 512 MiB", "more"),
                        Locale::ZhCn,
                    ))
                }
                Err(_) => {
                    return Err(crate::error::to_js(
                        &PosError::invalid_input(
                            "journal",
                            "the text exportJournal() returned",
                            "something else",
                        ),
                        Locale::ZhCn,
                    ))
                }
            }
        };
        let progress =
            js_sys::Reflect::get(&config, &"onProgress".into()).unwrap_or(JsValue::UNDEFINED);
        let input: OpenConfig =
            input::parse(config, "config").map_err(|e| crate::error::to_js(&e, Locale::ZhCn))?;
        let locale = input
            .locale
            .as_deref()
            .and_then(|l| Locale::parse(l).ok())
            .unwrap_or_default();
        let fail = |e: BindingError| e.to_js(locale);
        let (config, locale) = open_config(&input, &host).map_err(|e| fail(e.into()))?;
        let now = match now {
            v if v.is_undefined() => None,
            v => Some(v.dyn_into::<js_sys::Function>().map_err(|_| {
                fail(
                    PosError::invalid_input(
                        "now",
                        "a function returning ms since the epoch",
                        "something else",
                    )
                    .into(),
                )
            })?),
        };
        let progress = Progress::from_config(progress).map_err(|e| fail(e.into()))?;
        let storage_config = input.storage.clone().unwrap_or(StorageConfig::Memory);
        let storage = Storage::open(&storage_config).await.map_err(fail)?;
        let (lock, read_only) = match storage.lock_name() {
            None => (None, None),
            Some(name) => match locks::acquire(&name).await {
                Acquired::Held(guard) => (Some(guard), None),
                Acquired::Busy => (None, Some(name)),
                Acquired::Unsupported => (None, None),
            },
        };
        let clock = Shared {
            core: RefCell::new(
                CoreTerminal::open(config.clone(), Vec::new(), Timestamp(0))
                    .map_err(|e| fail(e.into()))?,
            ),
            durability: RefCell::default(),
            persistent: !matches!(storage, Storage::Memory),
            storage: RefCell::new(None),
            lock: RefCell::new(lock),
            read_only,
            closed: Cell::new(false),
            direct: acquirer::direct(&host),
            host,
            now,
            locale,
            currency: config.currency,
            queue: Queue::default(),
            listeners: RefCell::default(),
            history: RefCell::new(History::complete()),
        };
        let opened_at = clock.now();
        // IndexedDB: from the snapshot and the rows after it, when it has
        // one that fits (src/history.rs); else a replay of every row, or
        // of the backup to restore, in slices (src/restore.rs).
        let (mut core, durable, history, replayed) = match &journal {
            None if storage.keeps_snapshots() => {
                let o = history::open(&storage, &config, opened_at, &progress)
                    .await
                    .map_err(fail)?;
                (o.core, o.durable, o.history, o.replayed)
            }
            None => {
                let rows = storage.rows().await.map_err(fail)?;
                let core = restore::replay_stored(config, &rows, &progress, opened_at)
                    .await
                    .map_err(fail)?;
                let durable = rows.end();
                (core, durable as usize, History::complete(), durable)
            }
            // Another tab writes this journal.
            Some(_) if clock.read_only.is_some() => {
                return Err(fail(BindingError::ReadOnly {
                    lock: clock.read_only.clone().unwrap_or_default(),
                }))
            }
            Some(text) => {
                if storage.row_count().await.map_err(fail)? > 0 {
                    return Err(fail(
                        PosError::invalid_input(
                            "journal",
                            "an import only into empty storage",
                            "storage that already holds a journal",
                        )
                        .into(),
                    ));
                }
                let (core, imported) =
                    restore::restore(&storage, config, text, &progress, opened_at)
                        .await
                        .map_err(fail)?;
                (core, imported as usize, History::complete(), imported)
            }
        };
        *clock.storage.borrow_mut() = Some(Rc::new(storage));
        let new = core.take_unpersisted_seqs();
        let loading = core.journal().base() > 0;
        *clock.core.borrow_mut() = core;
        *clock.history.borrow_mut() = history;
        {
            let mut d = clock.durability.borrow_mut();
            d.durable = durable;
            if clock.read_only.is_none() {
                d.pending = (new.end - new.start) as usize;
            }
        }
        let shared = Rc::new(clock);
        if loading {
            history::load_in_background(shared.clone());
        }
        if shared.read_only.is_none() {
            persist(&shared).await.map_err(fail)?;
            if shared.persistent {
                storage::request_persistence();
            }
            if replayed > history::LONG_REPLAY {
                history::schedule(&shared);
            }
            // Resume pending work: a request that was in flight is reversed now.
            queued(&shared, flush(&shared)).await;
        }
        Ok(Terminal { shared })
    }

    /// `signIn({ operatorId, pin })` → `{ operatorId }`.
    #[wasm_bindgen(js_name = signIn, unchecked_return_type = "Promise<SignedIn>")]
    pub fn sign_in(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SignInInput")] input: JsValue,
    ) -> js_sys::Promise {
        let shared = &self.shared;
        let parsed = shared.check_writable().and_then(|()| {
            let s: convert::SignInInput = input::parse(input, "signIn")?;
            bounded("operatorId", &s.operator_id)?;
            bounded("pin", &s.pin)?;
            Ok(s)
        });
        let s = match parsed {
            Ok(s) => s,
            Err(e) => return js_sys::Promise::reject(&shared.err(e)),
        };
        let shared = shared.clone();
        future_to_promise(async move {
            let work = async {
                shared.check_writable()?;
                let result = {
                    let now = shared.now();
                    shared
                        .core
                        .borrow_mut()
                        .sign_in(&s.operator_id, &s.pin, now)
                };
                // A sign-in or a wrong PIN not yet durable is kept pending.
                let _ = persist(&shared).await;
                result?;
                Ok::<_, BindingError>(to_js(&convert::SignedIn {
                    operator_id: s.operator_id.clone(),
                }))
            };
            queued(&shared, work).await.map_err(|e| shared.err(e))
        })
    }

    /// `sale({ amount, card: { pan } | { qr }, key })` → the record.
    #[wasm_bindgen(unchecked_return_type = "Promise<TxnRecord>")]
    pub fn sale(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SaleInput")] input: JsValue,
    ) -> js_sys::Promise {
        self.command(input, "sale", convert::SaleInput::sale)
    }

    /// `preAuth({ amount, card, key })` → the record.
    #[wasm_bindgen(js_name = preAuth, unchecked_return_type = "Promise<TxnRecord>")]
    pub fn pre_auth(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SaleInput")] input: JsValue,
    ) -> js_sys::Promise {
        self.command(input, "preAuth", convert::SaleInput::pre_auth)
    }

    /// `void({ original: { traceNo } | { rrn } | { id }, approval, key })`.
    #[wasm_bindgen(unchecked_return_type = "Promise<TxnRecord>")]
    pub fn void(
        &self,
        #[wasm_bindgen(unchecked_param_type = "VoidInput")] input: JsValue,
    ) -> js_sys::Promise {
        self.command(input, "void", convert::VoidInput::command)
    }

    /// `completePreAuth({ original, amount, advice?, key })`.
    #[wasm_bindgen(js_name = completePreAuth, unchecked_return_type = "Promise<TxnRecord>")]
    pub fn complete_pre_auth(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CompletePreAuthInput")] input: JsValue,
    ) -> js_sys::Promise {
        self.command(
            input,
            "completePreAuth",
            convert::CompletePreAuthInput::command,
        )
    }

    /// `cancelPreAuth({ original, key })`.
    #[wasm_bindgen(js_name = cancelPreAuth, unchecked_return_type = "Promise<TxnRecord>")]
    pub fn cancel_pre_auth(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CancelPreAuthInput")] input: JsValue,
    ) -> js_sys::Promise {
        self.command(input, "cancelPreAuth", convert::CancelPreAuthInput::command)
    }

    /// `settle()` → `{ batchNo, balanced, debitCount, debitAmount,
    /// creditCount, creditAmount }`.
    #[wasm_bindgen(unchecked_return_type = "Promise<SettlementReport>")]
    pub fn settle(&self) -> js_sys::Promise {
        if let Err(e) = self.shared.check_writable() {
            return js_sys::Promise::reject(&self.shared.err(e));
        }
        let shared = self.shared.clone();
        future_to_promise(async move {
            let work = async {
                shared.check_writable()?;
                flush(&shared).await;
                let checkpoint = checkpoint(&shared);
                let result = {
                    let now = shared.now();
                    shared.core.borrow_mut().settle(now)
                };
                let request = result?;
                if let Err(e) = persist(&shared).await {
                    roll_back(&shared, checkpoint);
                    return Err(e);
                }
                let batch_no = request.batch_no;
                exchange(&shared, request).await;
                // 不平: the batch upload goes out now (and resumes before the
                // next command if it is interrupted).
                flush(&shared).await;
                // A closed batch is a good point to snapshot (at idle).
                history::schedule(&shared);
                let core = shared.core.borrow();
                core.check_no_upload()?;
                let closed = core
                    .closed_batches()
                    .iter()
                    .find(|c| c.batch_no == batch_no)
                    .ok_or(PosError::SettlementBlocked {
                        in_doubt: 0,
                        reversals: 0,
                    })?;
                Ok::<_, BindingError>(to_js(&convert::SettlementReport::from_close(closed)))
            };
            queued(&shared, work).await.map_err(|e| shared.err(e))
        })
    }

    /// `transactions({ state?, kind?, operatorId?, from?, to?, id?, original?,
    /// traceNo?, rrn?, amount?, limit? })` → records, newest first: `limit`
    /// stops at the newest that many, `id` looks up one, `original` finds
    /// those made against it, `traceNo` and `rrn` read their indexes, and
    /// `amount` looks from the newest until it has `limit`.
    /// Costs what it returns (and the transactions it passes over to find
    /// them), so a screen should ask for a page or the one it shows, not
    /// every transaction.
    #[wasm_bindgen(unchecked_return_type = "TxnRecord[]")]
    pub fn transactions(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TransactionFilter")] filter: JsValue,
    ) -> Result<JsValue, JsValue> {
        let shared = &self.shared;
        shared.check_alive().map_err(|e| shared.err(e))?;
        let filter: convert::TransactionFilter =
            input::parse_or_default(filter, "filter").map_err(|e| shared.err(e))?;
        let state = match filter.state.as_deref() {
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                shared.err(PosError::invalid_input("state", "a transaction state", s))
            })?),
            None => None,
        };
        let kind = match filter.kind.as_deref() {
            Some(k) => Some(Kind::parse(k).ok_or_else(|| {
                shared.err(PosError::invalid_input("kind", "a transaction kind", k))
            })?),
            None => None,
        };
        let time = |field: &str, ms: Option<f64>| {
            ms.map(|ms| convert::timestamp(field, ms))
                .transpose()
                .map_err(|e| shared.err(e))
        };
        let id = |field: &str, id: Option<&str>| {
            id.map(|id| convert::txn_id(field, id))
                .transpose()
                .map_err(|e| shared.err(e))
        };
        let limit = match filter.limit {
            Some(0) => {
                return Err(shared.err(PosError::invalid_input("limit", "at least 1", "0")));
            }
            Some(n) => n as usize,
            None => usize::MAX,
        };
        let filter = posflow_core::tracking::Filter {
            status: state,
            kind,
            operator_id: match filter.operator_id {
                Some(id) => Some(
                    bounded("operatorId", &id)
                        .map_err(|e| shared.err(e))?
                        .to_owned(),
                ),
                None => None,
            },
            from: time("from", filter.from)?,
            to: time("to", filter.to)?,
            refund_status: None,
            id: id("id", filter.id.as_deref())?,
            original: id("original", filter.original.as_deref())?,
            trace_no: filter
                .trace_no
                .as_deref()
                .map(|t| bounded("traceNo", t).and_then(TraceNo::parse))
                .transpose()
                .map_err(|e| shared.err(e))?,
            rrn: filter
                .rrn
                .map(|r| check_rrn("rrn", &r).map(|()| r))
                .transpose()
                .map_err(|e| shared.err(e))?,
            amount: filter
                .amount
                .as_deref()
                .map(|a| convert::money("amount", a, shared.currency))
                .transpose()
                .map_err(|e| shared.err(e))?,
        };
        let now = shared.now();
        let core = shared.core.borrow();
        // One JSON array, one JSON.parse: a page of 200 records crosses once.
        let records: Vec<TxnRecord> = core
            .list_newest(&filter, now, limit)
            .iter()
            .map(TxnRecord::from_view)
            .collect();
        Ok(to_js(&records))
    }

    /// `on("event", callback)`: called with each journal record once it is
    /// durable (state changes, reversals sent, operator locks, settlement),
    /// as a plain object with `type`, `seq`, and `transaction` when the
    /// record is about one.
    pub fn on(
        &self,
        name: &str,
        #[wasm_bindgen(unchecked_param_type = "(event: PosEvent) => void")]
        callback: js_sys::Function,
    ) -> Result<(), JsValue> {
        self.check_event(name)?;
        self.shared.listeners.borrow_mut().push(callback);
        Ok(())
    }

    /// `off("event", callback)`: stops calling a callback given to `on`.
    pub fn off(
        &self,
        name: &str,
        #[wasm_bindgen(unchecked_param_type = "(event: PosEvent) => void")]
        callback: js_sys::Function,
    ) -> Result<(), JsValue> {
        self.check_event(name)?;
        let callback = JsValue::from(callback);
        self.shared
            .listeners
            .borrow_mut()
            .retain(|l| JsValue::from(l.clone()) != callback);
        Ok(())
    }

    /// `exportJournal()` → the durable journal as text, for
    /// `Terminal.open({ journal })`. Synchronous; after an open from a
    /// snapshot it throws `JOURNAL_LOADING` (retryable) until
    /// `historyLoaded` has resolved.
    /// The text stays a JS string: the history's rows are never copied
    /// into the module.
    #[wasm_bindgen(js_name = exportJournal)]
    pub fn export_journal_text(&self) -> Result<js_sys::JsString, JsValue> {
        let shared = &self.shared;
        shared.check_alive().map_err(|e| shared.err(e))?;
        let core = shared.core.borrow();
        let durable = shared.durable();
        if core.journal().base() > 0 {
            // The durable records (`export` keeps the count within the
            // journal), as below.
            return shared
                .history
                .borrow()
                .export(&core, durable as u64)
                .map_err(|e| shared.err(e));
        }
        let entries = core.journal().entries();
        if shared.read_only.is_none() && durable == entries.len() {
            return Ok(core.journal().export_json().into());
        }
        // Only what is durable: a read-only terminal's recovery records and
        // appends still pending exist in this page alone.
        let prefix = Journal::from_entries(entries[..durable.min(entries.len())].to_vec())
            .map_err(|e| shared.err(e))?;
        Ok(prefix.export_json().into())
    }

    /// `historyLoaded`: resolves once `exportJournal()` can answer — at
    /// once, except after an open from a snapshot, while the journal
    /// before it is read in the background; rejects if it cannot be read
    /// (`JOURNAL_DAMAGED`, `STORAGE_FAILED`) or the terminal closes first
    /// (`TERMINAL_CLOSED`).
    ///
    /// ```js
    /// await term.historyLoaded;
    /// const backup = term.exportJournal();
    /// ```
    #[wasm_bindgen(getter, js_name = historyLoaded, unchecked_return_type = "Promise<void>")]
    pub fn history_loaded(&self) -> js_sys::Promise {
        self.shared.history.borrow().loaded()
    }

    /// `writeSnapshot()`: writes a snapshot of the durable journal now
    /// (IndexedDB), after the commands queued before it; resolves with
    /// `{ records, bytes, serializeMs, writeMs }`, or `null` when this
    /// terminal keeps none (memory, localStorage, read-only). The terminal
    /// also writes them by itself, at idle.
    #[wasm_bindgen(js_name = writeSnapshot, unchecked_return_type = "Promise<SnapshotWritten | null>")]
    pub fn write_snapshot(&self) -> js_sys::Promise {
        let shared = self.shared.clone();
        future_to_promise(async move {
            queued(
                &shared,
                history::write(&shared, true, history::Asked::Caller),
            )
            .await
            .map_err(|e| shared.err(e))
        })
    }

    /// Whether another tab holds this journal's writer lock, so commands are
    /// refused with `READ_ONLY`.
    #[wasm_bindgen(getter, js_name = readOnly)]
    pub fn read_only(&self) -> bool {
        self.shared.read_only.is_some()
    }

    /// Releases the writer lock and the storage; resolves once another
    /// `open` can be the writer. Later commands answer `TERMINAL_CLOSED`;
    /// an exchange in flight records nothing more, and the next `open`
    /// recovers it as in doubt.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> js_sys::Promise {
        self.shared.close()
    }

    fn check_event(&self, name: &str) -> Result<(), JsValue> {
        if name != "event" {
            return Err(self
                .shared
                .err(PosError::invalid_input("name", "\"event\"", name)));
        }
        Ok(())
    }
}
