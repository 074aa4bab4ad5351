//! Alerts: the pool watching itself, decided over a sliding window of virtual time.
//!
//! Seed 002 lists the alerts a team should configure in front of a database: the pool at 90% of
//! its capacity, an average response time above 5 s, more than 5% of requests failing, and
//! frequent disconnections. [`Alerts`] decides them, plus queue timeouts, from what the gate
//! already knows, so nobody has to poll stats and guess:
//!
//! | rule | raised when | cleared when |
//! |---|---|---|
//! | [`AlertKind::Saturated`] | active >= 90% of max for 10 s on end | active < 80% of max for 10 s on end |
//! | [`AlertKind::Slow`] | the window's average hold time > 5 s (at least 10 operations) | average <= 4 s, or too few operations |
//! | [`AlertKind::Errors`] | more than 5% of the window's operations failed (at least 10) | 2.5% or less, or too few operations |
//! | [`AlertKind::Disconnects`] | 5 or more connection-class failures in the window | 2 or fewer |
//! | [`AlertKind::QueueTimeouts`] | 1 or more queue timeouts in the window | none left in the window |
//!
//! Every figure is a field of [`AlertConfig`]; the defaults are the seed's. The clear thresholds
//! sit below the raise thresholds (hysteresis), so a figure hovering at the edge raises once and
//! stays raised instead of flapping.
//!
//! ## Window
//! The window (60 s by default) is a ring of [`BUCKETS`] buckets. Recording an outcome adds to
//! the newest bucket and checks the rules: O(1), no allocation. Time only moves when the driver
//! says so: buckets that fell out of the window are dropped lazily, at most [`BUCKETS`] of them
//! per call. The window therefore covers between `window - window / BUCKETS` and `window`.
//!
//! ## Driving it
//! Like the gate, it is sans-IO: feed it `now` with each input, drain [`Alerts::poll_alert`],
//! and arm a timer for [`Alerts::next_deadline`], calling [`Alerts::handle_timeout`] when it
//! fires. The deadline is `None` unless something is pending (saturation waiting to be raised
//! or cleared, or a window alert waiting for its window to drain), so an idle pool needs no
//! timer. Raises of window rules are only decided when an outcome is recorded.

use crate::config::{finite_millis_option, fraction_option, integer_option, ConfigError};
use crate::time::{Duration, Instant};
use std::collections::VecDeque;

/// Buckets in the sliding window.
pub const BUCKETS: usize = 12;

/// Which rule an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// The pool has been at or near its limit for a while (`saturated`).
    Saturated,
    /// Operations hold their slot too long on average (`slow`).
    Slow,
    /// Too large a share of operations failed (`errors`).
    Errors,
    /// Too many connection-class failures (`disconnects`).
    Disconnects,
    /// Callers gave up waiting for a slot (`queue-timeouts`).
    QueueTimeouts,
}

impl AlertKind {
    /// Every kind, in a fixed order.
    pub const ALL: [AlertKind; 5] = [
        AlertKind::Saturated,
        AlertKind::Slow,
        AlertKind::Errors,
        AlertKind::Disconnects,
        AlertKind::QueueTimeouts,
    ];

