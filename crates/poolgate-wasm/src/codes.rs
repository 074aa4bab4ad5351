//! How results travel to JavaScript as single numbers.
//!
//! A ticket is at most 48 bits (`generation << 32 | slot`), so `ticket >>> 0` in JavaScript is
//! the slot index. Submissions and events add a kind above bit 48; every value stays below
//! 2^53 and is therefore exact in a JavaScript number.

use poolgate_core::{Event, Instant, Rejected, Submitted, Ticket};

/// A driver's clock reading in ms (`performance.now()`), for every binding that takes one. A
/// non-finite reading maps to the origin, which the gate ignores (its clock never moves back);
/// the core clamps finite readings that are too large at `Instant::LATEST`.
pub fn instant_of(ms: f64) -> Instant {
    if ms.is_finite() {
        Instant::from_millis_f64(ms)
    } else {
        Instant::ZERO
    }
}

/// A deadline in ms on the driver's clock: `Infinity` (or NaN) is none.
pub fn deadline_of(ms: f64) -> Option<Instant> {
    (ms < f64::INFINITY).then(|| instant_of(ms))
}

/// 2^48: the unit of the kind field above a ticket.
pub const KIND_UNIT: f64 = 281_474_976_710_656.0;

/// `submit` refused: the queue is full.
pub const REJECTED_QUEUE_FULL: f64 = -1.0;
/// `submit` refused: no slot was free and the caller could not wait.
pub const REJECTED_NO_WAIT: f64 = -2.0;
/// `submit` or `scheduleRetry` refused: the pool is closed.
pub const REJECTED_CLOSED: f64 = -3.0;

/// A ticket as a number.
pub fn ticket_to_f64(t: Ticket) -> f64 {
    t.to_bits() as f64
}

/// Largest number a ticket can be.
const TICKET_MAX: f64 = 281_474_976_710_655.0;

/// A number back to a ticket. Anything that is not a whole number from 0 to 2^48 - 1 (NaN,
/// negatives, fractions, kind bits still attached) maps to a ticket that can never be live, so
/// it cannot alias a real one.
pub fn ticket_from_f64(v: f64) -> Ticket {
    if (0.0..=TICKET_MAX).contains(&v) && v.fract() == 0.0 {
        Ticket::from_bits(v as u64)
    } else {
        Ticket::from_bits(0xFFFF_FFFF_FFFF)
    }
}

/// A submission: the ticket when granted at once, `ticket + 2^48` when queued, negative when
/// refused.
pub fn submitted_to_f64(r: Result<Submitted, Rejected>) -> f64 {
    match r {
        Ok(Submitted::Granted(t)) => ticket_to_f64(t),
        Ok(Submitted::Queued(t)) => KIND_UNIT + ticket_to_f64(t),
        Err(e) => rejected_to_f64(e),
    }
}

/// A refusal as its negative code.
pub fn rejected_to_f64(e: Rejected) -> f64 {
    match e {
        Rejected::QueueFull { .. } => REJECTED_QUEUE_FULL,
        Rejected::NoWait => REJECTED_NO_WAIT,
        Rejected::Closed => REJECTED_CLOSED,
    }
}

/// An event: `kind * 2^48 + ticket`, with kinds as [`Event::code`]; 0 means no event.
pub fn event_to_f64(e: Option<Event>) -> f64 {
    e.map_or(0.0, |e| {
        f64::from(e.code()) * KIND_UNIT + ticket_to_f64(e.ticket())
    })
}
