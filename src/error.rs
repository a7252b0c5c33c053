//! `PosError` as a JS `Error`.

use posflow_core::error::{Locale, PosError};
use wasm_bindgen::prelude::*;

/// A JS `Error` with `name = "PosError"`, `code`, `details` and the message
/// in `locale`.
pub(crate) fn to_js(error: &PosError, locale: Locale) -> JsValue {
    let js = js_sys::Error::new(&error.message(locale));
    js.set_name("PosError");
    let details = js_sys::Object::new();
    for (name, value) in error.details() {
        set(&details, name, &JsValue::from_str(&value));
    }
    set(&js, "code", &JsValue::from_str(error.code()));
    set(&js, "details", &details);
    js.into()
}

pub(crate) fn set(target: &JsValue, name: &str, value: &JsValue) {
    // Setting a property on a plain object or Error we just made cannot fail.
    let _ = js_sys::Reflect::set(target, &JsValue::from_str(name), value);
}

/// A serde error on input from JS, as `INVALID_INPUT`.
/// serde names the problem (`invalid type: floating point, expected a
/// string`); keep that, cut to a length that cannot flood a screen.
pub(crate) fn invalid(field: &str, error: impl std::fmt::Display) -> PosError {
    let found: String = error.to_string().chars().take(160).collect();
    PosError::InvalidInput {
        field: field.to_owned(),
        expected: "the shape in the API contract".to_owned(),
        found,
    }
}
