//! Pool configuration and its validation.
//!
//! Options arrive from JavaScript as plain numbers, so validation works on `f64` and reports
//! problems in the user's vocabulary: the camelCase option name, the accepted range, and the
//! value that was given. Every check lives here so that the bindings only convert.

use crate::time::Duration;
use core::fmt;
use thiserror::Error;

/// Largest accepted `maxConnections`.
pub const MAX_CONNECTIONS_LIMIT: u32 = 1_000_000;
/// Largest accepted `maxQueue`.
pub const MAX_QUEUE_LIMIT: u32 = 16_777_216;
/// Largest finite timeout in milliseconds (about 24.8 days, the largest `setTimeout` delay).
pub const MAX_TIMEOUT_MS: f64 = 2_147_483_647.0;

/// Default `maxConnections`: the default size of node-postgres's pool.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// Default `maxQueue`: deep enough for a burst, bounded so a flood fails fast.
pub const DEFAULT_MAX_QUEUE: u32 = 10_000;
/// Default `queueTimeoutMs`: Prisma's default `pool_timeout` (10 s).
pub const DEFAULT_QUEUE_TIMEOUT_MS: u64 = 10_000;

/// A validated pool configuration.
///
/// It can only be built valid: by [`Config::default`], or from options by
/// [`RawConfig::validate`]. Its fields are read through getters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    max_connections: u32,
    max_queue: u32,
    queue_timeout: Option<Duration>,
    operation_timeout: Option<Duration>,
    release_on_timeout: bool,
    adaptive_min: Option<u32>,
    reject_early: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_queue: DEFAULT_MAX_QUEUE,
            queue_timeout: Some(Duration::from_millis(DEFAULT_QUEUE_TIMEOUT_MS)),
            operation_timeout: None,
            release_on_timeout: false,
            adaptive_min: None,
            reject_early: false,
        }
    }
}

impl Config {
    /// Operations allowed to hold a slot at once (`maxConnections`), at least 1.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// Waiters allowed in the queue; past it a submit fails with `QueueFull` (`maxQueue`).
    pub fn max_queue(&self) -> u32 {
        self.max_queue
    }

    /// How long a waiter may wait for a slot; `None` waits forever (`queueTimeoutMs`).
    pub fn queue_timeout(&self) -> Option<Duration> {
        self.queue_timeout
    }

    /// How long a granted operation may run before its caller is told it timed out; `None`
    /// means no limit (`operationTimeoutMs`).
    pub fn operation_timeout(&self) -> Option<Duration> {
        self.operation_timeout
    }

    /// Free the slot when an operation times out, although its query may still run (the old
    /// wrapper's behaviour; off by default) (`releaseOnTimeout`).
    pub fn release_on_timeout(&self) -> bool {
        self.release_on_timeout
    }

    /// The adaptive limit's floor (`adaptive: { min }`), when the adaptive limit is on: on a
    /// "too many connections" failure the effective limit is cut, then grows back by one after
    /// a window of clean operations, never above `maxConnections` nor below this.
    pub fn adaptive_min(&self) -> Option<u32> {
        self.adaptive_min
    }

    /// Early rejection (`rejectEarly`): refuse a caller at once when its predicted wait is
    /// longer than it may wait.
    pub fn reject_early(&self) -> bool {
        self.reject_early
    }

    /// This configuration with another queue bound, if it is at most [`MAX_QUEUE_LIMIT`].
    pub fn with_max_queue(mut self, max_queue: u32) -> Result<Config, ConfigError> {
        self.max_queue = integer_option("maxQueue", f64::from(max_queue), 0, MAX_QUEUE_LIMIT)?;
        Ok(self)
    }

    /// This configuration with another queue timeout (`None`: wait forever; zero: never wait).
    pub fn with_queue_timeout(mut self, timeout: Option<Duration>) -> Config {
        self.queue_timeout = timeout;
        self
    }

