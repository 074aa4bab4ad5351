//! Every number that crosses from the core to a driver, defined once.
//!
//! A JavaScript driver talks to the gate through plain numbers (a call costs nanoseconds; an
//! object costs an allocation). The meaning of each number lives here and nowhere else: the
//! bindings encode with these constants, and `pkg/src/protocol.js` is *generated* from
//! [`js_module`] (checked in; `tests/protocol.rs` regenerates it and fails when the copy is
//! stale, `POOLGATE_BLESS=1` rewrites it). Changing a code here without regenerating fails
//! the core's tests; hand-editing the JS copy fails them too.

use crate::classify::ErrorClass;
use crate::event::{Cancelled, Event, Rejected, Released};
use crate::retry::GiveUp;

/// 2^48: a packed ticket (`generation << 32 | slot`) fits below it, so `ticket >>> 0` is the
/// slot index, and events and queued submissions carry a kind code above it. Every packed value
/// stays below 2^53, exact in a JavaScript number.
pub const KIND_UNIT: f64 = 281_474_976_710_656.0;

/// A group of named codes, for the generated module.
struct Group {
    /// The JS object's name.
    name: &'static str,
    /// What the codes mean, as a comment in the generated module.
    doc: &'static str,
    /// `(name, code)` pairs.
    codes: &'static [(&'static str, i32)],
}

/// Event kinds, as `kind * KIND_UNIT + ticket` from `pollEvent` (0 is "no event").
pub mod event_kind {
    /// A queued caller (or a retry after its back-off) holds a slot: start its operation.
    pub const GRANTED: i32 = 1;
    /// A queued caller waited past its deadline: reject it.
    pub const QUEUE_TIMEOUT: i32 = 2;
    /// A running operation passed its deadline: reject its caller; the slot may stay held.
    pub const OPERATION_TIMEOUT: i32 = 3;
    /// A queued caller or a retry back-off was dropped by `close()`: reject it.
    pub const CLOSED: i32 = 4;
}

/// Refusals of a submission, as negative numbers.
pub mod refusal {
    /// The queue holds `maxQueue` waiters.
    pub const QUEUE_FULL: i32 = -1;
    /// No slot was free and the caller could not wait at all.
    pub const NO_WAIT: i32 = -2;
    /// The pool is closed.
    pub const CLOSED: i32 = -3;
    /// Early rejection: the predicted wait exceeds what the caller may wait.
    pub const WOULD_TIME_OUT: i32 = -4;
}

/// Kinds of a grant at submission (the ticket is added below [`super::KIND_UNIT`]).
pub mod submitted_kind {
    /// Granted at once; the grant carries a deadline (operation timeout or overall deadline),
    /// so the driver must track the ticket.
    pub const GRANTED: i32 = 0;
    /// Queued: an event settles it later.
    pub const QUEUED: i32 = 1;
    /// Granted at once with no deadline at all: nothing can settle the caller but the
    /// operation, so the driver may run it on its fast path.
    pub const GRANTED_NO_DEADLINE: i32 = 2;
}

/// What `release` did.
pub mod release {
    /// The operation settled; its caller is still waiting: settle the caller with the result.
    pub const COMPLETED: i32 = 0;
    /// The caller had already been rejected; this ended its zombie slot.
    pub const ZOMBIE_ENDED: i32 = 1;
    /// The slot had been freed at the operation's timeout (`releaseOnTimeout`).
    pub const ALREADY_FREED: i32 = 2;
    /// The failure will be retried: keep the caller; a `GRANTED` event restarts the operation.
    pub const RETRYING: i32 = 3;
    /// Retrying was allowed but will not happen: no retry left. Reject with the error.
    pub const GAVE_UP_EXHAUSTED: i32 = 4;
    /// Retrying was allowed but will not happen: the next attempt would start after the
    /// overall deadline. Reject with the error.
    pub const GAVE_UP_DEADLINE: i32 = 5;
    /// Retrying was allowed but will not happen: a write that may have run. Reject.
    pub const GAVE_UP_MAYBE_EXECUTED: i32 = 6;
    /// Retrying was allowed but the error is not a transient connection failure. Reject.
    pub const GAVE_UP_NOT_RETRYABLE: i32 = 7;
    /// Retrying was allowed but the pool is closed. Reject.
    pub const GAVE_UP_CLOSED: i32 = 8;
    /// The ticket is unknown or already settled.
    pub const UNKNOWN_TICKET: i32 = -1;
    /// The ticket does not hold a slot.
    pub const NOT_HELD: i32 = -2;
}

