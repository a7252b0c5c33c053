//! The refund side of the JS API: `planRefund`, `refund`, `refunds`,
//! `confirmFallback`, `refundRange`. Parse, call the core's planner and
//! tracker, convert; every decision is the core's.

use posflow_core::card::Card;
use posflow_core::error::{Locale, PosError};
use posflow_core::host::{BatchNo, TraceNo};
use posflow_core::money::Currency;
use posflow_core::planner::{
    Arrival, Destination, RangeStep, RefundOriginal, RefundPlan, Route, Voucher,
};
use posflow_core::record::{Kind, TxnId};
use posflow_core::terminal::{OriginalSelector, Terminal as CoreTerminal};
use posflow_core::time::{Date, Timestamp};
use posflow_core::tracking::{Filter, RefundStatus, RefundView};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use tsify::Tsify;

use crate::convert::{self, bounded, to_js, Approvals, CardInput, OriginalRef};
use crate::error::BindingError;
use crate::input::{self, parse, Input, Obj};
use crate::terminal::{persist, queued, run_command, Terminal};

/// `original` of a refund: a journal reference, or the voucher's data.
/// The original of a refund: `{ id }`, `{ traceNo }`, `{ rrn }`, or
/// `{ voucher }` when it is not in this journal (Rule 6).
#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RefundOriginalIn {
    #[tsify(optional)]
    id: Option<String>,
    #[tsify(optional)]
    trace_no: Option<String>,
    #[tsify(optional)]
    rrn: Option<String>,
    #[tsify(optional)]
    voucher: Option<VoucherIn>,
}

#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct VoucherIn {
    date: String,
    amount: String,
    rrn: String,
    #[tsify(optional)]
    auth_code: Option<String>,
    trace_no: String,
    batch_no: String,
    card: CardInput,
}

impl Input for RefundOriginalIn {
    const FIELDS: &'static [&'static str] = &["id", "traceNo", "rrn", "voucher"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(RefundOriginalIn {
            id: o.opt_str("id")?,
            trace_no: o.opt_str("traceNo")?,
            rrn: o.opt_str("rrn")?,
            voucher: o.opt("voucher")?,
        })
    }
}

impl Input for VoucherIn {
    const FIELDS: &'static [&'static str] = &[
        "date", "amount", "rrn", "authCode", "traceNo", "batchNo", "card",
    ];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(VoucherIn {
            date: o.str("date")?,
            amount: o.str("amount")?,
            rrn: o.str("rrn")?,
            auth_code: o.opt_str("authCode")?,
            trace_no: o.str("traceNo")?,
            batch_no: o.str("batchNo")?,
            card: o.req("card")?,
        })
    }
}

impl RefundOriginalIn {
    fn original(self, currency: Currency) -> Result<RefundOriginal, PosError> {
        let Some(v) = self.voucher else {
            let selector = OriginalRef::new(self.id, self.trace_no, self.rrn).selector()?;
            return Ok(RefundOriginal::Journal(selector));
        };
        if self.id.is_some() || self.trace_no.is_some() || self.rrn.is_some() {
            return Err(PosError::invalid_input(
                "original",
                "exactly one of { id }, { traceNo }, { rrn } or { voucher }",
                "several",
            ));
        }
        let date = Date::parse(bounded("original.voucher.date", &v.date)?).ok_or_else(|| {
            PosError::invalid_input("original.voucher.date", "a date as YYYY-MM-DD", &v.date)
        })?;
        let batch = BatchNo::parse(bounded("original.voucher.batchNo", &v.batch_no)?)?;
        let card: Card = v.card.card()?;
        let voucher = Voucher {
            date,
            amount: convert::money("original.voucher.amount", &v.amount, currency)?,
            rrn: bounded("original.voucher.rrn", &v.rrn)?.to_owned(),
            auth_code: match v.auth_code {
                Some(a) => Some(bounded("original.voucher.authCode", &a)?.to_owned()),
                None => None,
            },
            trace_no: TraceNo::parse(bounded("original.voucher.traceNo", &v.trace_no)?)?,
            batch_no: batch,
            card,
        };
        voucher.validate()?;
        Ok(RefundOriginal::Voucher(voucher))
    }
}