    /// This configuration with another default operation timeout (`None`: no limit). A zero
    /// timeout would time every operation out at its grant, so it is refused.
    pub fn with_operation_timeout(
        mut self,
        timeout: Option<Duration>,
    ) -> Result<Config, ConfigError> {
        if timeout == Some(Duration::ZERO) {
            return Err(ConfigError::MillisOutOfRange {
                option: "operationTimeoutMs",
                min: JsNumber(0.001),
                max: JsNumber(MAX_TIMEOUT_MS),
                value: JsNumber(0.0),
            });
        }
        self.operation_timeout = timeout;
        Ok(self)
    }

    /// This configuration with `releaseOnTimeout` set.
    pub fn with_release_on_timeout(mut self, release: bool) -> Config {
        self.release_on_timeout = release;
        self
    }

    /// This configuration with the adaptive limit on (a floor from 1 to `maxConnections`) or
    /// off (`None`).
    pub fn with_adaptive_min(mut self, min: Option<u32>) -> Result<Config, ConfigError> {
        self.adaptive_min = match min {
            Some(m) => Some(integer_option(
                "adaptive.min",
                f64::from(m),
                1,
                self.max_connections,
            )?),
            None => None,
        };
        Ok(self)
    }

    /// This configuration with early rejection on or off.
    pub fn with_reject_early(mut self, on: bool) -> Config {
        self.reject_early = on;
        self
    }

    /// This configuration with another `maxConnections`, validated like the option. The
    /// adaptive floor, if any, is kept at or below it.
    pub fn with_max_connections(mut self, value: f64) -> Result<Config, ConfigError> {
        self.max_connections = max_connections_option(value)?;
        self.adaptive_min = self.adaptive_min.map(|m| m.min(self.max_connections));
        Ok(self)
    }
}

/// Options as a JavaScript caller gives them: `None` for an option left out.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RawConfig {
    /// `maxConnections`: an integer from 1 to [`MAX_CONNECTIONS_LIMIT`].
    pub max_connections: Option<f64>,
    /// `maxQueue`: an integer from 0 to [`MAX_QUEUE_LIMIT`].
    pub max_queue: Option<f64>,
    /// `queueTimeoutMs`: 0 to [`MAX_TIMEOUT_MS`], or `Infinity` to wait forever.
    pub queue_timeout_ms: Option<f64>,
    /// `operationTimeoutMs`: 1 to [`MAX_TIMEOUT_MS`], or `Infinity` for no limit.
    pub operation_timeout_ms: Option<f64>,
    /// `releaseOnTimeout`.
    pub release_on_timeout: Option<bool>,
    /// `adaptive.min`: turns the adaptive limit on; an integer from 1 to `maxConnections`.
    pub adaptive_min: Option<f64>,
    /// `rejectEarly`.
    pub reject_early: Option<bool>,
}

impl RawConfig {
    /// Checks every option and fills in defaults for the ones left out.
    pub fn validate(&self) -> Result<Config, ConfigError> {
        let defaults = Config::default();
        let max_connections = match self.max_connections {
            Some(v) => max_connections_option(v)?,
            None => defaults.max_connections,
        };
        Ok(Config {
            max_connections,
            max_queue: match self.max_queue {
                Some(v) => integer_option("maxQueue", v, 0, MAX_QUEUE_LIMIT)?,
                None => defaults.max_queue,
            },
            queue_timeout: match self.queue_timeout_ms {
                Some(v) => millis_option("queueTimeoutMs", v, 0.0)?,
                None => defaults.queue_timeout,
            },
            operation_timeout: match self.operation_timeout_ms {
                Some(v) => millis_option("operationTimeoutMs", v, 1.0)?,
                None => defaults.operation_timeout,
            },
            release_on_timeout: self
                .release_on_timeout
                .unwrap_or(defaults.release_on_timeout),
            adaptive_min: match self.adaptive_min {
                Some(v) => Some(integer_option("adaptive.min", v, 1, max_connections)?),
                None => None,
            },
            reject_early: self.reject_early.unwrap_or(defaults.reject_early),
        })
    }
}