/// What `cancel` did.
pub mod cancel {
    /// Removed from the queue or from its back-off.
    pub const REMOVED: i32 = 0;
    /// It was running: now a zombie that keeps its slot until released.
    pub const NOW_ZOMBIE: i32 = 1;
    /// Already settled; nothing changed.
    pub const ALREADY_SETTLED: i32 = 2;
    /// Unknown ticket.
    pub const UNKNOWN_TICKET: i32 = -1;
}

const GROUPS: &[Group] = &[
    Group {
        name: "EVENT",
        doc: "Event kinds from pollEvent(): kind * KIND_UNIT + ticket; 0 is no event.",
        codes: &[
            ("GRANTED", event_kind::GRANTED),
            ("QUEUE_TIMEOUT", event_kind::QUEUE_TIMEOUT),
            ("OPERATION_TIMEOUT", event_kind::OPERATION_TIMEOUT),
            ("CLOSED", event_kind::CLOSED),
        ],
    },
    Group {
        name: "SUBMITTED",
        doc: "Kinds of a submission's answer: kind * KIND_UNIT + ticket (refusals are negative).",
        codes: &[
            ("GRANTED", submitted_kind::GRANTED),
            ("QUEUED", submitted_kind::QUEUED),
            ("GRANTED_NO_DEADLINE", submitted_kind::GRANTED_NO_DEADLINE),
        ],
    },
    Group {
        name: "REFUSED",
        doc: "Refusals of a submission (negative answers of submit).",
        codes: &[
            ("QUEUE_FULL", refusal::QUEUE_FULL),
            ("NO_WAIT", refusal::NO_WAIT),
            ("CLOSED", refusal::CLOSED),
            ("WOULD_TIME_OUT", refusal::WOULD_TIME_OUT),
        ],
    },
    Group {
        name: "RELEASE",
        doc: "Answers of release() and releaseClockFree().",
        codes: &[
            ("COMPLETED", release::COMPLETED),
            ("ZOMBIE_ENDED", release::ZOMBIE_ENDED),
            ("ALREADY_FREED", release::ALREADY_FREED),
            ("RETRYING", release::RETRYING),
            ("GAVE_UP_EXHAUSTED", release::GAVE_UP_EXHAUSTED),
            ("GAVE_UP_DEADLINE", release::GAVE_UP_DEADLINE),
            ("GAVE_UP_MAYBE_EXECUTED", release::GAVE_UP_MAYBE_EXECUTED),
            ("GAVE_UP_NOT_RETRYABLE", release::GAVE_UP_NOT_RETRYABLE),
            ("GAVE_UP_CLOSED", release::GAVE_UP_CLOSED),
            ("UNKNOWN_TICKET", release::UNKNOWN_TICKET),
            ("NOT_HELD", release::NOT_HELD),
        ],
    },
    Group {
        name: "CANCEL",
        doc: "Answers of cancel().",
        codes: &[
            ("REMOVED", cancel::REMOVED),
            ("NOW_ZOMBIE", cancel::NOW_ZOMBIE),
            ("ALREADY_SETTLED", cancel::ALREADY_SETTLED),
            ("UNKNOWN_TICKET", cancel::UNKNOWN_TICKET),
        ],
    },
    Group {
        name: "ERROR_CLASS",
        doc: "Classes of a failure (classifyError, and the class passed to release()).",
        codes: &[
            ("PERMANENT", 0),
            ("NOT_SENT", 1),
            ("MAYBE_SENT", 2),
            ("TOO_MANY_CONNECTIONS", 3),
            ("LOGIN_LOCKOUT", 4),
        ],
    },
];

/// The number of an event kind (see [`event_kind`]).
pub fn event_code(e: &Event) -> i32 {
    match e {
        Event::Granted(_) => event_kind::GRANTED,
        Event::QueueTimeout { .. } => event_kind::QUEUE_TIMEOUT,
        Event::OperationTimeout(_) => event_kind::OPERATION_TIMEOUT,
        Event::Closed(_) => event_kind::CLOSED,
    }
}

/// The number of a refusal (see [`refusal`]).
pub fn refusal_code(r: &Rejected) -> i32 {
    match r {
        Rejected::QueueFull { .. } => refusal::QUEUE_FULL,
        Rejected::NoWait => refusal::NO_WAIT,
        Rejected::Closed => refusal::CLOSED,
        Rejected::WouldTimeOut { .. } => refusal::WOULD_TIME_OUT,
    }
}

