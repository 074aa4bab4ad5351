//! What the gate tells its driver, and why it refuses things.

use crate::time::Duration;
use crate::waiters::Ticket;
use thiserror::Error;

/// Something that happened to a ticket the driver is waiting on. Drain them with
/// [`Gate::poll_event`](crate::Gate::poll_event) after every call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A queued waiter now holds a slot: start its operation.
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
    /// A retry back-off ended: submit the next attempt.
    Woken(Ticket),
    /// A queued waiter or back-off was dropped by `close()`: reject its caller.
    Closed(Ticket),
}

/// Event kinds as small integers, for drivers that pass events across a boundary as numbers.
impl Event {
    /// The ticket the event is about.
    pub fn ticket(&self) -> Ticket {
        match *self {
            Event::Granted(t)
            | Event::QueueTimeout { ticket: t, .. }
            | Event::OperationTimeout(t)
            | Event::Woken(t)
            | Event::Closed(t) => t,
        }
    }

    /// A stable code per kind: 1 granted, 2 queue timeout, 3 operation timeout, 4 woken,
    /// 5 closed (0 is left for "no event").
    pub fn code(&self) -> u8 {
        match self {
            Event::Granted(_) => 1,
            Event::QueueTimeout { .. } => 2,
            Event::OperationTimeout(_) => 3,
            Event::Woken(_) => 4,
            Event::Closed(_) => 5,
        }
    }
}

/// What became of a submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// A slot was free and nobody was waiting: the operation may start now.
    Granted(Ticket),
    /// The caller waits in the queue; an [`Event`] will settle it.
    Queued(Ticket),
}

impl Submitted {
    /// The ticket, whichever way it went.
    pub fn ticket(&self) -> Ticket {
        match *self {
            Submitted::Granted(t) | Submitted::Queued(t) => t,
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
    /// The caller had already been rejected (timeout or abort); this ends the zombie.
    Zombie,
    /// The slot had already been freed at the timeout (`release_on_timeout`); nothing to free.
    Detached,
}

/// What a cancellation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// The waiter (or back-off) was removed; it will never be granted.
    Removed,
    /// The operation was already running: its caller is detached and the slot stays held (a
    /// zombie) until the driver releases it.
    Detached,
    /// The caller had already been settled (timed out or cancelled before); nothing changed.
    AlreadySettled,
}