#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PlanRefundInput {
    original: RefundOriginalIn,
    #[tsify(optional)]
    amount: Option<String>,
}

#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RefundInput {
    original: RefundOriginalIn,
    #[tsify(optional)]
    amount: Option<String>,
    reason: String,
    #[tsify(optional)]
    approval: Option<Approvals>,
    #[tsify(optional)]
    destination: Option<DestinationIn>,
    key: String,
}

impl Input for PlanRefundInput {
    const FIELDS: &'static [&'static str] = &["original", "amount"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(PlanRefundInput {
            original: o.req("original")?,
            amount: o.opt_str("amount")?,
        })
    }
}

impl Input for RefundInput {
    const FIELDS: &'static [&'static str] = &[
        "original",
        "amount",
        "reason",
        "approval",
        "destination",
        "key",
    ];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(RefundInput {
            original: o.req("original")?,
            amount: o.opt_str("amount")?,
            reason: o.str("reason")?,
            approval: Approvals::read(o)?,
            destination: o.opt("destination")?,
            key: o.str("key")?,
        })
    }
}

#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DestinationIn {
    #[tsify(optional)]
    route: Option<String>,
    #[tsify(optional)]
    holder_name: Option<String>,
    #[tsify(optional)]
    bank: Option<String>,
    #[tsify(optional)]
    account: Option<String>,
}

impl Input for DestinationIn {
    const FIELDS: &'static [&'static str] = &["route", "holderName", "bank", "account"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(DestinationIn {
            route: o.opt_str("route")?,
            holder_name: o.opt_str("holderName")?,
            bank: o.opt_str("bank")?,
            account: o.opt_str("account")?,
        })
    }
}

impl DestinationIn {
    fn destination(self) -> Result<Destination, PosError> {
        let route = match self.route.as_deref() {
            Some(r) => Some(Route::parse(r).filter(|r| r.is_fallback()).ok_or_else(|| {
                PosError::invalid_input(
                    "destination.route",
                    "settlement_account, other_card, wallet_transfer or cash",
                    r,
                )
            })?),
            None => None,
        };
        let text = |field: &str, v: Option<String>| -> Result<Option<String>, PosError> {
            match v {
                Some(t) => Ok(Some(bounded(field, &t)?.to_owned())),
                None => Ok(None),
            }
        };
        Ok(Destination {
            route,
            holder_name: text("destination.holderName", self.holder_name)?,
            bank: text("destination.bank", self.bank)?,
            account: text("destination.account", self.account)?,
        })
    }
}

#[derive(Default, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RefundFilterIn {
    #[tsify(optional)]
    status: Option<String>,
    #[tsify(optional)]
    kind: Option<String>,
    #[tsify(optional)]
    operator_id: Option<String>,
    #[tsify(optional)]
    from: Option<f64>,
    #[tsify(optional)]
    to: Option<f64>,
}

#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ConfirmIn {
    refund: OriginalRef,
    reference: String,
}

#[derive(Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RangeIn {
    from: f64,
    to: f64,
    reason: String,
    #[tsify(optional)]
    approval: Option<Approvals>,
    key_prefix: String,
}

impl Input for RefundFilterIn {
    const FIELDS: &'static [&'static str] = &["status", "kind", "operatorId", "from", "to"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(RefundFilterIn {
            status: o.opt_str("status")?,
            kind: o.opt_str("kind")?,
            operator_id: o.opt_str("operatorId")?,
            from: o.opt_f64("from")?,
            to: o.opt_f64("to")?,
        })
    }
}

impl Input for ConfirmIn {
    const FIELDS: &'static [&'static str] = &["refund", "reference"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(ConfirmIn {
            refund: o.req("refund")?,
            reference: o.str("reference")?,
        })
    }
}

impl Input for RangeIn {
    const FIELDS: &'static [&'static str] = &["from", "to", "reason", "approval", "keyPrefix"];
    fn read(o: &Obj) -> Result<Self, PosError> {
        Ok(RangeIn {
            from: o.f64("from")?,
            to: o.f64("to")?,
            reason: o.str("reason")?,
            approval: Approvals::read(o)?,
            key_prefix: o.str("keyPrefix")?,
        })
    }
}

