//! Plain time values supplied by the driver.
//!
//! The core never reads a clock. The driver passes `now` into every call that can change state,
//! as whole microseconds from an origin of its choosing (in JavaScript, `performance.now()`
//! scaled by 1000). Integers keep comparisons exact and total; microseconds keep the wait- and
//! hold-time statistics meaningful for operations that take well under a millisecond.

use core::fmt;

/// A point in time: microseconds since an origin chosen by the driver.
///
/// Only differences between instants of the same driver mean anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

/// A span of time in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

/// The latest time a float can name: a quarter of the range, so that adding any timeout to it
/// stays far below [`Instant::NEVER`] and a clock pushed this far cannot make every new waiter
/// look expired.
const LATEST_MICROS: u64 = u64::MAX / 4;

/// Converts milliseconds given as a float (what JavaScript clocks produce) to whole microseconds.
///
/// NaN and negative values become 0 and values past the range (Infinity included) saturate at
/// [`LATEST_MICROS`], so a broken clock can never make the core panic or stop granting; it only
/// makes its deadlines early or late.
fn millis_to_micros(ms: f64) -> u64 {
    // `as` saturates for out-of-range floats and maps NaN to 0.
    ((ms * 1000.0).round() as u64).min(LATEST_MICROS)
}

impl Instant {
    /// The origin of the driver's clock.
    pub const ZERO: Instant = Instant(0);
    /// A point later than any deadline the core will ever set; used for "never".
    pub const NEVER: Instant = Instant(u64::MAX);
    /// The latest time the gate's clock can reach: a quarter of the range, so a deadline set
    /// from it never saturates to [`Instant::NEVER`]. Later readings are clamped to it.
    pub const LATEST: Instant = Instant(LATEST_MICROS);

    /// An instant `micros` microseconds after the origin.
    pub const fn from_micros(micros: u64) -> Self {
        Instant(micros)
    }

    /// An instant from fractional milliseconds (as from `performance.now()`), rounded to the
    /// nearest microsecond; NaN and negatives map to the origin.
    pub fn from_millis_f64(ms: f64) -> Self {
        Instant(millis_to_micros(ms))
    }

    /// Microseconds since the origin.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Milliseconds since the origin, as a float.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// `self + d`, saturating at [`Instant::NEVER`].
    pub const fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);

    /// A duration of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        Duration(micros)
    }

    /// A duration of `ms` whole milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration(ms.saturating_mul(1000))
    }

    /// A duration from fractional milliseconds, rounded to the microsecond; NaN and negatives
    /// become zero.
    pub fn from_millis_f64(ms: f64) -> Self {
        Duration(millis_to_micros(ms))
    }

    /// The length in microseconds.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// The length in milliseconds, as a float.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// `self * n`, saturating instead of overflowing.
    pub const fn saturating_mul(self, n: u64) -> Duration {
        Duration(self.0.saturating_mul(n))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.as_millis_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_millis_round_to_micros_and_never_panic() {
        assert_eq!(Instant::from_millis_f64(1.2345).as_micros(), 1235);
        assert_eq!(Instant::from_millis_f64(f64::NAN), Instant::ZERO);
        assert_eq!(Instant::from_millis_f64(-5.0), Instant::ZERO);
        assert_eq!(
            Instant::from_millis_f64(f64::INFINITY).as_micros(),
            LATEST_MICROS
        );
        assert!(Instant::from_millis_f64(1e300) < Instant::NEVER);
        assert_eq!(Duration::from_millis_f64(1e300).as_micros(), LATEST_MICROS);
    }

    #[test]
    fn arithmetic_saturates() {
        let late = Instant::NEVER.saturating_add(Duration::from_millis(5));
        assert_eq!(late, Instant::NEVER);
        assert_eq!(
            Instant::ZERO.saturating_since(Instant::from_micros(9)),
            Duration::ZERO
        );
        assert_eq!(
            Duration::from_micros(u64::MAX)
                .saturating_mul(3)
                .as_micros(),
            u64::MAX
        );
    }
}
