//! One writer per journal across tabs, with Web Locks.
//!
//! `open` asks `navigator.locks.request(name, { ifAvailable: true }, cb)`.
//! When the lock is free, `cb` returns a promise that settles only when the
//! terminal is closed or dropped, so the lock is held for the terminal's
//! life (and the browser frees it if the tab dies). When another tab holds
//! it, `cb` gets `null` and this terminal opens read-only.
//!
//! Where `navigator.locks` is absent (Chrome/WebView < 69) there is no lock:
//! the terminal opens as the writer and says so on the console. Two tabs
//! writing one journal then meet at the storage: IndexedDB's `add` refuses a
//! row that exists, so the second writer's append fails with
//! `STORAGE_FAILED` rather than forking the journal (localStorage has no
//! such guard). Smart-POS shells run one WebView, so this is the rare case.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::storage::ignore_rejection;

/// What `acquire` got.
pub(crate) enum Acquired {
    /// This terminal is the writer until the guard is dropped.
    Held(LockGuard),
    /// Another holder has it: open read-only.
    Busy,
    /// No Web Locks in this browser: the writer, unguarded.
    Unsupported,
}

/// Holds a Web Lock until dropped.
pub(crate) struct LockGuard {
    release: js_sys::Function,
    /// Settles once the browser has let the lock go (after `release`).
    released: js_sys::Promise,
}

impl LockGuard {
    /// Releases the lock; the promise settles once another `acquire` can
    /// have it.
    pub(crate) fn release(self) -> js_sys::Promise {
        let released = self.released.clone();
        drop(self);
        released
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::NULL);
    }
}

fn get(target: &JsValue, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(target, &name.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// Tries to take the writer lock `name` without waiting.
pub(crate) async fn acquire(name: &str) -> Acquired {
    let locks = get(&js_sys::global(), "navigator").and_then(|n| get(&n, "locks"));
    let request = locks
        .as_ref()
        .and_then(|l| get(l, "request"))
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    let (Some(locks), Some(request)) = (locks, request) else {
        web_sys::console::warn_1(&JsValue::from_str(
            "posflow: navigator.locks is not available; this terminal writes its journal \
             without a cross-tab lock",
        ));
        return Acquired::Unsupported;
    };
    let release: Rc<RefCell<Option<js_sys::Function>>> = Rc::default();
    let slot = release.clone();
    let mut released = None;
    // Resolves with whether the lock was granted.
    let granted = js_sys::Promise::new(&mut |answer, _reject| {
        let slot = slot.clone();
        let refuse = answer.clone();
        let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
            if lock.is_null() {
                let _ = answer.call1(&JsValue::NULL, &JsValue::FALSE);
                return JsValue::UNDEFINED;
            }
            let held = js_sys::Promise::new(&mut |resolve, _| {
                *slot.borrow_mut() = Some(resolve);
            });
            let _ = answer.call1(&JsValue::NULL, &JsValue::TRUE);
            held.into()
        });
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
        if let Ok(p) = request.call3(&locks, &JsValue::from_str(name), &options, &callback) {
            // The request's own promise settles when the lock is released.
            if let Ok(p) = p.dyn_into::<js_sys::Promise>() {
                ignore_rejection(p.clone());
                released = Some(p);
            }
        } else {
            let _ = refuse.call1(&JsValue::NULL, &JsValue::FALSE);
        }
    });
    let granted = JsFuture::from(granted)
        .await
        .map(|v| v.is_truthy())
        .unwrap_or(false);
    let release = release.borrow_mut().take();
    match (granted, release, released) {
        (true, Some(release), Some(released)) => Acquired::Held(LockGuard { release, released }),
        _ => Acquired::Busy,
    }
}