#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReasonOut {
    code: &'static str,
    message: &'static str,
}

#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArrivalOut {
    earliest: String,
    latest: String,
}

impl From<Arrival> for ArrivalOut {
    fn from(a: Arrival) -> Self {
        ArrivalOut {
            earliest: a.earliest.to_string(),
            latest: a.latest.to_string(),
        }
    }
}

#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FallbackOut {
    route: &'static str,
    needs: Vec<&'static str>,
    expected_arrival: ArrivalOut,
}

#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefundPlanOut {
    action: &'static str,
    status: Option<&'static str>,
    original_id: Option<String>,
    amount: String,
    refundable: String,
    route: &'static str,
    approvals: Vec<String>,
    reasons: Vec<ReasonOut>,
    fallbacks: Vec<FallbackOut>,
    expected_arrival: Option<ArrivalOut>,
    error: Option<&'static str>,
}

fn plan_out(plan: &RefundPlan, locale: Locale) -> RefundPlanOut {
    RefundPlanOut {
        action: plan.action().as_str(),
        status: plan.status().map(RefundStatus::as_str),
        original_id: plan.original().map(|id| id.to_string()),
        amount: plan.amount().to_string(),
        refundable: plan.refundable().to_string(),
        route: plan.route().as_str(),
        approvals: plan.approvals().iter().map(|r| r.to_string()).collect(),
        reasons: plan
            .reasons()
            .iter()
            .map(|r| ReasonOut {
                code: r.code(),
                message: r.message(locale),
            })
            .collect(),
        fallbacks: plan
            .fallbacks()
            .iter()
            .map(|f| FallbackOut {
                route: f.route.as_str(),
                needs: f.needs.iter().map(|d| d.as_str()).collect(),
                expected_arrival: f.expected_arrival.into(),
            })
            .collect(),
        expected_arrival: plan.expected_arrival().map(Into::into),
        error: plan.rejection().map(PosError::code),
    }
}

#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NextStepOut {
    code: &'static str,
    message: &'static str,
}

#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefundOut {
    id: String,
    kind: &'static str,
    status: &'static str,
    overdue: bool,
    amount: String,
    currency: &'static str,
    original_id: Option<String>,
    voucher_rrn: Option<String>,
    route: &'static str,
    route_name: &'static str,
    destination_account: Option<String>,
    destination_holder: Option<String>,
    fallback_reasons: Vec<&'static str>,
    trace_no: String,
    rrn: Option<String>,
    response_code: Option<String>,
    retryable: bool,
    reference: Option<String>,
    reason: Option<String>,
    operator_id: String,
    approved_by: Vec<String>,
    expected_arrival: ArrivalOut,
    next_step: NextStepOut,
    created_at: f64,
}

fn refund_out(v: &RefundView, locale: Locale) -> RefundOut {
    use posflow_core::terminal::TxnState;
    let r = &v.txn.request;
    let (rrn, response_code) = match &v.txn.state {
        TxnState::Approved { rrn, .. } => (rrn.clone(), Some("00".to_owned())),
        TxnState::Declined { code } => (None, Some(code.clone())),
        _ => (None, None),
    };
    let (zh, en) = v.route.names();
    RefundOut {
        id: v.txn.id.to_string(),
        kind: r.kind.as_str(),
        status: v.status.as_str(),
        overdue: v.overdue,
        amount: r.amount.to_string(),
        currency: r.amount.currency().code(),
        original_id: r.original.map(|o| o.to_string()),
        voucher_rrn: r.voucher.as_ref().map(|v| v.rrn.clone()),
        route: v.route.as_str(),
        route_name: locale.pick(zh, en),
        destination_account: r.fallback.as_ref().and_then(|f| f.account.clone()),
        destination_holder: r.fallback.as_ref().and_then(|f| f.holder_name.clone()),
        fallback_reasons: r
            .fallback
            .as_ref()
            .map(|f| f.reasons.iter().map(|x| x.code()).collect())
            .unwrap_or_default(),
        trace_no: r.trace_no.to_string(),
        rrn,
        response_code,
        retryable: v.retryable,
        reference: v.reference.clone(),
        reason: r.reason.clone(),
        operator_id: r.operator_id.clone(),
        approved_by: r.approvals.iter().map(|a| a.operator_id.clone()).collect(),
        expected_arrival: v.expected_arrival.into(),
        next_step: NextStepOut {
            code: v.next_step.code(),
            message: v.next_step.message(locale),
        },
        created_at: r.at.0 as f64,
    }
}