    /// The name users see: `saturated`, `slow`, `errors`, `disconnects`, `queue-timeouts`.
    pub const fn name(self) -> &'static str {
        match self {
            AlertKind::Saturated => "saturated",
            AlertKind::Slow => "slow",
            AlertKind::Errors => "errors",
            AlertKind::Disconnects => "disconnects",
            AlertKind::QueueTimeouts => "queue-timeouts",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// How a released operation ended, as far as alerts care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded.
    Ok,
    /// It failed for a reason of its own (a constraint, a syntax error, a timeout).
    Failed,
    /// It failed because the connection did (refused, reset, too many clients): counts as an
    /// error and as a disconnect.
    ConnectionFailed,
}

/// Thresholds of every rule. [`Default`] gives the seed's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlertConfig {
    /// Length of the sliding window of the `slow`, `errors`, `disconnects` and `queue-timeouts`
    /// rules. Default 60 s.
    pub window: Duration,
    /// `saturated` is raised when active >= this percent of max... Default 90.
    pub saturated_percent: u32,
    /// ...for this long on end. Default 10 s.
    pub saturated_for: Duration,
    /// `saturated` is cleared when active < this percent of max for `saturated_for`. Default 80.
    pub saturated_clear_percent: u32,
    /// `slow` is raised when the window's average hold time is above this. Default 5 s.
    pub slow_average: Duration,
    /// `slow` is cleared when the average is at or below this. Default 4 s.
    pub slow_clear_average: Duration,
    /// `errors` is raised when more than this share of the window's operations failed, in basis
    /// points (1/100 of a percent). Default 500 (5%).
    pub error_basis_points: u32,
    /// `errors` is cleared at or below this share. Default 250 (2.5%).
    pub error_clear_basis_points: u32,
    /// Fewest operations in the window for `slow` and `errors` to judge. Default 10.
    pub min_operations: u64,
    /// `disconnects` is raised at this many connection-class failures in the window. Default 5.
    pub disconnects: u64,
    /// `disconnects` is cleared at or below this many. Default 2.
    pub disconnects_clear: u64,
    /// `queue-timeouts` is raised at this many queue timeouts in the window (cleared when none
    /// is left in it). Default 1.
    pub queue_timeouts: u64,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            window: Duration::from_millis(60_000),
            saturated_percent: 90,
            saturated_for: Duration::from_millis(10_000),
            saturated_clear_percent: 80,
            slow_average: Duration::from_millis(5_000),
            slow_clear_average: Duration::from_millis(4_000),
            error_basis_points: 500,
            error_clear_basis_points: 250,
            min_operations: 10,
            disconnects: 5,
            disconnects_clear: 2,
            queue_timeouts: 1,
        }
    }
}

/// What the window holds at some instant, plus the pool's level: the figures an alert carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Operations released in the window.
    pub operations: u64,
    /// Of which failed (any class).
    pub failed: u64,
    /// Of which failed with a connection-class error.
    pub disconnects: u64,
    /// Queue timeouts in the window.
    pub queue_timeouts: u64,
    /// Sum of the hold times of the window's operations.
    pub total_hold: Duration,
    /// Slots held at the last grant or release.
    pub active: u32,
    /// The limit at the last grant or release.
    pub limit: u32,
}

impl Figures {
    /// Average hold time of the window's operations (zero when there are none).
    pub fn average_hold(&self) -> Duration {
        match self.operations {
            0 => Duration::ZERO,
            n => Duration::from_micros(self.total_hold.as_micros() / n),
        }
    }
}

/// A rule changed state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alert {
    /// Which rule.
    pub kind: AlertKind,
    /// `true` when raised, `false` when cleared.
    pub raised: bool,
    /// When it was decided.
    pub at: Instant,
    /// For `saturated`: since when the level has been past the threshold (the raise's or the
    /// clear's); for the window rules, the start of the window.
    pub since: Instant,
    /// The figures that decided it.
    pub figures: Figures,
}

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    operations: u64,
    failed: u64,
    disconnects: u64,
    queue_timeouts: u64,
    total_hold: u64,
}

impl Bucket {
    fn add_to(&self, f: &mut Figures, sign_add: bool) {
        let apply = |a: &mut u64, b: u64| {
            *a = if sign_add {
                a.saturating_add(b)
            } else {
                a.saturating_sub(b)
            }
        };
        apply(&mut f.operations, self.operations);
        apply(&mut f.failed, self.failed);
        apply(&mut f.disconnects, self.disconnects);
        apply(&mut f.queue_timeouts, self.queue_timeouts);
        let mut hold = f.total_hold.as_micros();
        apply(&mut hold, self.total_hold);
        f.total_hold = Duration::from_micros(hold);
    }
}

