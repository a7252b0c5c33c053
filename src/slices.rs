//! Long work in slices of the page's thread (issue 9: a POS screen must
//! never stutter). The core's stepwise APIs take a count budget, since the
//! core reads no clock; here each step is timed, the budget adapts so that
//! a step takes about [`STEP_MS`], and once a slice of [`SLICE_MS`] is used
//! the work yields to the event loop, so the page draws and takes taps
//! between slices.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::acquirer;

/// How long work may hold the thread before it yields, ms. A frame is
/// 16.7 ms: a slice, even with a step that runs long, leaves the page time
/// to draw.
const SLICE_MS: f64 = 7.0;

#[cfg(not(feature = "test-hooks"))]
fn slice_ms() -> f64 {
    SLICE_MS
}

#[cfg(not(feature = "test-hooks"))]
fn most_per_step() -> usize {
    usize::MAX
}

#[cfg(feature = "test-hooks")]
thread_local! {
    static TEST_SLICING: std::cell::Cell<(f64, usize)> =
        const { std::cell::Cell::new((SLICE_MS, usize::MAX)) };
}

#[cfg(feature = "test-hooks")]
fn slice_ms() -> f64 {
    TEST_SLICING.with(std::cell::Cell::get).0
}

#[cfg(feature = "test-hooks")]
fn most_per_step() -> usize {
    TEST_SLICING.with(std::cell::Cell::get).1
}

/// For the browser tests: slices of `ms` (0: every step a slice of its
/// own) and steps of at most `most` units; `None`, a release build's.
#[cfg(feature = "test-hooks")]
pub(crate) fn set_slicing_for_test(ms: Option<f64>, most: Option<usize>) {
    TEST_SLICING.with(|s| s.set((ms.unwrap_or(SLICE_MS), most.unwrap_or(usize::MAX))));
}

/// The first step's budget, in units of the work (records, transactions,
/// rows), where one unit is a few µs; [`Slicer::run`] adapts it to the
/// time the steps take.
pub(crate) const FIRST_STEP: usize = 256;

/// What one step should take, ms. Small against the slice, so a slice
/// ends close to [`SLICE_MS`] even when a step runs long.
const STEP_MS: f64 = 2.0;

/// The page's thread, shared out in slices.
pub(crate) struct Slicer {
    /// When the current slice began, ms ([`now_ms`]).
    began: f64,
}

impl Slicer {
    /// A slice begins now.
    pub(crate) fn new() -> Self {
        Slicer { began: now_ms() }
    }

    /// Runs `step(budget)` until it gives a value or an error, yielding
    /// whenever the slice is used up. The budget starts at `first` and
    /// adapts so that one step takes about [`STEP_MS`].
    pub(crate) async fn run<T, E>(
        &mut self,
        first: usize,
        mut step: impl FnMut(usize) -> Result<Option<T>, E>,
    ) -> Result<T, E> {
        let mut budget = first.max(1).min(most_per_step());
        loop {
            let t0 = now_ms();
            let done = step(budget)?;
            let t1 = now_ms();
            if let Some(value) = done {
                return Ok(value);
            }
            budget = adapt(budget, t1 - t0).min(most_per_step());
            self.pause_if_used(t1).await;
        }
    }

    /// The text of `text`, copied into the wasm a piece at a time: an
    /// 11 MB statement took ~30 ms in one piece.
    pub(crate) async fn string(&mut self, text: &js_sys::JsString) -> String {
        let len = text.length();
        let mut out = String::with_capacity(len as usize);
        let mut at = 0u32;
        let copied: Result<(), ()> = self
            .run(64 * 1024, |budget| {
                let mut end = len.min(at.saturating_add(u32::try_from(budget).unwrap_or(u32::MAX)));
                // A surrogate pair stays in one piece: apart, each half
                // would become U+FFFD.
                if end < len && (0xd800..0xdc00).contains(&(text.char_code_at(end - 1) as u32)) {
                    end = if end - 1 > at { end - 1 } else { end + 1 };
                }
                out.push_str(&String::from(text.slice(at, end)));
                at = end;
                Ok((at == len).then_some(()))
            })
            .await;
        debug_assert!(copied.is_ok());
        out
    }