fn plan(
    term: &CoreTerminal,
    input: PlanRefundInput,
    now: Timestamp,
) -> Result<RefundPlan, PosError> {
    let currency = term.config().currency;
    let amount = match &input.amount {
        Some(a) => Some(convert::money("amount", a, currency)?),
        None => None,
    };
    term.plan_refund(&input.original.original(currency)?, amount, now)
}

#[wasm_bindgen]
impl Terminal {
    /// `planRefund({ original, amount? })`: what a refund would do —
    /// void, refund, fallback, pre-auth cancel or reject — with reasons,
    /// approvals and expected arrival, before anything is sent.
    #[wasm_bindgen(js_name = planRefund, unchecked_return_type = "RefundPlanOut")]
    pub fn plan_refund(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PlanRefundInput")] input: JsValue,
    ) -> Result<JsValue, JsValue> {
        let shared = self.shared();
        shared.check_alive().map_err(|e| shared.err(e))?;
        let planned = parse::<PlanRefundInput>(input, "planRefund")
            .and_then(|p| plan(&shared.core.borrow(), p, shared.now()));
        match planned {
            Ok(p) => Ok(to_js(&plan_out(&p, shared.locale))),
            Err(e) => Err(shared.err(e)),
        }
    }

    /// `refund({ original, amount?, reason, approval, destination?, key })`:
    /// plans and carries out the plan (void, refund, fallback or pre-auth
    /// cancel); a rejected plan throws its error.
    #[wasm_bindgen(unchecked_return_type = "Promise<TxnRecord>")]
    pub fn refund(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RefundInput")] input: JsValue,
    ) -> js_sys::Promise {
        self.command_planned(input, "refund", |r: RefundInput, term, now| {
            let currency = term.config().currency;
            let amount = match &r.amount {
                Some(a) => Some(convert::money("amount", a, currency)?),
                None => None,
            };
            let command = term.refund_command(
                &r.original.original(currency)?,
                amount,
                bounded("reason", &r.reason)?,
                convert::approvals(r.approval)?,
                r.destination.map(DestinationIn::destination).transpose()?,
                now,
            )?;
            Ok((command, convert::key(r.key)?))
        })
    }

    /// `refunds({ status?, kind?, operatorId?, from?, to? })`: the refund
    /// tracker's list, newest first.
    #[wasm_bindgen(unchecked_return_type = "RefundOut[]")]
    pub fn refunds(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RefundFilterIn | undefined")] filter: JsValue,
    ) -> Result<JsValue, JsValue> {
        let shared = self.shared();
        shared.check_alive().map_err(|e| shared.err(e))?;
        let listed = (|| {
            let f: RefundFilterIn = input::parse_or_default(filter, "filter")?;
            let filter =
                Filter {
                    refund_status: match f.status.as_deref() {
                        Some(s) => Some(RefundStatus::parse(s).ok_or_else(|| {
                            PosError::invalid_input("status", "a refund status", s)
                        })?),
                        None => None,
                    },
                    kind: match f.kind.as_deref() {
                        Some(k) => Some(
                            Kind::parse(k)
                                .ok_or_else(|| PosError::invalid_input("kind", "a kind", k))?,
                        ),
                        None => None,
                    },
                    operator_id: f.operator_id,
                    from: f
                        .from
                        .map(|ms| convert::timestamp("from", ms))
                        .transpose()?,
                    to: f.to.map(|ms| convert::timestamp("to", ms)).transpose()?,
                    ..Filter::default()
                };
            let out = js_sys::Array::new();
            let core = shared.core.borrow();
            for v in core.refunds(&filter, shared.now()).iter().rev() {
                out.push(&to_js(&refund_out(v, shared.locale)));
            }
            Ok::<_, PosError>(out.into())
        })();
        listed.map_err(|e| shared.err(e))
    }

