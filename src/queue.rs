//! The command queue: commands that change the journal run one at a time,
//! in the order they first asked for their turn.
//!
//! A ticket lock kept in Rust. It was a chain of JS promises (each command
//! awaited the previous one's gate), which cost every command a
//! `Promise`, a `JsFuture` with its two closures, and a microtask hop even
//! when nothing else was queued; a command that finds the queue idle now
//! runs at once.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// The queue of one terminal.
#[derive(Default)]
pub(crate) struct Queue {
    inner: RefCell<Tickets>,
}

#[derive(Default)]
struct Tickets {
    /// The ticket the next command gets.
    next: u64,
    /// The ticket whose turn it is.
    serving: u64,
    /// Wakers of the commands waiting for their turn, with their tickets
    /// (a few at most: a plain list).
    waiting: Vec<(u64, Waker)>,
    /// Tickets given up before their turn (their futures were dropped):
    /// skipped when it comes.
    abandoned: Vec<u64>,
}

impl Tickets {
    /// Ends the serving ticket's turn; returns whom to wake.
    fn advance(&mut self) -> Option<Waker> {
        self.serving += 1;
        while let Some(i) = self.abandoned.iter().position(|&t| t == self.serving) {
            self.abandoned.swap_remove(i);
            self.serving += 1;
        }
        self.take_waker(self.serving)
    }

    fn take_waker(&mut self, ticket: u64) -> Option<Waker> {
        let i = self.waiting.iter().position(|(t, _)| *t == ticket)?;
        Some(self.waiting.swap_remove(i).1)
    }
}

impl Queue {
    /// Resolves to this caller's turn, once every caller before it has
    /// dropped theirs.
    pub(crate) fn turn(&self) -> Wait<'_> {
        Wait {
            queue: self,
            ticket: None,
        }
    }

    /// Whether a command is waiting for its turn behind the one that has
    /// it: one that has asked for it, or holds a place taken with
    /// [`Queue::place`] (a reconcile reading its statement), and has not
    /// given it up.
    pub(crate) fn has_waiting(&self) -> bool {
        let t = self.inner.borrow();
        (t.serving + 1..t.next).any(|ticket| !t.abandoned.contains(&ticket))
    }

    /// A place in the queue taken now, for a command that first does work
    /// of its own (reading its input) and awaits its turn after: commands
    /// that ask after it still come after it. ([`Queue::turn`]'s future
    /// takes its ticket only when first polled.)
    pub(crate) fn place(&self) -> Wait<'_> {
        let mut wait = self.turn();
        wait.ticket(&mut self.inner.borrow_mut());
        wait
    }

    fn advance(&self) {
        let next = self.inner.borrow_mut().advance();
        // Woken outside the borrow: waking schedules the task, but nothing
        // here may re-enter the queue meanwhile.
        if let Some(waker) = next {
            waker.wake();
        }
    }
}

/// The future of [`Queue::turn`]. It takes its ticket when first polled.
pub(crate) struct Wait<'a> {
    queue: &'a Queue,
    /// `None` before the first poll and after the turn is handed out.
    ticket: Option<u64>,
}

impl Wait<'_> {
    /// Its ticket, taken now if it has none.
    fn ticket(&mut self, t: &mut Tickets) -> u64 {
        *self.ticket.get_or_insert_with(|| {
            t.next += 1;
            t.next - 1
        })
    }
}

impl<'a> Future for Wait<'a> {
    type Output = Turn<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Turn<'a>> {
        let queue = self.queue;
        let mut t = queue.inner.borrow_mut();
        let ticket = self.ticket(&mut t);
        if t.serving == ticket {
            self.ticket = None;
            Poll::Ready(Turn { queue })
        } else {
            let waker = cx.waker().clone();
            match t.waiting.iter_mut().find(|(w, _)| *w == ticket) {
                Some((_, old)) => *old = waker,
                None => t.waiting.push((ticket, waker)),
            }
            Poll::Pending
        }
    }
}

impl Drop for Wait<'_> {
    /// A command dropped while waiting gives up its ticket, and passes its
    /// turn on if it had just come.
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else {
            return;
        };
        let its_turn = {
            let mut t = self.queue.inner.borrow_mut();
            t.take_waker(ticket);
            let its_turn = t.serving == ticket;
            if !its_turn {
                t.abandoned.push(ticket);
            }
            its_turn
        };
        if its_turn {
            self.queue.advance();
        }
    }
}

