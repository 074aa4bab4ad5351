//! Retry with linear back-off, bounded by a retry count and an overall deadline.
//!
//! After the n-th failed attempt the caller waits `delay * n` (the old wrapper's schedule:
//! 1 s, 2 s, 3 s by default), optionally capped at `max_delay` and shortened by up to a
//! `jitter` fraction so that a burst of callers does not come back in lockstep. All arithmetic
//! saturates, so no attempt count can produce an overflow or a NaN delay. The back-off itself
//! holds no pool slot.
//!
//! The gate runs the whole loop (see [`Gate::release_with`](crate::Gate::release_with)): a
//! request carries its policy and whether it is idempotent; each failed attempt's release
//! carries the error's class and a random sample; the gate counts attempts, enforces the
//! overall deadline, sleeps the back-off on its own timer and puts the retry back in the queue.
//! The driver only starts attempts when told and settles the caller.
//!
//! A pooler that lost its server refuses every login for a while (PgBouncer's
//! `server_login_retry`, 15 s by default) with an error that proves nothing was sent
//! ([`ErrorClass::LoginLockout`]). With [`RetryPolicy::login_lockout`] set, each back-off
//! after such a refusal lasts at least `login_lockout / max_retries`, so the retries span the
//! lockout instead of being spent inside it.

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
    /// Overall budget from the first attempt's submission (`deadlineMs`): no attempt waits or
    /// starts past it. `None`: bounded by the retry count only.
    pub deadline: Option<Duration>,
    /// How long a pooler may refuse logins after losing its server (`loginLockoutMs`); `None`
    /// treats such refusals like any other not-sent failure.
    pub login_lockout: Option<Duration>,
}

/// Retry options as a JavaScript caller gives them: `None` for an option left out.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RawRetryPolicy {
    /// `maxRetries`: an integer from 0 to [`MAX_RETRIES_LIMIT`].
    pub max_retries: Option<f64>,
    /// `delay`: finite milliseconds, at least 0.
    pub delay_ms: Option<f64>,
    /// `maxDelayMs`: milliseconds, or `Infinity` for no cap.
    pub max_delay_ms: Option<f64>,
    /// `jitter`: a fraction from 0 to 1.
    pub jitter: Option<f64>,
    /// `deadlineMs`: milliseconds from 1, or `Infinity` for none.
    pub deadline_ms: Option<f64>,
    /// `loginLockoutMs`: milliseconds, or 0 for none.
    pub login_lockout_ms: Option<f64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            delay: Duration::from_millis(1000),
            max_delay: None,
            jitter: 0.0,
            deadline: None,
            login_lockout: None,
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
    /// The pool was closed.
    Closed,
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
    pub fn from_raw(raw: &RawRetryPolicy) -> Result<RetryPolicy, ConfigError> {
        let d = RetryPolicy::default();
        Ok(RetryPolicy {
            max_retries: match raw.max_retries {
                Some(v) => integer_option("maxRetries", v, 0, MAX_RETRIES_LIMIT)?,
                None => d.max_retries,
            },
            delay: match raw.delay_ms {
                Some(v) => finite_millis_option("delay", v, 0.0)?,
                None => d.delay,
            },
            max_delay: match raw.max_delay_ms {
                Some(v) => millis_option("maxDelayMs", v, 0.0)?,
                None => d.max_delay,
            },
            jitter: match raw.jitter {
                Some(v) => fraction_option("jitter", v)?,
                None => d.jitter,
            },
            deadline: match raw.deadline_ms {
                Some(v) => millis_option("deadlineMs", v, 1.0)?,
                None => d.deadline,
            },
            login_lockout: match raw.login_lockout_ms {
                Some(v) => Some(finite_millis_option("loginLockoutMs", v, 0.0)?)
                    .filter(|d| *d > Duration::ZERO),
                None => d.login_lockout,
            },
        })
    }

    /// The back-off after the `failed_attempts`-th failure: `delay * failed_attempts`, capped,
    /// minus up to `jitter` of it. `random` is a sample in `[0, 1)` from the driver (anything
    /// else is clamped; NaN counts as 0).
    pub fn backoff(&self, failed_attempts: u32, random: f64) -> Duration {
        self.backoff_after(failed_attempts, ErrorClass::NotSent, random)
    }

    /// [`RetryPolicy::backoff`] after a failure of `class`: a login lockout with
    /// [`RetryPolicy::login_lockout`] set waits at least `login_lockout / max_retries`.
    pub fn backoff_after(&self, failed_attempts: u32, class: ErrorClass, random: f64) -> Duration {
        let linear = self.delay.saturating_mul(u64::from(failed_attempts.max(1)));
        let capped = self.max_delay.map_or(linear, |cap| linear.min(cap));
        let random = if random.is_nan() {
            0.0
        } else {
            random.clamp(0.0, 1.0)
        };
        let cut = (capped.as_micros() as f64 * self.jitter * random) as u64;
        let jittered = Duration::from_micros(capped.as_micros().saturating_sub(cut));
        match (class, self.login_lockout) {
            (ErrorClass::LoginLockout, Some(lockout)) => {
                let spread = lockout.as_micros() / u64::from(self.max_retries.max(1));
                jittered.max(Duration::from_micros(spread))
            }
            _ => jittered,
        }
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
        let wake = now.saturating_add(self.backoff_after(failed_attempts, class, random));
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
        let raw = |f: fn(&mut RawRetryPolicy)| {
            let mut r = RawRetryPolicy::default();
            f(&mut r);
            RetryPolicy::from_raw(&r)
        };
        let e = raw(|r| r.max_retries = Some(-1.0)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "maxRetries must be an integer from 0 to 1000, got -1"
        );
        let e = raw(|r| r.delay_ms = Some(f64::INFINITY)).unwrap_err();
        assert!(e.to_string().starts_with("delay must be"), "{e}");
        assert!(raw(|r| r.jitter = Some(2.0)).is_err());
        let e = raw(|r| r.deadline_ms = Some(0.5)).unwrap_err();
        assert!(e.to_string().starts_with("deadlineMs must be"), "{e}");
        let e = raw(|r| r.login_lockout_ms = Some(f64::INFINITY)).unwrap_err();
        assert!(e.to_string().starts_with("loginLockoutMs must be"), "{e}");
        assert_eq!(
            raw(|r| r.login_lockout_ms = Some(0.0))
                .unwrap()
                .login_lockout,
            None
        );
        assert_eq!(
            raw(|r| r.deadline_ms = Some(f64::INFINITY))
                .unwrap()
                .deadline,
            None
        );
        assert_eq!(raw(|_| {}), Ok(RetryPolicy::default()));
    }

    #[test]
    fn a_login_lockout_spreads_the_retries_over_it() {
        let p = RetryPolicy {
            login_lockout: Some(Duration::from_millis(15_000)),
            ..RetryPolicy::default()
        };
        let wait = |n, class| p.backoff_after(n, class, 0.0).as_micros() / 1000;
        // 3 retries over a 15 s lockout: at least 5 s each, so the third starts after it.
        assert_eq!(wait(1, ErrorClass::LoginLockout), 5000);
        assert_eq!(wait(3, ErrorClass::LoginLockout), 5000);
        assert_eq!(wait(6, ErrorClass::LoginLockout), 6000);
        // Other classes keep the linear schedule.
        assert_eq!(wait(1, ErrorClass::NotSent), 1000);
        // Without the option a lockout is an ordinary not-sent failure.
        let plain = RetryPolicy::default();
        assert_eq!(
            plain.backoff_after(1, ErrorClass::LoginLockout, 0.0),
            Duration::from_millis(1000)
        );
    }
}