/// The alert rules over a sliding window; see the module docs.
#[derive(Clone, Debug)]
pub struct Alerts {
    config: AlertConfig,
    /// Bucket width in microseconds (at least 1).
    width: u64,
    buckets: [Bucket; BUCKETS],
    /// Index of the newest bucket, and the bucket number (time / width) it stands for.
    head: usize,
    head_number: u64,
    /// Window sums (over every bucket) and the pool's last level.
    sums: Figures,
    raised: [bool; 5],
    /// Since when the level has been at or above the raise threshold (while not raised), or
    /// below the clear threshold (while raised).
    level_since: Option<Instant>,
    events: VecDeque<Alert>,
}

impl Alerts {
    /// Rules with the given thresholds, nothing raised, an empty window.
    pub fn new(config: AlertConfig) -> Alerts {
        let width = (config.window.as_micros() / BUCKETS as u64).max(1);
        Alerts {
            config,
            width,
            buckets: [Bucket::default(); BUCKETS],
            head: 0,
            head_number: 0,
            sums: Figures::default(),
            raised: [false; 5],
            level_since: None,
            events: VecDeque::new(),
        }
    }

    /// The thresholds in force.
    pub fn config(&self) -> &AlertConfig {
        &self.config
    }

    /// Whether `kind` is raised right now.
    pub fn is_raised(&self, kind: AlertKind) -> bool {
        self.raised[kind.index()]
    }

    /// The window's figures as of the last input.
    pub fn figures(&self) -> Figures {
        self.sums
    }

    /// A caller was granted a slot: `active` slots are now held of `limit`.
    pub fn on_grant(&mut self, now: Instant, active: u32, limit: u32) {
        self.advance(now);
        self.set_level(now, active, limit);
    }

    /// An operation released its slot after holding it for `hold`; `active` slots remain held of
    /// `limit`.
    pub fn on_release(
        &mut self,
        now: Instant,
        hold: Duration,
        outcome: Outcome,
        active: u32,
        limit: u32,
    ) {
        self.advance(now);
        let b = &mut self.buckets[self.head];
        b.operations += 1;
        b.total_hold = b.total_hold.saturating_add(hold.as_micros());
        self.sums.operations += 1;
        self.sums.total_hold = Duration::from_micros(
            self.sums
                .total_hold
                .as_micros()
                .saturating_add(hold.as_micros()),
        );
        if outcome != Outcome::Ok {
            b.failed += 1;
            self.sums.failed += 1;
        }
        if outcome == Outcome::ConnectionFailed {
            b.disconnects += 1;
            self.sums.disconnects += 1;
        }
        self.set_level(now, active, limit);
        self.check_window(now);
    }

