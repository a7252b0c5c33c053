//! `SimulatedAcquirer` for JS: the core's reference host behind the same
//! `send(request) → Promise<reply>` shape any real transport has, so the
//! terminal treats it like any other host.

use std::cell::RefCell;
use std::rc::Rc;

use posflow_core::acquirer::{Delivery, Fault, FaultRates, SimulatedAcquirer as CoreAcquirer};
use posflow_core::error::{Locale, PosError};
use posflow_core::host::{is_response_code, HostReply, HostRequest, NoReply};
use posflow_core::time::Timestamp;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::convert::{parse_serde, to_js};
use crate::error::{self, set};
use crate::input::{self, Input, Obj};

#[derive(Default)]
struct Options {
    seed: u32,
}

impl Input for Options {
    const FIELDS: &'static [&'static str] = &["seed"];

    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(Options {
            seed: o.opt_u32("seed")?.unwrap_or_default(),
        })
    }
}

struct InjectIn {
    next: Option<String>,
    code: Option<String>,
    ms: Option<u32>,
    rates: Option<FaultRates>,
}

impl Input for InjectIn {
    const FIELDS: &'static [&'static str] = &["next", "code", "ms", "rates"];

    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(InjectIn {
            next: o.opt_str("next")?,
            code: o.opt_str("code")?,
            ms: o.opt_u32("ms")?,
            // The core's own type.
            rates: match o.opt_value("rates") {
                Some(v) => Some(parse_serde(v, "rates")?),
                None => None,
            },
        })
    }
}

/// What `inject` asked for.
enum Injection {
    Next(Fault),
    Rates(FaultRates),
}

/// The built-in reference acquirer host: approves, declines per test card,
/// keeps a ledger, honours reversals and queries, and misbehaves on demand.
///
/// ```js
/// const host = new SimulatedAcquirer({ seed: 7 });
/// host.inject({ next: "timeout" });   // the next request times out
/// host.inject({ next: "late_reply", ms: 70000 });   // answers after 70 s
/// host.inject({ rates: { timeout: 100, duplicate: 200 } });   // per mille, from the seed
/// ```
#[wasm_bindgen]
pub struct SimulatedAcquirer {
    inner: Rc<RefCell<CoreAcquirer>>,
}

#[wasm_bindgen]
impl SimulatedAcquirer {
    /// `new SimulatedAcquirer({ seed })`; the seed (0–4294967295) fixes RRNs
    /// and auth codes.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<SimulatedAcquirer, JsValue> {
        let options: Options = input::parse_or_default(options, "options")
            .map_err(|e| error::to_js(&e, Locale::En))?;
        Ok(SimulatedAcquirer {
            inner: Rc::new(RefCell::new(CoreAcquirer::new(u64::from(options.seed)))),
        })
    }

    /// Makes the next request misbehave: `{ next: "timeout" | "lost_reply" |
    /// "duplicate_reply" | "late_reply" | "transport_error" |
    /// "garbled_reply" | "decline", code?, ms? }` (`code` with `decline`;
    /// `ms` with `late_reply`: the reply resolves that long after the
    /// request, past the terminal's timeout; without it the reply never
    /// arrives; `garbled_reply`: the host acts on the request and answers
    /// what cannot be read, which leaves it in doubt). Faults queue up in
    /// order. Or sets fault rates drawn from the seed for every request with
    /// nothing queued: `{ rates: { timeout, lostReply, duplicate, late,
    /// transport, garbled } }`, each in per mille (timeouts + lost replies
    /// ≤ 300, duplicates ≤ 500; all zero switches them off).
    pub fn inject(&self, fault: JsValue) -> Result<(), JsValue> {
        let injection = parse_fault(fault).map_err(|e| error::to_js(&e, Locale::En))?;
        let mut inner = self.inner.borrow_mut();
        match injection {
            Injection::Next(fault) => inner.inject(fault),
            Injection::Rates(rates) => inner
                .set_fault_rates(rates)
                .map_err(|e| error::to_js(&e, Locale::En))?,
        }
        Ok(())
    }

    /// The transport: takes a host request, resolves with the reply, or
    /// rejects with `{ kind: "timeout" | "lost_reply" | "transport_error" }`.
    /// A duplicated reply resolves once (a promise settles only once).
    pub fn send(&self, request: JsValue) -> js_sys::Promise {
        let request: HostRequest = match parse_serde(request, "request") {
            Ok(r) => r,
            Err(e) => return js_sys::Promise::reject(&error::to_js(&e, Locale::En)),
        };
        match deliver(&self.inner, &request) {
            Delivered::Now(Ok(reply)) => js_sys::Promise::resolve(&to_js(&reply)),
            Delivered::Now(Err(cause)) => {
                let kind = match cause {
                    NoReply::Timeout => "timeout",
                    NoReply::LostReply => "lost_reply",
                    NoReply::TransportError | NoReply::Restart => "transport_error",
                };
                let err = js_sys::Error::new(&format!("simulated {kind}"));
                set(&err, "kind", &JsValue::from_str(kind));
                js_sys::Promise::reject(&err)
            }
            Delivered::Later(reply) => reply,
        }
    }

    /// Hands this acquirer to a terminal that calls it directly, without
    /// the JS round trip of `send`; not part of the API.
    #[wasm_bindgen(js_name = "__posflowLink", skip_typescript)]
    pub fn link(&self) {
        HANDOFF.with(|h| *h.borrow_mut() = Some(self.inner.clone()));
    }

    /// The statement file of terminal `terminalId` for reconciliation, as a
    /// plain object: `{ terminalId, lines: [{ batchNo, traceNo, message,
    /// amount, maskedPan, method, foreign, rrn, authCode, status, code?,
    /// reason?, at }], batches: [{ batchNo, balanced, uploaded }] }`.
    ///
    /// ```js
    /// const file = host.statement("10000001");
    /// ```
    pub fn statement(&self, terminal_id: String) -> JsValue {
        let now = Timestamp(js_sys::Date::now() as i64);
        let statement = self.inner.borrow_mut().statement(&terminal_id, now);
        to_js(&statement)
    }

    /// The acquirer's ledger: every posting it made, as plain objects.
    pub fn ledger(&self) -> JsValue {
        let inner = self.inner.borrow();
        let postings: Vec<_> = inner.ledger().cloned().collect();
        to_js(&postings)
    }
}