    /// Drops `items` a few at a time: freeing 100,000 records' strings is
    /// itself a block of several ms.
    pub(crate) async fn drop_vec<T>(&mut self, mut items: Vec<T>) {
        let dropped: Result<(), ()> = self
            .run(4096, |budget| {
                items.truncate(items.len().saturating_sub(budget));
                Ok(items.is_empty().then_some(()))
            })
            .await;
        debug_assert!(dropped.is_ok());
    }

    /// How many units of work to take at once where the work is not cut
    /// by [`Slicer::run`] (rows between looks at [`Slicer::used`], rows a
    /// read): `usual`, or fewer when the tests cap a step.
    pub(crate) fn at_most(usual: usize) -> usize {
        usual.min(most_per_step()).max(1)
    }

    /// Whether another step would take the slice past [`SLICE_MS`], for
    /// work that lets the page run in its own way (waiting on IndexedDB)
    /// and then [`Slicer::begin`]s a new slice.
    pub(crate) fn used(&self) -> bool {
        self.used_at(now_ms())
    }

    /// A new slice begins now.
    pub(crate) fn begin(&mut self) {
        self.began = now_ms();
    }

    fn used_at(&self, now: f64) -> bool {
        now - self.began + STEP_MS > slice_ms()
    }

    /// Yields to the event loop if another step would take the slice past
    /// [`SLICE_MS`] at `now`.
    async fn pause_if_used(&mut self, now: f64) {
        if self.used_at(now) {
            next_task().await;
            self.begin();
        }
    }
}

/// The next budget: the one that would have made the last step take
/// [`STEP_MS`], changing at most 4× a step (a step that meets a costlier
/// kind of work cannot overshoot by more), and at least 1.
fn adapt(budget: usize, took_ms: f64) -> usize {
    // performance.now() may be coarsened to 0.1 ms: a step below that
    // says only that it was quick.
    let took_ms = took_ms.max(0.1);
    let ideal = budget as f64 * STEP_MS / took_ms;
    let low = (budget / 4).max(1) as f64;
    let high = budget.saturating_mul(4) as f64;
    // Not `f64::clamp`: its panic message links Rust's float formatting
    // (~1 KB gzipped).
    ideal.max(low).min(high) as usize
}

/// Resolves in a later task, after the page has had its turn. A
/// `MessageChannel` message: browsers clamp nested `setTimeout(0)`s to
/// 4 ms, which over a hundred slices would cost more than the work.
/// `setTimeout` where there is no `MessageChannel`.
async fn next_task() {
    let global = js_sys::global();
    let channel = js_sys::Reflect::get(&global, &"MessageChannel".into())
        .ok()
        .and_then(|c| c.dyn_into::<js_sys::Function>().ok())
        .and_then(|c| js_sys::Reflect::construct(&c, &js_sys::Array::new()).ok());
    let Some(channel) = channel else {
        let _ = JsFuture::from(acquirer::resolve_after(0, JsValue::UNDEFINED)).await;
        return;
    };
    let get = |port: &str| js_sys::Reflect::get(&channel, &port.into()).unwrap_or_default();
    let (receiver, sender) = (get("port1"), get("port2"));
    let call = |port: &JsValue, method: &str, args: &js_sys::Array| {
        js_sys::Reflect::get(port, &method.into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .and_then(|f| js_sys::Reflect::apply(&f, port, args).ok())
    };
    let arrived = js_sys::Promise::new(&mut |resolve, _reject| {
        let _ = js_sys::Reflect::set(&receiver, &"onmessage".into(), &resolve);
        if call(&sender, "postMessage", &js_sys::Array::of1(&0.into())).is_none() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(arrived).await;
    // A port with a handler lives until it is closed.
    call(&receiver, "close", &js_sys::Array::new());
}

/// `performance.now()`, else `Date.now()`, in ms.
pub(crate) fn now_ms() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| {
            let now = js_sys::Reflect::get(&p, &"now".into()).ok()?;
            now.dyn_ref::<js_sys::Function>()?.call0(&p).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_moves_toward_the_step_time_by_at_most_4x() {
        assert_eq!(adapt(1000, STEP_MS), 1000);
        assert_eq!(adapt(1000, STEP_MS * 2.0), 500);
        assert_eq!(adapt(1000, STEP_MS * 100.0), 250);
        assert_eq!(adapt(1000, 0.0), 4000);
        assert_eq!(adapt(1, 1000.0), 1);
        assert_eq!(adapt(usize::MAX, 0.0), usize::MAX);
    }
}
