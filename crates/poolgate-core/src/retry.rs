//! Retry with linear back-off, bounded by a retry count and an overall deadline.
//!
//! After the n-th failed attempt the caller waits `delay * n` (the old wrapper's schedule:
//! 1 s, 2 s, 3 s by default), optionally capped at `max_delay` and shortened by up to a
//! `jitter` fraction so that a burst of callers does not come back in lockstep. All arithmetic
//! saturates, so no attempt count can produce an overflow or a NaN delay. The back-off itself
//! holds no pool slot: the driver registers it with
//! [`Gate::schedule_retry`](crate::Gate::schedule_retry).

use crate::classify::ErrorClass;
use crate::config::{
    finite_millis_option, fraction_option, integer_option, millis_option, ConfigError,
};
use crate::time::{Duration, Instant};

/// Largest accepted `maxRetries`.
pub const MAX_RETRIES_LIMIT: u32 = 1000;

/// When and how often to retry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`maxRetries`; the old wrapper's default is 3).
    pub max_retries: u32,
    /// Base delay; the n-th retry waits `delay * n` (`delay`; default 1000 ms).
    pub delay: Duration,
    /// Upper bound on one back-off (`maxDelayMs`), if any.
    pub max_delay: Option<Duration>,
    /// Fraction of each back-off that may be randomly cut (`jitter`, 0..=1).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            delay: Duration::from_millis(1000),
            max_delay: None,
            jitter: 0.0,
        }
    }
}

/// Why no further attempt will be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiveUp {
    /// The error is not a transient connection failure.
    NotRetryable,
    /// The connection broke while a non-idempotent statement may have run: retrying could
    /// apply it twice.
    MaybeExecuted,
    /// Every allowed retry was used.
    Exhausted,
    /// The next attempt could not start before the overall deadline.
    Deadline,
}