/// Why a configuration value was refused. Each message names the option, the accepted range
/// and the value given.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum ConfigError {
    /// An option that must be a whole number was fractional, NaN or outside its range.
    IntegerOutOfRange {
        /// The option's name, as the user spells it.
        option: &'static str,
        /// Smallest accepted value.
        min: u32,
        /// Largest accepted value.
        max: u32,
        /// The value given.
        value: JsNumber,
    },
    /// A duration in milliseconds was NaN, negative or too large.
    MillisOutOfRange {
        /// The option's name, as the user spells it.
        option: &'static str,
        /// Smallest accepted value.
        min: JsNumber,
        /// Largest finite value accepted.
        max: JsNumber,
        /// The value given.
        value: JsNumber,
    },
    /// A duration that must be finite (such as a retry `delay`) was NaN, negative, infinite or
    /// too large.
    FiniteMillisOutOfRange {
        /// The option's name, as the user spells it.
        option: &'static str,
        /// Smallest accepted value.
        min: JsNumber,
        /// Largest accepted value.
        max: JsNumber,
        /// The value given.
        value: JsNumber,
    },
    /// A fraction (such as `jitter`) was outside 0..=1.
    FractionOutOfRange {
        /// The option's name, as the user spells it.
        option: &'static str,
        /// The value given.
        value: JsNumber,
    },
    /// A gate was asked to keep more distinct retry policies than it allows.
    TooManyRetryPolicies {
        /// The bound.
        max: u32,
    },
}

impl ConfigError {
    /// The message, with every number written by `num`. [`fmt::Display`] uses Rust's printing
    /// ([`JsNumber`]); the bindings pass JavaScript's own, which also keeps Rust's float
    /// printing code out of the `.wasm`.
    pub fn message_with(&self, num: impl Fn(f64) -> String) -> String {
        match *self {
            ConfigError::IntegerOutOfRange {
                option,
                min,
                max,
                value,
            } => format!(
                "{option} must be an integer from {min} to {max}, got {}",
                num(value.0)
            ),
            ConfigError::MillisOutOfRange {
                option,
                min,
                max,
                value,
            } => format!(
                "{option} must be a number of milliseconds from {} to {}, or Infinity for no \
                 limit, got {}",
                num(min.0),
                num(max.0),
                num(value.0)
            ),
            ConfigError::FiniteMillisOutOfRange {
                option,
                min,
                max,
                value,
            } => format!(
                "{option} must be a number of milliseconds from {} to {}, got {}",
                num(min.0),
                num(max.0),
                num(value.0)
            ),
            ConfigError::FractionOutOfRange { option, value } => {
                format!(
                    "{option} must be a number from 0 to 1, got {}",
                    num(value.0)
                )
            }
            ConfigError::TooManyRetryPolicies { max } => format!(
                "retry: a pool keeps at most {max} distinct retry settings; build the retry \
                 options once and reuse them instead of new values on every call"
            ),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message_with(|v| JsNumber(v).to_string()))
    }
}

/// A number for a message: `NaN` and `Infinity` spelled as JavaScript spells them, integers
/// without a fraction (`3`), anything else as Rust prints it (JavaScript writes `1e+21` where
/// Rust writes all the digits; the bindings use JavaScript's own printing, see
/// [`ConfigError::message_with`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JsNumber(pub f64);

impl fmt::Display for JsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_nan() {
            f.write_str("NaN")
        } else if v.is_infinite() {
            f.write_str(if v > 0.0 { "Infinity" } else { "-Infinity" })
        } else {
            write!(f, "{v}")
        }
    }
}

/// Validates `maxConnections` alone (also used when the pool is resized).
pub fn max_connections_option(value: f64) -> Result<u32, ConfigError> {
    integer_option("maxConnections", value, 1, MAX_CONNECTIONS_LIMIT)
}

/// Validates a whole number in `min..=max`.
pub fn integer_option(
    option: &'static str,
    value: f64,
    min: u32,
    max: u32,
) -> Result<u32, ConfigError> {
    if value.fract() == 0.0 && value >= f64::from(min) && value <= f64::from(max) {
        Ok(value as u32)
    } else {
        Err(ConfigError::IntegerOutOfRange {
            option,
            min,
            max,
            value: JsNumber(value),
        })
    }
}