    /// A caller waited past its queue timeout.
    pub fn on_queue_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.buckets[self.head].queue_timeouts += 1;
        self.sums.queue_timeouts += 1;
        self.check_window(now);
    }

    /// The timer armed for [`Alerts::next_deadline`] fired (a spurious or early call is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.check_level(now);
        self.check_window(now);
    }

    /// The next alert decided, oldest first.
    pub fn poll_alert(&mut self) -> Option<Alert> {
        self.events.pop_front()
    }

    /// When to call [`Alerts::handle_timeout`] next, or `None` when nothing is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        let level = self
            .level_since
            .map(|since| since.saturating_add(self.config.saturated_for));
        let window_raised = AlertKind::ALL[1..].iter().any(|k| self.raised[k.index()]);
        let drain =
            window_raised.then(|| Instant::from_micros((self.head_number + 1) * self.width));
        match (level, drain) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drops the buckets that fell out of the window by `now` (at most [`BUCKETS`]).
    fn advance(&mut self, now: Instant) {
        let number = now.as_micros() / self.width;
        if number <= self.head_number {
            return; // same bucket, or a clock that went back: stay put
        }
        let steps = number - self.head_number;
        if steps >= BUCKETS as u64 {
            self.buckets = [Bucket::default(); BUCKETS];
            let (active, limit) = (self.sums.active, self.sums.limit);
            self.sums = Figures {
                active,
                limit,
                ..Figures::default()
            };
        } else {
            for _ in 0..steps {
                self.head = (self.head + 1) % BUCKETS;
                let old = std::mem::take(&mut self.buckets[self.head]);
                old.add_to(&mut self.sums, false);
            }
        }
        self.head_number = number;
    }

    fn set_level(&mut self, now: Instant, active: u32, limit: u32) {
        self.sums.active = active;
        self.sums.limit = limit;
        let raised = self.raised[AlertKind::Saturated.index()];
        let past = if raised {
            // Below the clear threshold?
            u64::from(active) * 100
                < u64::from(limit) * u64::from(self.config.saturated_clear_percent)
        } else {
            u64::from(active) * 100 >= u64::from(limit) * u64::from(self.config.saturated_percent)
                && limit > 0
        };
        match (past, self.level_since) {
            (true, None) => self.level_since = Some(now),
            (false, Some(_)) => self.level_since = None,
            _ => {}
        }
        self.check_level(now);
    }

    fn check_level(&mut self, now: Instant) {
        if let Some(since) = self.level_since {
            if now.saturating_since(since) >= self.config.saturated_for {
                let raise = !self.raised[AlertKind::Saturated.index()];
                self.level_since = None;
                self.emit(now, AlertKind::Saturated, raise, since);
            }
        }
    }

    fn check_window(&mut self, now: Instant) {
        let c = self.config;
        let f = self.sums;
        let enough = f.operations >= c.min_operations;
        let avg = f.average_hold();
        // basis points of failures, compared without division: failed / ops > bp / 10_000.
        let failed_share =
            |bp: u32| u128::from(f.failed) * 10_000 > u128::from(f.operations) * u128::from(bp);
        let rules = [
            (
                AlertKind::Slow,
                enough && avg > c.slow_average,
                !enough || avg <= c.slow_clear_average,
            ),
            (
                AlertKind::Errors,
                enough && failed_share(c.error_basis_points),
                !enough || !failed_share(c.error_clear_basis_points),
            ),
            (
                AlertKind::Disconnects,
                f.disconnects >= c.disconnects,
                f.disconnects <= c.disconnects_clear,
            ),
            (
                AlertKind::QueueTimeouts,
                f.queue_timeouts >= c.queue_timeouts,
                f.queue_timeouts == 0,
            ),
        ];
        let since = Instant::from_micros(
            (self.head_number + 1)
                .saturating_sub(BUCKETS as u64)
                .saturating_mul(self.width),
        );
        for (kind, raise, clear) in rules {
            let raised = self.raised[kind.index()];
            if !raised && raise {
                self.emit(now, kind, true, since);
            } else if raised && clear {
                self.emit(now, kind, false, since);
            }
        }
    }

    fn emit(&mut self, now: Instant, kind: AlertKind, raised: bool, since: Instant) {
        self.raised[kind.index()] = raised;
        self.events.push_back(Alert {
            kind,
            raised,
            at: now,
            since,
            figures: self.sums,
        });
    }
}

/// Alert options as a JavaScript caller gives them (`alerts: { ... }` in milliseconds,
/// percentages and rates): `None` keeps the default.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RawAlertConfig {
    /// `windowMs`: 1 ms or more.
    pub window_ms: Option<f64>,
    /// `saturatedPercent`: 1 to 100.
    pub saturated_percent: Option<f64>,
    /// `saturatedForMs`: 0 or more.
    pub saturated_for_ms: Option<f64>,
    /// `saturatedClearPercent`: 0 to `saturatedPercent`.
    pub saturated_clear_percent: Option<f64>,
    /// `slowMs`: 0 or more.
    pub slow_ms: Option<f64>,
    /// `slowClearMs`: 0 to `slowMs`.
    pub slow_clear_ms: Option<f64>,
    /// `errorRate`: 0 to 1.
    pub error_rate: Option<f64>,
    /// `errorClearRate`: 0 to `errorRate`.
    pub error_clear_rate: Option<f64>,
    /// `minOperations`: 1 or more.
    pub min_operations: Option<f64>,
    /// `disconnects`: 1 or more.
    pub disconnects: Option<f64>,
    /// `disconnectsClear`: 0 to `disconnects - 1`.
    pub disconnects_clear: Option<f64>,
    /// `queueTimeouts`: 1 or more.
    pub queue_timeouts: Option<f64>,
}