/// The number of a release outcome (see [`release`]).
pub fn release_code(r: &Released) -> i32 {
    match r {
        Released::Completed => release::COMPLETED,
        Released::ZombieEnded => release::ZOMBIE_ENDED,
        Released::AlreadyFreed => release::ALREADY_FREED,
        Released::Retrying { .. } => release::RETRYING,
        Released::GaveUp(why) => give_up_code(*why),
    }
}

/// The release code of a give-up reason.
pub fn give_up_code(why: GiveUp) -> i32 {
    match why {
        GiveUp::Exhausted => release::GAVE_UP_EXHAUSTED,
        GiveUp::Deadline => release::GAVE_UP_DEADLINE,
        GiveUp::MaybeExecuted => release::GAVE_UP_MAYBE_EXECUTED,
        GiveUp::NotRetryable => release::GAVE_UP_NOT_RETRYABLE,
        GiveUp::Closed => release::GAVE_UP_CLOSED,
    }
}

/// The number of a cancellation outcome (see [`cancel`]).
pub fn cancel_code(c: &Cancelled) -> i32 {
    match c {
        Cancelled::Removed => cancel::REMOVED,
        Cancelled::NowZombie => cancel::NOW_ZOMBIE,
        Cancelled::AlreadySettled => cancel::ALREADY_SETTLED,
    }
}

/// The number of an error class (the `ERROR_CLASS` group).
pub fn error_class_code(c: ErrorClass) -> u8 {
    match c {
        ErrorClass::Permanent => 0,
        ErrorClass::NotSent => 1,
        ErrorClass::MaybeSent => 2,
        ErrorClass::TooManyConnections => 3,
        ErrorClass::LoginLockout => 4,
    }
}

/// The class of a code; an unknown code is the safe [`ErrorClass::Permanent`] (never retried).
pub fn error_class_of(code: u8) -> ErrorClass {
    match code {
        1 => ErrorClass::NotSent,
        2 => ErrorClass::MaybeSent,
        3 => ErrorClass::TooManyConnections,
        4 => ErrorClass::LoginLockout,
        _ => ErrorClass::Permanent,
    }
}

/// Lower-case, dash-separated names of the error classes, by code (what `classify()` returns in
/// JavaScript).
pub const ERROR_CLASS_NAMES: [&str; 5] = [
    "permanent",
    "not-sent",
    "maybe-sent",
    "too-many-connections",
    "login-lockout",
];

/// The text of `pkg/src/protocol.js`.
pub fn js_module() -> String {
    let mut out = String::from(
        "// GENERATED from crates/poolgate-core/src/protocol.rs by its tests: do not edit.\n\
         // Regenerate with: POOLGATE_BLESS=1 cargo test -p poolgate-core --test protocol\n\n",
    );
    out.push_str("/** 2^48: tickets fit below it; kinds are carried above it. */\n");
    out.push_str("export const KIND_UNIT = 2 ** 48;\n");
    for g in GROUPS {
        out.push_str(&format!(
            "\n/** {} */\nexport const {} = Object.freeze({{\n",
            g.doc, g.name
        ));
        for (name, code) in g.codes {
            out.push_str(&format!("  {name}: {code},\n"));
        }
        out.push_str("});\n");
    }
    out.push_str("\n/** Names of the error classes, by ERROR_CLASS code. */\n");
    out.push_str("export const ERROR_CLASS_NAMES = Object.freeze([\n");
    for n in ERROR_CLASS_NAMES {
        out.push_str(&format!("  '{n}',\n"));
    }
    out.push_str("]);\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_within_a_group_are_distinct() {
        for g in GROUPS {
            let mut seen: Vec<i32> = g.codes.iter().map(|c| c.1).collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), g.codes.len(), "duplicate code in {}", g.name);
        }
    }

    #[test]
    fn error_classes_round_trip_and_match_the_generated_group() {
        let group = GROUPS.iter().find(|g| g.name == "ERROR_CLASS").unwrap();
        for (i, (_, code)) in group.codes.iter().enumerate() {
            let class = error_class_of(*code as u8);
            assert_eq!(i32::from(error_class_code(class)), *code);
            assert_eq!(i, *code as usize, "names are indexed by code");
        }
        assert_eq!(group.codes.len(), ERROR_CLASS_NAMES.len());
        assert_eq!(error_class_of(200), ErrorClass::Permanent);
    }
}