/// Validates a timeout in milliseconds: `min..=MAX_TIMEOUT_MS`, or `+Infinity` for none.
pub fn millis_option(
    option: &'static str,
    value: f64,
    min: f64,
) -> Result<Option<Duration>, ConfigError> {
    if value == f64::INFINITY {
        Ok(None)
    } else if value >= min && value <= MAX_TIMEOUT_MS {
        Ok(Some(Duration::from_millis_f64(value)))
    } else {
        Err(ConfigError::MillisOutOfRange {
            option,
            min: JsNumber(min),
            max: JsNumber(MAX_TIMEOUT_MS),
            value: JsNumber(value),
        })
    }
}

/// Validates a finite duration in milliseconds: `min..=MAX_TIMEOUT_MS`.
pub fn finite_millis_option(
    option: &'static str,
    value: f64,
    min: f64,
) -> Result<Duration, ConfigError> {
    if value >= min && value <= MAX_TIMEOUT_MS {
        Ok(Duration::from_millis_f64(value))
    } else {
        Err(ConfigError::FiniteMillisOutOfRange {
            option,
            min: JsNumber(min),
            max: JsNumber(MAX_TIMEOUT_MS),
            value: JsNumber(value),
        })
    }
}

/// Validates a fraction in `0..=1`.
pub fn fraction_option(option: &'static str, value: f64) -> Result<f64, ConfigError> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::FractionOutOfRange {
            option,
            value: JsNumber(value),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_missing_options() {
        assert_eq!(RawConfig::default().validate(), Ok(Config::default()));
    }

    #[test]
    fn the_adaptive_floor_is_bounded_by_max_connections() {
        let raw = RawConfig {
            max_connections: Some(5.0),
            adaptive_min: Some(6.0),
            ..RawConfig::default()
        };
        assert_eq!(
            raw.validate().unwrap_err().to_string(),
            "adaptive.min must be an integer from 1 to 5, got 6"
        );
        let ok = RawConfig {
            adaptive_min: Some(5.0),
            ..raw
        };
        let c = ok.validate().unwrap();
        assert_eq!(c.adaptive_min(), Some(5));
        // Shrinking maxConnections keeps the floor at or below it.
        assert_eq!(c.with_max_connections(3.0).unwrap().adaptive_min(), Some(3));
        assert!(c.with_max_connections(0.0).is_err());
    }

    #[test]
    fn bad_sizes_name_the_option_and_range() {
        for bad in [0.0, -1.0, 2.5, f64::NAN, f64::INFINITY, 1e12] {
            let raw = RawConfig {
                max_connections: Some(bad),
                ..RawConfig::default()
            };
            let msg = raw.validate().unwrap_err().to_string();
            assert!(
                msg.starts_with("maxConnections must be an integer from 1 to 1000000, got "),
                "{msg}"
            );
        }
        let msg = integer_option("maxQueue", f64::NAN, 0, 5)
            .unwrap_err()
            .to_string();
        assert_eq!(msg, "maxQueue must be an integer from 0 to 5, got NaN");
    }

    #[test]
    fn timeouts_accept_infinity_as_none_and_reject_negative() {
        assert_eq!(
            millis_option("queueTimeoutMs", f64::INFINITY, 0.0),
            Ok(None)
        );
        assert_eq!(
            millis_option("queueTimeoutMs", 0.0, 0.0),
            Ok(Some(Duration::ZERO))
        );
        let msg = millis_option("operationTimeoutMs", 0.0, 1.0)
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "operationTimeoutMs must be a number of milliseconds from 1 to 2147483647, or Infinity for no limit, got 0"
        );
        assert!(millis_option("x", -1.0, 0.0).is_err());
        assert!(millis_option("x", f64::NEG_INFINITY, 0.0).is_err());
        assert!(millis_option("x", f64::NAN, 0.0).is_err());
    }

    #[test]
    fn fractions() {
        assert_eq!(fraction_option("jitter", 0.5), Ok(0.5));
        assert!(fraction_option("jitter", 1.5).is_err());
        assert!(fraction_option("jitter", f64::NAN).is_err());
    }
}