    /// `confirmFallback({ refund: { id | traceNo }, reference })`: the
    /// fallback's money was sent; it becomes `credited` (durably).
    #[wasm_bindgen(js_name = confirmFallback, unchecked_return_type = "Promise<RefundOut>")]
    pub fn confirm_fallback(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ConfirmIn")] input: JsValue,
    ) -> js_sys::Promise {
        let shared = self.shared().clone();
        let parsed = shared
            .check_writable()
            .and_then(|()| Ok(parse::<ConfirmIn>(input, "confirmFallback")?));
        let c = match parsed {
            Ok(c) => c,
            Err(e) => return js_sys::Promise::reject(&shared.err(e)),
        };
        future_to_promise(async move {
            let work = async {
                let selector: OriginalSelector = c.refund.selector()?;
                let now = shared.now();
                let id: TxnId = {
                    let mut core = shared.core.borrow_mut();
                    core.confirm_fallback(&selector, bounded("reference", &c.reference)?, now)?;
                    core.find(&selector)?.id
                };
                persist(&shared).await?;
                let core = shared.core.borrow();
                let view = core
                    .refund_view(id, now)
                    .expect("a confirmed fallback is a refund");
                Ok::<_, BindingError>(to_js(&refund_out(&view, shared.locale)))
            };
            queued(&shared, work).await.map_err(|e| shared.err(e))
        })
    }

    /// `refundRange({ from, to, reason, approval, keyPrefix })`: refunds
    /// everything made in `[from, to)` one by one; resolves with what was
    /// refunded, skipped (with the plan saying why) and failed.
    #[wasm_bindgen(js_name = refundRange)]
    pub fn refund_range(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RangeIn")] input: JsValue,
    ) -> js_sys::Promise {
        let shared = self.shared().clone();
        let prepared = shared.check_writable().and_then(|()| {
            let r = parse::<RangeIn>(input, "refundRange")?;
            Ok((
                convert::timestamp("from", r.from)?,
                convert::timestamp("to", r.to)?,
                bounded("reason", &r.reason)?.to_owned(),
                convert::approvals(r.approval)?,
                convert::key(r.key_prefix)?,
            ))
        });
        let (from, to, reason, approvals, prefix) = match prepared {
            Ok(p) => p,
            Err(e) => return js_sys::Promise::reject(&shared.err(e)),
        };
        future_to_promise(async move {
            let work = async {
                let steps = shared.core.borrow().range_steps(
                    from,
                    to,
                    &reason,
                    &approvals,
                    &prefix,
                    shared.now(),
                );
                let done = js_sys::Array::new();
                let skipped = js_sys::Array::new();
                let failed = js_sys::Array::new();
                for step in steps {
                    let entry = js_sys::Object::new();
                    let put = |k: &str, v: &JsValue| {
                        let _ = js_sys::Reflect::set(&entry, &k.into(), v);
                    };
                    match step {
                        RangeStep::Done {
                            original,
                            txn,
                            action,
                        } => {
                            put("originalId", &original.to_string().into());
                            put("action", &action.as_str().into());
                            put("record", &shared.record_of(txn));
                            done.push(&entry);
                        }
                        RangeStep::Skip { original, plan } => {
                            put("originalId", &original.to_string().into());
                            put("action", &plan.action().as_str().into());
                            put("plan", &to_js(&plan_out(&plan, shared.locale)));
                            skipped.push(&entry);
                        }
                        RangeStep::Run {
                            original,
                            action,
                            command,
                            key,
                        } => {
                            put("originalId", &original.to_string().into());
                            put("action", &action.as_str().into());
                            match run_command(shared.clone(), command, key).await {
                                Ok(record) => {
                                    put("record", &record);
                                    done.push(&entry);
                                }
                                Err(e) => {
                                    put("error", &shared.err(e));
                                    failed.push(&entry);
                                }
                            }
                        }
                    }
                }
                let out = js_sys::Object::new();
                let _ = js_sys::Reflect::set(&out, &"refunded".into(), &done);
                let _ = js_sys::Reflect::set(&out, &"skipped".into(), &skipped);
                let _ = js_sys::Reflect::set(&out, &"failed".into(), &failed);
                Ok::<JsValue, BindingError>(out.into())
            };
            queued(&shared, work).await.map_err(|e| shared.err(e))
        })
    }
}