impl GiveUp {
    /// A stable code: 1 not retryable, 2 maybe executed, 3 exhausted, 4 deadline.
    pub fn code(self) -> u8 {
        match self {
            GiveUp::NotRetryable => 1,
            GiveUp::MaybeExecuted => 2,
            GiveUp::Exhausted => 3,
            GiveUp::Deadline => 4,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Back off, then try again at this instant.
    RetryAt(Instant),
    /// Give the error to the caller.
    GiveUp(GiveUp),
}

impl RetryPolicy {
    /// Validates options as JavaScript passes them; `None` keeps the default.
    pub fn from_raw(
        max_retries: Option<f64>,
        delay_ms: Option<f64>,
        max_delay_ms: Option<f64>,
        jitter: Option<f64>,
    ) -> Result<RetryPolicy, ConfigError> {
        let d = RetryPolicy::default();
        Ok(RetryPolicy {
            max_retries: match max_retries {
                Some(v) => integer_option("maxRetries", v, 0, MAX_RETRIES_LIMIT)?,
                None => d.max_retries,
            },
            delay: match delay_ms {
                Some(v) => finite_millis_option("delay", v, 0.0)?,
                None => d.delay,
            },
            max_delay: match max_delay_ms {
                Some(v) => millis_option("maxDelayMs", v, 0.0)?,
                None => d.max_delay,
            },
            jitter: match jitter {
                Some(v) => fraction_option("jitter", v)?,
                None => d.jitter,
            },
        })
    }

    /// The back-off after the `failed_attempts`-th failure: `delay * failed_attempts`, capped,
    /// minus up to `jitter` of it. `random` is a sample in `[0, 1)` from the driver (anything
    /// else is clamped; NaN counts as 0).
    pub fn backoff(&self, failed_attempts: u32, random: f64) -> Duration {
        let linear = self.delay.saturating_mul(u64::from(failed_attempts.max(1)));
        let capped = self.max_delay.map_or(linear, |cap| linear.min(cap));
        let random = if random.is_nan() {
            0.0
        } else {
            random.clamp(0.0, 1.0)
        };
        let cut = (capped.as_micros() as f64 * self.jitter * random) as u64;
        Duration::from_micros(capped.as_micros().saturating_sub(cut))
    }

    /// Decides whether to retry after the `failed_attempts`-th failed attempt (1 after the
    /// first), given the error's class and whether the operation is idempotent.
    pub fn decide(
        &self,
        failed_attempts: u32,
        class: ErrorClass,
        idempotent: bool,
        now: Instant,
        deadline: Option<Instant>,
        random: f64,
    ) -> RetryDecision {
        let give_up = match class {
            ErrorClass::Permanent => Some(GiveUp::NotRetryable),
            ErrorClass::MaybeSent if !idempotent => Some(GiveUp::MaybeExecuted),
            _ if failed_attempts > self.max_retries => Some(GiveUp::Exhausted),
            _ => None,
        };
        if let Some(reason) = give_up {
            return RetryDecision::GiveUp(reason);
        }
        let wake = now.saturating_add(self.backoff(failed_attempts, random));
        match deadline {
            Some(d) if wake >= d => RetryDecision::GiveUp(GiveUp::Deadline),
            _ => RetryDecision::RetryAt(wake),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Instant = Instant::from_micros(1_000_000);

    #[test]
    fn linear_backoff_like_the_old_wrapper() {
        let p = RetryPolicy::default();
        let waits: Vec<u64> = (1..=3)
            .map(|n| p.backoff(n, 0.5).as_micros() / 1000)
            .collect();
        assert_eq!(waits, vec![1000, 2000, 3000]);
    }

    #[test]
    fn cap_and_jitter_stay_finite_for_huge_attempt_counts() {
        let p = RetryPolicy {
            max_delay: Some(Duration::from_millis(5000)),
            jitter: 0.5,
            ..RetryPolicy::default()
        };
        for n in [1u32, 1000, u32::MAX] {
            for r in [0.0, 0.999, f64::NAN, -3.0, 7.0] {
                let b = p.backoff(n, r).as_micros();
                assert!(b <= 5_000_000, "{n} {r} {b}");
            }
        }
        assert_eq!(p.backoff(1000, 0.999).as_micros(), 2_502_500);
    }

    #[test]
    fn decisions() {
        let p = RetryPolicy::default();
        let d = |n, class, idem, deadline| p.decide(n, class, idem, T0, deadline, 0.0);
        let at = |ms| RetryDecision::RetryAt(T0.saturating_add(Duration::from_millis(ms)));
        assert_eq!(d(1, ErrorClass::NotSent, false, None), at(1000));
        assert_eq!(d(3, ErrorClass::NotSent, false, None), at(3000));
        assert_eq!(
            d(4, ErrorClass::NotSent, false, None),
            RetryDecision::GiveUp(GiveUp::Exhausted)
        );
        assert_eq!(
            d(1, ErrorClass::MaybeSent, false, None),
            RetryDecision::GiveUp(GiveUp::MaybeExecuted)
        );
        assert_eq!(d(1, ErrorClass::MaybeSent, true, None), at(1000));
        assert_eq!(
            d(1, ErrorClass::Permanent, true, None),
            RetryDecision::GiveUp(GiveUp::NotRetryable)
        );
        let soon = Some(T0.saturating_add(Duration::from_millis(999)));
        assert_eq!(
            d(1, ErrorClass::NotSent, false, soon),
            RetryDecision::GiveUp(GiveUp::Deadline)
        );
    }

    #[test]
    fn options_are_validated_by_name() {
        let e = RetryPolicy::from_raw(Some(-1.0), None, None, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "maxRetries must be an integer from 0 to 1000, got -1"
        );
        let e = RetryPolicy::from_raw(None, Some(f64::INFINITY), None, None).unwrap_err();
        assert!(e.to_string().starts_with("delay must be"), "{e}");
        assert!(RetryPolicy::from_raw(None, None, None, Some(2.0)).is_err());
        assert_eq!(
            RetryPolicy::from_raw(None, None, None, None),
            Ok(RetryPolicy::default())
        );
    }
}
