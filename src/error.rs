//! `PosError` as a JS `Error`, plus the few errors only the binding can
//! meet (storage, tab ownership, a closed terminal).

use posflow_core::error::{Locale, PosError};
use wasm_bindgen::prelude::*;

/// An error thrown to JS: one of the core's, or one that exists only
/// because the binding talks to a browser. The binding's codes are stable
/// like the core's.
#[derive(Debug, Clone)]
pub(crate) enum BindingError {
    /// Anything the core decided.
    Core(PosError),
    /// The journal could not be made durable (quota, storage gone): the
    /// command was refused before anything was sent.
    StorageFailed {
        /// What was being done: `open IndexedDB`, `read`, `append`.
        operation: String,
        /// The browser's error, cut to a sane length.
        what: String,
    },
    /// Another tab (or terminal) holds the journal's writer lock; this one
    /// can read but not act.
    ReadOnly {
        /// The Web Locks name held elsewhere.
        lock: String,
    },
    /// `close()` was called; the terminal does nothing more.
    Closed,
}

impl From<PosError> for BindingError {
    fn from(e: PosError) -> Self {
        BindingError::Core(e)
    }
}

impl BindingError {
    /// The stable code.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            BindingError::Core(e) => e.code(),
            BindingError::StorageFailed { .. } => "STORAGE_FAILED",
            BindingError::ReadOnly { .. } => "READ_ONLY",
            BindingError::Closed => "TERMINAL_CLOSED",
        }
    }

    fn message(&self, locale: Locale) -> String {
        match self {
            BindingError::Core(e) => e.message(locale),
            BindingError::StorageFailed { operation, what } => match locale {
                Locale::ZhCn => format!("存储失败（{operation}）：{what}；未发送任何请求"),
                Locale::En => format!("storage failed ({operation}): {what}; nothing was sent"),
            },
            BindingError::ReadOnly { lock } => match locale {
                Locale::ZhCn => format!("只读：另一个页面正在使用此流水（{lock}）"),
                Locale::En => format!("read-only: another tab writes this journal ({lock})"),
            },
            BindingError::Closed => locale
                .pick("终端已关闭", "the terminal is closed")
                .to_owned(),
        }
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        match self {
            BindingError::Core(e) => e.details(),
            BindingError::StorageFailed { operation, what } => {
                vec![("operation", operation.clone()), ("what", what.clone())]
            }
            BindingError::ReadOnly { lock } => vec![("lock", lock.clone())],
            BindingError::Closed => Vec::new(),
        }
    }

    /// `CODE: message` in English, for the console.
    pub(crate) fn describe(&self) -> String {
        format!("{}: {}", self.code(), self.message(Locale::En))
    }

    /// A JS `Error` with `name = "PosError"`, `code`, `details` and the
    /// message in `locale`.
    pub(crate) fn to_js(&self, locale: Locale) -> JsValue {
        let js = js_sys::Error::new(&self.message(locale));
        js.set_name("PosError");
        let details = js_sys::Object::new();
        for (name, value) in self.details() {
            set(&details, name, &JsValue::from_str(&value));
        }
        set(&js, "code", &JsValue::from_str(self.code()));
        set(&js, "details", &details);
        js.into()
    }
}

/// A core error as a JS `Error` (see [`BindingError::to_js`]).
pub(crate) fn to_js(error: &PosError, locale: Locale) -> JsValue {
    BindingError::Core(error.clone()).to_js(locale)
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
