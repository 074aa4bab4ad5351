//! How results travel to JavaScript as single numbers.
//!
//! A ticket is at most 48 bits (`generation << 32 | slot`), so `ticket >>> 0` in JavaScript is
//! the slot index. Submissions and events add a kind above bit 48; every value stays below
//! 2^53 and is therefore exact in a JavaScript number. The codes themselves are defined once,
//! in [`poolgate_core::protocol`] (the JS copy, `pkg/src/protocol.js`, is generated from it).

use poolgate_core::protocol::{self, submitted_kind, KIND_UNIT};
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

/// `kind * 2^48 + ticket`.
fn packed(kind: i32, t: Ticket) -> f64 {
    f64::from(kind) * KIND_UNIT + ticket_to_f64(t)
}

/// A submission: `kind * 2^48 + ticket` (kinds from `protocol::submitted_kind`), or a negative
/// refusal code.
pub fn submitted_to_f64(r: Result<Submitted, Rejected>) -> f64 {
    match r {
        Ok(Submitted::Granted(t)) => packed(submitted_kind::GRANTED, t),
        Ok(Submitted::GrantedNoDeadline(t)) => packed(submitted_kind::GRANTED_NO_DEADLINE, t),
        Ok(Submitted::Queued(t)) => packed(submitted_kind::QUEUED, t),
        Err(e) => f64::from(protocol::refusal_code(&e)),
    }
}

/// An event: `kind * 2^48 + ticket`, kinds from `protocol::event_kind`; 0 means no event.
pub fn event_to_f64(e: Option<Event>) -> f64 {
    e.map_or(0.0, |e| packed(protocol::event_code(&e), e.ticket()))
}
