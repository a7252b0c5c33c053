//! The binding's input objects, read by hand from the JS object.
//!
//! Each input type names its fields once ([`Input::FIELDS`]) and reads
//! them from an [`Obj`]: the object's own enumerable fields (what
//! `JSON.stringify` would see), each looked up once. An unknown field, a
//! missing one or a wrong type is `INVALID_INPUT` naming the field by its
//! path in `details.field` (`amount`, `original.voucher.date`,
//! `approval[1].pin`).
//!
//! Why not serde's derive over `JSON.stringify`'s text, as until session
//! 10: each derived type's visitor is compiled into serde_json's streaming
//! deserializer once per type (and again inside `Option<T>`'s), which made
//! the binding's 24 input types a large share of the wasm (BENCHMARKS.md,
//! size); and every command paid for the stringify and the parse.

use js_sys::{Array, JsString, Object, Reflect};
use posflow_core::error::PosError;
use wasm_bindgen::{JsCast, JsValue};

/// The longest string read from an input, in UTF-16 units: no field needs
/// more than a few hundred; anything longer is refused before it is copied.
const MAX_TEXT_UNITS: u32 = 64 * 1024;

/// The longest list read from an input: approvals are one or two, a
/// terminal's operators at most 64.
const MAX_ITEMS: u32 = 64;

/// A type read from an input object.
pub(crate) trait Input: Sized {
    /// The fields the object may have, as JS spells them.
    const FIELDS: &'static [&'static str];

    /// Reads the type from its object.
    fn read(o: &Obj) -> Result<Self, PosError>;
}

/// Reads `value` as `T`, as `INVALID_INPUT` naming `what` (the argument)
/// or the field on failure.
pub(crate) fn parse<T: Input>(value: JsValue, what: &str) -> Result<T, PosError> {
    read_value(&value, what, "")
}

/// [`parse`], or `T`'s default when the argument was left out
/// (`undefined`): the optional filters and options.
pub(crate) fn parse_or_default<T: Input + Default>(
    value: JsValue,
    what: &str,
) -> Result<T, PosError> {
    if value.is_undefined() {
        Ok(T::default())
    } else {
        parse(value, what)
    }
}

/// `T` from `value`, the object at `path` (`""` at the top, where errors
/// about the object itself name `what`).
fn read_value<T: Input>(value: &JsValue, what: &str, path: &str) -> Result<T, PosError> {
    let label = if path.is_empty() { what } else { path };
    expect_object(value, label)?;
    let mut values = vec![JsValue::UNDEFINED; T::FIELDS.len()];
    for key in Object::keys::<JsValue>(value.unchecked_ref()).iter() {
        // A getter that throws is the caller's bug, shown as such.
        let field = Reflect::get(value, &key)
            .map_err(|_| PosError::invalid_input(label, "plain fields", "a getter that throws"))?;
        let name = key.as_string().unwrap_or_default();
        match T::FIELDS.iter().position(|f| *f == name) {
            Some(i) => values[i] = field,
            // `JSON.stringify` leaves out what is undefined, and so do we.
            None if field.is_undefined() => {}
            None => {
                return Err(PosError::invalid_input(
                    label,
                    &format!("only the fields {}", T::FIELDS.join(", ")),
                    &format!("unknown field `{name}`"),
                ))
            }
        }
    }
    T::read(&Obj {
        fields: T::FIELDS,
        values,
        what,
        path,
    })
}

/// `INVALID_INPUT` naming `label` unless `value` is an object that is not
/// a list, with what it is instead (`a number (5)`, `a list`, `null`).
pub(crate) fn expect_object(value: &JsValue, label: &str) -> Result<(), PosError> {
    if value.is_object() && !Array::is_array(value) {
        Ok(())
    } else {
        Err(PosError::invalid_input(label, "an object", &kind(value)))
    }
}