thread_local! {
    /// Where [`SimulatedAcquirer::link`] leaves the acquirer for [`direct`].
    static HANDOFF: RefCell<Option<Rc<RefCell<CoreAcquirer>>>> = const { RefCell::new(None) };
}

/// The core acquirer behind `host` when `host` is a `SimulatedAcquirer`
/// whose `send` is the class's own, so that the terminal can call it
/// without the JS round trip: a request and its reply each went through
/// `JSON.stringify`, serde and `JSON.parse` on the way, about a third of a
/// sale's time in the browser. Any other host — including a wrapper that
/// logs or changes what the simulator does — is called through `send`.
pub(crate) fn direct(host: &JsValue) -> Option<Rc<RefCell<CoreAcquirer>>> {
    let get = |target: &JsValue, key: &str| js_sys::Reflect::get(target, &key.into()).ok();
    let link = get(host, "__posflowLink")?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    let class = js_sys::Reflect::get_prototype_of(host).ok()?;
    let class_send = get(&class, "send")?;
    if get(host, "send")? != class_send || get(&class, "__posflowLink")? != JsValue::from(&link) {
        return None;
    }
    link.call0(host).ok()?;
    HANDOFF.with(|h| h.borrow_mut().take())
}

/// What the simulator does with a request.
pub(crate) enum Delivered {
    /// The first reply (a promise settles once, so a duplicate is dropped
    /// here as it is by `send`), or why none came, at once.
    Now(Result<HostReply, NoReply>),
    /// A promise of the reply, resolving after the delay of a late reply.
    Later(js_sys::Promise),
}

/// Delivers `request` to the simulator, as `send` does and as a terminal
/// calling it directly does.
pub(crate) fn deliver(inner: &RefCell<CoreAcquirer>, request: &HostRequest) -> Delivered {
    let now = Timestamp(js_sys::Date::now() as i64);
    let delivery = inner.borrow_mut().deliver(request, now);
    match delivery {
        Delivery::Replies(replies) => match replies.into_iter().next() {
            Some(reply) => Delivered::Now(Ok(reply)),
            None => Delivered::Now(Err(NoReply::TransportError)),
        },
        Delivery::Late { after_ms, reply } => {
            Delivered::Later(resolve_after(after_ms, to_js(&reply)))
        }
        Delivery::NoReply(NoReply::Restart) => Delivered::Now(Err(NoReply::TransportError)),
        Delivery::NoReply(cause) => Delivered::Now(Err(cause)),
    }
}

/// A promise that resolves with `value` after `ms` milliseconds.
pub(crate) fn resolve_after(ms: u32, value: JsValue) -> js_sys::Promise {
    js_sys::Promise::new(&mut |resolve, _reject| {
        let set_timeout = js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        // Without a timer the reply simply never arrives: still late.
        if let Some(set_timeout) = set_timeout {
            let bound = resolve.bind1(&JsValue::NULL, &value);
            let _ = set_timeout.call2(&JsValue::NULL, &bound, &JsValue::from(ms));
        }
    })
}

fn parse_fault(value: JsValue) -> Result<Injection, PosError> {
    let f: InjectIn = input::parse(value, "fault")?;
    let next = match (f.next, f.rates) {
        (None, Some(rates)) if f.code.is_none() && f.ms.is_none() => {
            return Ok(Injection::Rates(rates))
        }
        (Some(next), None) => next,
        _ => {
            return Err(PosError::invalid_input(
                "fault",
                "either next or rates",
                "both or neither",
            ))
        }
    };
    let fault = match (next.as_str(), f.code, f.ms) {
        ("timeout", None, None) => Fault::Timeout,
        ("lost_reply", None, None) => Fault::LostReply,
        ("duplicate_reply", None, None) => Fault::DuplicateReply,
        ("late_reply", None, None) => Fault::LateReply,
        ("late_reply", None, Some(ms)) => Fault::LateReplyAfterMs(ms),
        ("transport_error", None, None) => Fault::TransportError,
        ("garbled_reply", None, None) => Fault::GarbledReply,
        ("decline", Some(code), None) if is_response_code(&code) => Fault::Decline(code),
        (next, _, _) => {
            return Err(PosError::invalid_input(
                "fault.next",
                "timeout, lost_reply, duplicate_reply, late_reply (with ms or without), transport_error, garbled_reply, or decline with a code of two digits or capital letters",
                next,
            ))
        }
    };
    Ok(Injection::Next(fault))
}
