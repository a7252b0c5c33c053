//! End of day in the JS API: `receipt` (签购单 as printer lines or HTML) and
//! `reconcile` (the acquirer's statement against the journal). Parse, call
//! the core, convert.

use posflow_core::error::PosError;
use posflow_core::receipt::{Receipt, ReceiptCopy, ReceiptOptions, Width};
use posflow_core::reconcile::{reconcile, statement_from_acquirer, Statement};
use posflow_core::record::TxnId;
use serde::Deserialize;
use tsify::Tsify;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

use crate::convert::{bounded, parse, to_js};
use crate::error::BindingError;
use crate::terminal::{persist, queued, Terminal};

/// `receipt(id, options)`.
#[derive(Deserialize, Default, Tsify)]
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

/// Turns the core's journal sequence numbers into the ids JS sees.
fn ids_to_strings(value: &JsValue, field: &str) {
    let Ok(list) = js_sys::Reflect::get(value, &field.into()) else {
        return;
    };
    if !js_sys::Array::is_array(&list) {
        return;
    }
    // The array itself (`Array::from` would copy it).
    let list: js_sys::Array = list.unchecked_into();
    for i in 0..list.length() {
        if let Some(seq) = list.get(i).as_f64() {
            list.set(i, TxnId(seq as u64).to_string().into());
        }
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
            let id = TxnId::parse(bounded("id", &id)?)
                .ok_or_else(|| PosError::invalid_input("id", "an id like T00000042", &id))?;
            let o: ReceiptInput = if options.is_undefined() {
                ReceiptInput::default()
            } else {
                parse(options, "receipt options")?
            };
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
    /// (durably) before it resolves.
    #[wasm_bindgen(unchecked_return_type = "Promise<any>")]
    pub fn reconcile(&self, statement: JsValue) -> js_sys::Promise {
        let shared = self.shared().clone();
        let read = shared.check_writable().and_then(|()| {
            let text = match statement.as_string() {
                Some(text) => text,
                None if statement.is_object() => js_sys::JSON::stringify(&statement)
                    .ok()
                    .and_then(|s| s.as_string())
                    .ok_or_else(|| PosError::invalid_input("statement", "JSON", "another value"))?,
                None => {
                    return Err(BindingError::from(PosError::invalid_input(
                        "statement",
                        "CSV or JSON text, or a statement object",
                        "something else",
                    )))
                }
            };
            let trimmed = text.trim_start_matches('\u{feff}').trim_start();
            let is_acquirers = statement.is_object()
                && js_sys::Reflect::has(&statement, &"batches".into()).unwrap_or(false);
            let statement = if is_acquirers {
                // The simulated acquirer's own file: it knows no merchant id,
                // so it is read as this terminal's merchant's.
                let file: posflow_core::acquirer::Statement = serde_json::from_str(trimmed)
                    .map_err(|e| {
                        PosError::invalid_input(
                            "statement",
                            "the acquirer's statement",
                            &e.to_string(),
                        )
                    })?;
                let core = shared.core.borrow();
                let config = core.config();
                statement_from_acquirer(
                    &file,
                    &config.merchant_id,
                    config.currency,
                    config.policy.utc_offset_minutes,
                )?
            } else if trimmed.starts_with('{') {
                Statement::from_json(trimmed)?
            } else {
                Statement::from_csv(&text, shared.currency)?
            };
            Ok(statement)
        });
        let statement = match read {
            Ok(s) => s,
            Err(e) => return js_sys::Promise::reject(&shared.err(e)),
        };
        future_to_promise(async move {
            let work = async {
                let now = shared.now();
                let report = {
                    let mut core = shared.core.borrow_mut();
                    let report = reconcile(&core, &statement, now)?;
                    core.apply_reconciliation(&report, now)?;
                    report
                };
                persist(&shared).await?;
                let out = to_js(&report);
                ids_to_strings(&out, "credited");
                ids_to_strings(&out, "returned");
                if let Ok(items) = js_sys::Reflect::get(&out, &"items".into()) {
                    let items: js_sys::Array = items.unchecked_into();
                    for i in 0..items.length() {
                        let item = items.get(i);
                        if let Some(seq) = js_sys::Reflect::get(&item, &"txn".into())
                            .ok()
                            .and_then(|v| v.as_f64())
                        {
                            let id = TxnId(seq as u64).to_string();
                            let _ = js_sys::Reflect::set(&item, &"txn".into(), &id.into());
                        }
                    }
                }
                Ok::<JsValue, BindingError>(out)
            };
            queued(&shared, work).await.map_err(|e| shared.err(e))
        })
    }
}