/// What a JS value is, for "found" in an error: its type, and a scalar's
/// text.
fn kind(value: &JsValue) -> String {
    if value.is_null() {
        "null".to_owned()
    } else if value.is_undefined() {
        "nothing".to_owned()
    } else if let Some(b) = value.as_bool() {
        format!("a boolean ({b})")
    } else if let Some(n) = value.as_f64() {
        format!("a number ({})", number_text(n))
    } else if value.is_string() {
        let text: &JsString = value.unchecked_ref();
        if text.length() > 64 {
            format!("a string of {} characters", text.length())
        } else {
            format!("a string ({:?})", String::from(text))
        }
    } else if Array::is_array(value) {
        "a list".to_owned()
    } else if value.is_function() {
        "a function".to_owned()
    } else if value.is_object() {
        "an object".to_owned()
    } else {
        "something else".to_owned()
    }
}

/// A JS number as JS writes it (`5`, `1.5`, `NaN`, `-Infinity`).
fn number_text(n: f64) -> String {
    String::from(
        js_sys::Number::from(n)
            .to_string_with_radix(10)
            .unwrap_or_default(),
    )
}

/// One input object's fields, in the order of its type's
/// [`Input::FIELDS`].
pub(crate) struct Obj<'a> {
    fields: &'static [&'static str],
    values: Vec<JsValue>,
    what: &'a str,
    /// `""` at the top; `card`, `original.voucher` below.
    path: &'a str,
}

