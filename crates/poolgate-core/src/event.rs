//! What the gate tells its driver, and why it refuses things.

use crate::retry::GiveUp;
use crate::time::{Duration, Instant};
use crate::waiters::Ticket;
use thiserror::Error;

/// Something that happened to a ticket the driver is waiting on. Drain them with
/// [`Gate::poll_event`](crate::Gate::poll_event) after every call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A queued waiter now holds a slot, or a retry's back-off ended and it got one again: start
    /// its operation.
    Granted(Ticket),
    /// A queued waiter waited past its deadline and left the queue; reject its caller. It will
    /// never be granted.
    QueueTimeout {
        /// The waiter.
        ticket: Ticket,
        /// How long it waited.
        waited: Duration,
    },
    /// A running operation passed its deadline: reject its caller. Unless the pool was built
    /// with `release_on_timeout`, the slot stays held (a zombie) until the driver releases it.
    OperationTimeout(Ticket),
    /// A queued waiter or a retry's back-off was dropped by `close()`: reject its caller.
    Closed(Ticket),
}

impl Event {
    /// The ticket the event is about.
    pub fn ticket(&self) -> Ticket {
        match *self {
            Event::Granted(t)
            | Event::QueueTimeout { ticket: t, .. }
            | Event::OperationTimeout(t)
            | Event::Closed(t) => t,
        }
    }
}

/// What became of a submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// A slot was free and nobody was waiting: the operation may start now. The grant has a
    /// deadline (an operation timeout or an overall deadline), so keep the ticket.
    Granted(Ticket),
    /// Granted at once with no deadline of any kind: nothing but the operation settling can end
    /// it, so a driver may run it on a fast path that only releases the ticket.
    GrantedNoDeadline(Ticket),
    /// The caller waits in the queue; an [`Event`] will settle it.
    Queued(Ticket),
}

impl Submitted {
    /// The ticket, whichever way it went.
    pub fn ticket(&self) -> Ticket {
        match *self {
            Submitted::Granted(t) | Submitted::GrantedNoDeadline(t) | Submitted::Queued(t) => t,
        }
    }
}

/// Why a submission was refused at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum Rejected {
    /// The queue already holds `maxQueue` waiters.
    #[error("the queue is full: {max_queue} operations are already waiting for a connection")]
    QueueFull {
        /// The configured bound.
        max_queue: u32,
    },
    /// No slot was free and the caller could not wait at all (a queue timeout of 0, or an
    /// overall deadline already passed).
    #[error("no connection was free and the caller could not wait")]
    NoWait,
    /// `close()` was called.
    #[error("the pool is closed")]
    Closed,
    /// Early rejection (`rejectEarly`): from the recent hold times, the caller would wait about
    /// `predicted` for a slot, longer than it may wait.
    #[error("the predicted wait for a connection is longer than the caller may wait")]
    WouldTimeOut {
        /// The predicted wait.
        predicted: Duration,
    },
}

/// A ticket that does not fit the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum TicketError {
    /// The ticket was never issued or was already settled.
    #[error("unknown or already settled ticket")]
    Unknown,
    /// The ticket does not hold a slot (it is queued or backing off), so it cannot be released.
    #[error("the ticket does not hold a slot")]
    NotHeld,
}

/// How a slot was given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Released {
    /// A normal release: the caller is still waiting for this result.
    Completed,
    /// The caller had already been rejected (timeout or abort); this ends its zombie slot.
    ZombieEnded,
    /// The slot had already been freed at the timeout (`release_on_timeout`); nothing to free.
    AlreadyFreed,
    /// The failure will be retried: the caller keeps waiting, the ticket backs off without a
    /// slot and comes back as [`Event::Granted`] (or a rejection event) after `at`.
    Retrying {
        /// When the back-off ends and the retry joins the queue.
        at: Instant,
    },
    /// The call had a retry policy, but this failure ends it: give the caller the error.
    GaveUp(GiveUp),
}

/// What a cancellation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// The waiter (or back-off) was removed; it will never be granted.
    Removed,
    /// The operation was already running: its caller is told now, and the slot stays held (a
    /// zombie) until the driver releases it.
    NowZombie,
    /// The caller had already been settled (timed out or cancelled before); nothing changed.
    AlreadySettled,
}