/// Why alert options were refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AlertConfigError {
    /// One option out of its range.
    #[error("{0}")]
    Option(#[from] ConfigError),
    /// A clear threshold above its raise threshold: the alert could flap.
    #[error("{clear} must not be above {raise} (the clear threshold sits below the raise threshold, so an alert cannot flap)")]
    ClearAboveRaise {
        /// The clear option's name.
        clear: &'static str,
        /// The raise option's name.
        raise: &'static str,
    },
}

/// Largest count accepted by the alert options.
const ALERT_COUNT_LIMIT: u32 = 1_000_000_000;

impl RawAlertConfig {
    /// Checks every option (named as the user spells it) and fills in the defaults.
    pub fn validate(&self) -> Result<AlertConfig, AlertConfigError> {
        let d = AlertConfig::default();
        let ms = |name, v: Option<f64>, min, default| -> Result<Duration, ConfigError> {
            v.map_or(Ok(default), |v| finite_millis_option(name, v, min))
        };
        let int = |name, v: Option<f64>, min, max, default| -> Result<u32, ConfigError> {
            v.map_or(Ok(default), |v| integer_option(name, v, min, max))
        };
        let rate = |name, v: Option<f64>, default| -> Result<u32, ConfigError> {
            v.map_or(Ok(default), |v| {
                fraction_option(name, v).map(|f| (f * 10_000.0).round() as u32)
            })
        };
        let c = AlertConfig {
            window: ms("windowMs", self.window_ms, 1.0, d.window)?,
            saturated_percent: int("saturatedPercent", self.saturated_percent, 1, 100, 90)?,
            saturated_for: ms(
                "saturatedForMs",
                self.saturated_for_ms,
                0.0,
                d.saturated_for,
            )?,
            saturated_clear_percent: int(
                "saturatedClearPercent",
                self.saturated_clear_percent,
                0,
                100,
                80,
            )?,
            slow_average: ms("slowMs", self.slow_ms, 0.0, d.slow_average)?,
            slow_clear_average: ms("slowClearMs", self.slow_clear_ms, 0.0, d.slow_clear_average)?,
            error_basis_points: rate("errorRate", self.error_rate, d.error_basis_points)?,
            error_clear_basis_points: rate(
                "errorClearRate",
                self.error_clear_rate,
                d.error_clear_basis_points,
            )?,
            min_operations: u64::from(int(
                "minOperations",
                self.min_operations,
                1,
                ALERT_COUNT_LIMIT,
                10,
            )?),
            disconnects: u64::from(int(
                "disconnects",
                self.disconnects,
                1,
                ALERT_COUNT_LIMIT,
                5,
            )?),
            disconnects_clear: u64::from(int(
                "disconnectsClear",
                self.disconnects_clear,
                0,
                ALERT_COUNT_LIMIT,
                2,
            )?),
            queue_timeouts: u64::from(int(
                "queueTimeouts",
                self.queue_timeouts,
                1,
                ALERT_COUNT_LIMIT,
                1,
            )?),
        };
        let check = |ok: bool, clear, raise| {
            if ok {
                Ok(())
            } else {
                Err(AlertConfigError::ClearAboveRaise { clear, raise })
            }
        };
        check(
            c.saturated_clear_percent <= c.saturated_percent,
            "saturatedClearPercent",
            "saturatedPercent",
        )?;
        check(
            c.slow_clear_average <= c.slow_average,
            "slowClearMs",
            "slowMs",
        )?;
        check(
            c.error_clear_basis_points <= c.error_basis_points,
            "errorClearRate",
            "errorRate",
        )?;
        check(
            c.disconnects_clear < c.disconnects,
            "disconnectsClear",
            "disconnects - 1",
        )?;
        Ok(c)
    }
}