impl Obj<'_> {
    /// The path of field `name`, for errors.
    fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// Field `name`; `None` when absent, `undefined` or `null` (as serde
    /// read `Option` from `JSON.stringify`'s text).
    ///
    /// # Panics
    ///
    /// If `name` is not one of the type's fields: a bug in its reader.
    fn get(&self, name: &str) -> Option<&JsValue> {
        let i = self.fields.iter().position(|f| *f == name);
        let value = &self.values[i.expect("a reader asks for its own fields")];
        (!value.is_undefined() && !value.is_null()).then_some(value)
    }

    fn wrong(&self, name: &str, expected: &str, value: &JsValue) -> PosError {
        PosError::invalid_input(&self.path_of(name), expected, &kind(value))
    }

    fn missing(&self, name: &str, expected: &str) -> PosError {
        PosError::invalid_input(&self.path_of(name), expected, "nothing")
    }

    /// A string field that may be absent.
    pub(crate) fn opt_str(&self, name: &str) -> Result<Option<String>, PosError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => text(v)
                .map(Some)
                .map_err(|expected| self.wrong(name, expected, v)),
        }
    }

    /// A string field.
    pub(crate) fn str(&self, name: &str) -> Result<String, PosError> {
        self.opt_str(name)?
            .ok_or_else(|| self.missing(name, "a string"))
    }

    /// A boolean field that may be absent.
    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, PosError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.wrong(name, "true or false", v)),
        }
    }

    /// A finite number field that may be absent.
    pub(crate) fn opt_f64(&self, name: &str) -> Result<Option<f64>, PosError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(n) if n.is_finite() => Ok(Some(n)),
                _ => Err(self.wrong(name, "a finite number", v)),
            },
        }
    }

    /// A finite number field.
    pub(crate) fn f64(&self, name: &str) -> Result<f64, PosError> {
        self.opt_f64(name)?
            .ok_or_else(|| self.missing(name, "a number"))
    }

    /// A whole number field (0–4294967295) that may be absent.
    pub(crate) fn opt_u32(&self, name: &str) -> Result<Option<u32>, PosError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => whole(v, 0.0, f64::from(u32::MAX))
                .map(|n| Some(n as u32))
                .ok_or_else(|| self.wrong(name, "a whole number from 0 to 4294967295", v)),
        }
    }

    /// A whole number field (−2147483648–2147483647) that may be absent.
    pub(crate) fn opt_i32(&self, name: &str) -> Result<Option<i32>, PosError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => whole(v, f64::from(i32::MIN), f64::from(i32::MAX))
                .map(|n| Some(n as i32))
                .ok_or_else(|| self.wrong(name, "a whole number", v)),
        }
    }

    /// An object field that may be absent, read as `T`.
    pub(crate) fn opt<T: Input>(&self, name: &str) -> Result<Option<T>, PosError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => read_value(v, self.what, &self.path_of(name)).map(Some),
        }
    }

    /// An object field, read as `T`.
    pub(crate) fn req<T: Input>(&self, name: &str) -> Result<T, PosError> {
        self.opt(name)?
            .ok_or_else(|| self.missing(name, "an object"))
    }

    /// A list-of-objects field, each read as `T`.
    pub(crate) fn list<T: Input>(&self, name: &str) -> Result<Vec<T>, PosError> {
        self.opt_list(name)?
            .ok_or_else(|| self.missing(name, "a list"))
    }

    /// Field `name` as it is, for a core type serde reads
    /// ([`crate::convert::parse_serde`]); `None` when absent or `null`.
    pub(crate) fn opt_value(&self, name: &str) -> Option<JsValue> {
        self.get(name).cloned()
    }

    /// `INVALID_INPUT` about this object as a whole (its fields do not fit
    /// together), naming it by its path.
    pub(crate) fn invalid(&self, expected: &str, found: &str) -> PosError {
        let label = if self.path.is_empty() {
            self.what
        } else {
            self.path
        };
        PosError::invalid_input(label, expected, found)
    }

    /// Whether field `name` is a list.
    pub(crate) fn is_list(&self, name: &str) -> bool {
        self.get(name).is_some_and(Array::is_array)
    }

    /// A list-of-objects field that may be absent, each read as `T`.
    pub(crate) fn opt_list<T: Input>(&self, name: &str) -> Result<Option<Vec<T>>, PosError> {
        self.opt_items(name, |item, path| read_value(item, self.what, path))
    }

    /// A list-of-strings field that may be absent, each string read by
    /// `parse` (`Date::parse`, `Route::parse`), refused as not `expected`
    /// where it gives `None`.
    pub(crate) fn opt_names<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<Option<Vec<T>>, PosError> {
        // The strings first, in one reader for every list of them; then
        // each parsed, an error naming its item as the reader would.
        let Some(texts) = self.opt_texts(name)? else {
            return Ok(None);
        };
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                parse(t).ok_or_else(|| {
                    PosError::invalid_input(&item_path(&self.path_of(name), i), expected, t)
                })
            })
            .collect::<Result<Vec<T>, _>>()
            .map(Some)
    }

    /// A list-of-strings field that may be absent.
    fn opt_texts(&self, name: &str) -> Result<Option<Vec<String>>, PosError> {
        self.opt_items(name, |item, path| {
            text(item).map_err(|e| PosError::invalid_input(path, e, &kind(item)))
        })
    }

    /// A list-of-whole-numbers (0–4294967295) field that may be absent.
    pub(crate) fn opt_u32_list(&self, name: &str) -> Result<Option<Vec<u32>>, PosError> {
        self.opt_items(name, |item, path| {
            whole(item, 0.0, f64::from(u32::MAX))
                .map(|n| n as u32)
                .ok_or_else(|| PosError::invalid_input(path, "a whole number", &kind(item)))
        })
    }

    /// A list field that may be absent, each item read by `read` with its
    /// path (`holidays[2]`).
    fn opt_items<T>(
        &self,
        name: &str,
        read: impl Fn(&JsValue, &str) -> Result<T, PosError>,
    ) -> Result<Option<Vec<T>>, PosError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let Some(items) = v.dyn_ref::<Array>() else {
            return Err(self.wrong(name, "a list", v));
        };
        if items.length() > MAX_ITEMS {
            return Err(self.wrong(name, "at most 64 items", v));
        }
        let path = self.path_of(name);
        items
            .iter()
            .enumerate()
            .map(|(i, item)| read(&item, &item_path(&path, i)))
            .collect::<Result<Vec<T>, _>>()
            .map(Some)
    }

    /// `INVALID_INPUT` about field `name`.
    pub(crate) fn bad(&self, name: &str, expected: &str, found: &str) -> PosError {
        PosError::invalid_input(&self.path_of(name), expected, found)
    }
}

