//! `SimulatedAcquirer` for JS: the core's reference host behind the same
//! `send(request) → Promise<reply>` shape any real transport has, so the
//! terminal treats it like any other host.

use std::cell::RefCell;
use std::rc::Rc;

use posflow_core::acquirer::{Fault, SimulatedAcquirer as CoreAcquirer};
use posflow_core::driver::Host;
use posflow_core::error::{Locale, PosError};
use posflow_core::host::{HostRequest, NoReply};
use posflow_core::time::Timestamp;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use crate::convert::{parse, to_js};
use crate::error::{self, set};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    seed: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectIn {
    next: String,
    code: Option<String>,
}

/// The built-in reference acquirer host: approves, declines per test card,
/// keeps a ledger, honours reversals and queries, and misbehaves on demand.
///
/// ```js
/// const host = new SimulatedAcquirer({ seed: 7 });
/// host.inject({ next: "timeout" });   // the next request times out
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
        let options: Options = if options.is_undefined() {
            Options { seed: 0 }
        } else {
            parse(options, "options").map_err(|e| error::to_js(&e, Locale::En))?
        };
        Ok(SimulatedAcquirer {
            inner: Rc::new(RefCell::new(CoreAcquirer::new(u64::from(options.seed)))),
        })
    }

    /// Makes the next request misbehave: `{ next: "timeout" | "lost_reply" |
    /// "duplicate_reply" | "late_reply" | "transport_error" | "decline",
    /// code? }`. Faults queue up in order.
    pub fn inject(&self, fault: JsValue) -> Result<(), JsValue> {
        let fault = parse_fault(fault).map_err(|e| error::to_js(&e, Locale::En))?;
        self.inner.borrow_mut().inject(fault);
        Ok(())
    }

    /// The transport: takes a host request, resolves with the reply, or
    /// rejects with `{ kind: "timeout" | "lost_reply" | "transport_error" }`.
    /// A duplicated reply resolves once (a promise settles only once).
    pub fn send(&self, request: JsValue) -> js_sys::Promise {
        let request: HostRequest = match parse(request, "request") {
            Ok(r) => r,
            Err(e) => return js_sys::Promise::reject(&error::to_js(&e, Locale::En)),
        };
        let now = Timestamp(js_sys::Date::now() as i64);
        match self.inner.borrow_mut().send(&request, now) {
            Ok(replies) => js_sys::Promise::resolve(&to_js(&replies[0])),
            Err(cause) => {
                let kind = match cause {
                    NoReply::Timeout => "timeout",
                    NoReply::LostReply => "lost_reply",
                    NoReply::TransportError | NoReply::Restart => "transport_error",
                };
                let err = js_sys::Error::new(&format!("simulated {kind}"));
                set(&err, "kind", &JsValue::from_str(kind));
                js_sys::Promise::reject(&err)
            }
        }
    }

    /// The acquirer's ledger: every posting it made, as plain objects.
    pub fn ledger(&self) -> JsValue {
        let inner = self.inner.borrow();
        let postings: Vec<_> = inner.ledger().cloned().collect();
        to_js(&postings)
    }
}

fn parse_fault(value: JsValue) -> Result<Fault, PosError> {
    let f: InjectIn = parse(value, "fault")?;
    let fault = match (f.next.as_str(), f.code) {
        ("timeout", None) => Fault::Timeout,
        ("lost_reply", None) => Fault::LostReply,
        ("duplicate_reply", None) => Fault::DuplicateReply,
        ("late_reply", None) => Fault::LateReply,
        ("transport_error", None) => Fault::TransportError,
        ("decline", Some(code)) if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            Fault::Decline(code)
        }
        (next, _) => {
            return Err(PosError::invalid_input(
                "fault.next",
                "timeout, lost_reply, duplicate_reply, late_reply, transport_error, or decline with a 2-character code",
                next,
            ))
        }
    };
    Ok(fault)
}