/// A command's turn: the next one's comes when this is dropped (also when
/// the command's future is dropped midway).
pub(crate) struct Turn<'a> {
    queue: &'a Queue,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.queue.advance();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    use super::*;

    /// Counts its wakes.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll<'a>(wait: &mut Pin<Box<Wait<'a>>>, count: &Arc<Count>) -> Option<Turn<'a>> {
        let waker = Waker::from(count.clone());
        match wait.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(turn) => Some(turn),
            Poll::Pending => None,
        }
    }

    #[test]
    fn turns_come_in_the_order_they_were_asked_for() {
        let q = Queue::default();
        let woken = Arc::new(Count::default());
        let mut a = Box::pin(q.turn());
        let turn_a = poll(&mut a, &woken).expect("an idle queue serves at once");
        let mut b = Box::pin(q.turn());
        let mut c = Box::pin(q.turn());
        assert!(poll(&mut b, &woken).is_none());
        assert!(poll(&mut c, &woken).is_none());
        drop(turn_a);
        assert_eq!(woken.0.load(Ordering::SeqCst), 1);
        assert!(poll(&mut c, &woken).is_none());
        let turn_b = poll(&mut b, &woken).expect("b is next");
        drop(turn_b);
        assert!(poll(&mut c, &woken).is_some());
    }

    #[test]
    fn the_holder_sees_who_waits_behind_it() {
        let q = Queue::default();
        let woken = Arc::new(Count::default());
        let mut a = Box::pin(q.turn());
        let turn_a = poll(&mut a, &woken).unwrap();
        assert!(!q.has_waiting());
        let mut b = Box::pin(q.turn());
        assert!(!q.has_waiting(), "not polled: not in the queue");
        assert!(poll(&mut b, &woken).is_none());
        assert!(q.has_waiting());
        drop(b);
        assert!(!q.has_waiting(), "b gave up");
        let mut c = Box::pin(q.turn());
        assert!(poll(&mut c, &woken).is_none());
        drop(turn_a);
        assert!(!q.has_waiting(), "c's turn has come");
        assert!(poll(&mut c, &woken).is_some());
    }

    #[test]
    fn a_dropped_command_gives_up_its_turn() {
        let q = Queue::default();
        let woken = Arc::new(Count::default());
        // Dropped while others are ahead of it: skipped.
        let mut a = Box::pin(q.turn());
        let turn_a = poll(&mut a, &woken).unwrap();
        let mut b = Box::pin(q.turn());
        let mut c = Box::pin(q.turn());
        assert!(poll(&mut b, &woken).is_none());
        assert!(poll(&mut c, &woken).is_none());
        drop(b);
        drop(turn_a);
        let turn_c = poll(&mut c, &woken).expect("b was skipped");
        // Dropped once its turn had come, before taking it: passed on.
        let mut d = Box::pin(q.turn());
        let mut e = Box::pin(q.turn());
        assert!(poll(&mut d, &woken).is_none());
        assert!(poll(&mut e, &woken).is_none());
        drop(turn_c);
        drop(d);
        let turn_e = poll(&mut e, &woken).expect("d passed its turn on");
        // Never polled: it never took a ticket.
        drop(q.turn());
        drop(turn_e);
        let mut f = Box::pin(q.turn());
        assert!(poll(&mut f, &woken).is_some());
    }

    #[test]
    fn a_place_taken_before_its_first_poll_keeps_its_order() {
        let q = Queue::default();
        let woken = Arc::new(Count::default());
        let mut a = Box::pin(q.turn());
        let turn_a = poll(&mut a, &woken).unwrap();
        let mut placed = Box::pin(q.place());
        let mut later = Box::pin(q.turn());
        assert!(poll(&mut later, &woken).is_none());
        // Its turn comes while it is not waiting yet: no one is woken,
        // and the next command still waits for it.
        drop(turn_a);
        assert_eq!(woken.0.load(Ordering::SeqCst), 0);
        assert!(poll(&mut later, &woken).is_none());
        let turn = poll(&mut placed, &woken).expect("its turn came");
        drop(turn);
        assert!(poll(&mut later, &woken).is_some());
        // Dropped before it waited: its place passes on.
        let placed = Box::pin(q.place());
        let mut after = Box::pin(q.turn());
        drop(placed);
        assert!(poll(&mut after, &woken).is_some());
    }

    #[test]
    fn a_place_not_yet_waited_on_is_waiting() {
        let q = Queue::default();
        let woken = Arc::new(Count::default());
        let mut a = Box::pin(q.turn());
        let turn_a = poll(&mut a, &woken).unwrap();
        let placed = Box::pin(q.place());
        assert!(q.has_waiting(), "a reconcile reading its statement");
        drop(placed);
        assert!(!q.has_waiting(), "given up");
        drop(turn_a);
        assert!(!q.has_waiting());
    }
}