/// The path of item `index` of the list at `path`: `approval[1]`.
fn item_path(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// `value` as a string, copied only when it is not too long; else what
/// was expected of it.
fn text(value: &JsValue) -> Result<String, &'static str> {
    match value.dyn_ref::<JsString>() {
        Some(text) if text.length() <= MAX_TEXT_UNITS => Ok(String::from(text)),
        Some(_) => Err("at most 65536 characters"),
        None => Err("a string"),
    }
}

/// `value` if it is a whole number from `min` to `max`.
fn whole(value: &JsValue, min: f64, max: f64) -> Option<f64> {
    value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && (min..=max).contains(n))
}

#[cfg(test)]
mod tests {
    use tsify::Tsify;

    use super::Input;
    use crate::convert::{
        Approval, CancelPreAuthInput, CardInput, CompletePreAuthInput, JournalQueryInput,
        OriginalRef, SaleInput, SignInInput, TransactionFilter, VoidInput,
    };
    use crate::refunds::{
        ConfirmIn, DestinationIn, PlanRefundInput, RangeIn, RefundFilterIn, RefundInput,
        RefundOriginalIn, VoucherIn,
    };
    use crate::settlement::ReceiptInput;
    use crate::terminal::{OpenConfig, OperatorConfig};

    /// The fields of a TypeScript interface as Tsify writes it: one per
    /// line, `name: type;` or `name?: type;`, between doc comments.
    fn declared(decl: &str) -> Vec<String> {
        decl.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('/') && !l.starts_with('*'))
            .filter_map(|l| l.split_once(':'))
            .map(|(name, _)| name.trim_end_matches('?').to_owned())
            .filter(|name| !name.contains(' '))
            .collect()
    }

    /// The fields a reader takes, but for `extra` (read apart).
    fn read<T: Input>(extra: &[&str]) -> Vec<String> {
        T::FIELDS
            .iter()
            .filter(|f| !extra.contains(f))
            .map(|f| f.to_string())
            .collect()
    }

    fn same<T: Input + Tsify>(extra: &[&str]) {
        let declared = declared(T::DECL);
        assert!(!declared.is_empty(), "{}", T::DECL);
        assert_eq!(read::<T>(extra), declared, "{}", T::DECL);
    }

    /// What the `.d.ts` promises is what the readers take: each input
    /// type's fields, in the same order, by the same names.
    #[test]
    fn every_reader_takes_the_fields_its_type_declares() {
        same::<CardInput>(&[]);
        same::<OriginalRef>(&[]);
        same::<Approval>(&[]);
        same::<SaleInput>(&[]);
        same::<VoidInput>(&[]);
        same::<CompletePreAuthInput>(&[]);
        same::<CancelPreAuthInput>(&[]);
        same::<SignInInput>(&[]);
        same::<TransactionFilter>(&[]);
        same::<JournalQueryInput>(&[]);
        same::<RefundOriginalIn>(&[]);
        same::<VoucherIn>(&[]);
        same::<PlanRefundInput>(&[]);
        same::<RefundInput>(&[]);
        same::<DestinationIn>(&[]);
        same::<RefundFilterIn>(&[]);
        same::<ConfirmIn>(&[]);
        same::<RangeIn>(&[]);
        same::<ReceiptInput>(&[]);
        same::<OperatorConfig>(&[]);
        // The live objects and the journal's text: `TerminalConfig` in the
        // `.d.ts` adds them to `OpenConfig`.
        same::<OpenConfig>(&["host", "now", "journal", "onProgress"]);
    }
}
