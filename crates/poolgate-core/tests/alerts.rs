//! The alert rules, one at a time, on a fake clock: each is raised, held, cleared, and does not
//! flap when its figure hovers at the edge; an idle pool has no deadline.

use poolgate_core::alerts::{Alert, AlertConfig, AlertKind, Alerts, Outcome};
use poolgate_core::{Duration, Instant};

fn ms(t: u64) -> Instant {
    Instant::from_micros(t * 1000)
}

fn drain(a: &mut Alerts) -> Vec<Alert> {
    std::iter::from_fn(|| a.poll_alert()).collect()
}

/// (kind, raised, at in ms) of each alert, for compact assertions.
fn summary(alerts: &[Alert]) -> Vec<(&'static str, bool, u64)> {
    alerts
        .iter()
        .map(|a| (a.kind.name(), a.raised, a.at.as_micros() / 1000))
        .collect()
}

/// Drives the timer as a driver would: jump to each deadline up to `until`.
fn run_timers(a: &mut Alerts, until: Instant) -> Vec<Alert> {
    let mut out = Vec::new();
    while let Some(d) = a.next_deadline() {
        if d > until {
            break;
        }
        a.handle_timeout(d);
        out.extend(drain(a));
    }
    out
}

#[test]
fn saturated_is_raised_after_holding_ten_seconds_then_cleared() {
    let mut a = Alerts::new(AlertConfig::default());
    // 14 of 15 is 93%: at or above 90%.
    a.on_grant(ms(0), 14, 15);
    assert!(drain(&mut a).is_empty());
    assert_eq!(a.next_deadline(), Some(ms(10_000)));
    // Still saturated at 9.999 s: nothing yet.
    a.handle_timeout(ms(9_999));
    assert!(drain(&mut a).is_empty());
    let raised = run_timers(&mut a, ms(20_000));
    assert_eq!(summary(&raised), [("saturated", true, 10_000)]);
    assert_eq!(raised[0].since, ms(0));
    assert_eq!(
        (raised[0].figures.active, raised[0].figures.limit),
        (14, 15)
    );
    // Held: nothing pending while it stays saturated.
    assert_eq!(a.next_deadline(), None);
    a.on_grant(ms(15_000), 15, 15);
    assert!(drain(&mut a).is_empty());
    // Down to 10 of 15 (67%, below 80%) at 20 s: cleared 10 s later if it stays there.
    a.on_release(ms(20_000), Duration::from_millis(5), Outcome::Ok, 10, 15);
    assert_eq!(a.next_deadline(), Some(ms(30_000)));
    let cleared = run_timers(&mut a, ms(60_000));
    assert_eq!(summary(&cleared), [("saturated", false, 30_000)]);
    assert_eq!(cleared[0].since, ms(20_000));
    assert_eq!(cleared[0].figures.active, 10);
    assert!(!a.is_raised(AlertKind::Saturated));
}

#[test]
fn saturated_needs_the_level_on_end() {
    let mut a = Alerts::new(AlertConfig::default());
    // At 90% for 9 s, dips to 80% (below 90) for an instant, back up: the clock restarts.
    a.on_grant(ms(0), 9, 10);
    a.on_release(ms(9_000), Duration::from_millis(1), Outcome::Ok, 8, 10);
    assert_eq!(a.next_deadline(), None);
    a.on_grant(ms(9_001), 9, 10);
    assert_eq!(a.next_deadline(), Some(ms(19_001)));
    assert!(run_timers(&mut a, ms(19_000)).is_empty());
    assert_eq!(
        summary(&run_timers(&mut a, ms(19_001))),
        [("saturated", true, 19_001)]
    );
}

#[test]
fn saturated_does_not_flap_between_the_thresholds() {
    let mut a = Alerts::new(AlertConfig::default());
    a.on_grant(ms(0), 10, 10);
    assert_eq!(run_timers(&mut a, ms(10_000)).len(), 1);
    // Hovering between 80% and 90% (8 and 9 of 10) for a minute: still raised, nothing emitted,
    // no timer.
    for i in 0..60 {
        let active = if i % 2 == 0 { 8 } else { 9 };
        a.on_release(
            ms(10_000 + i * 1000),
            Duration::from_millis(1),
            Outcome::Ok,
            active,
            10,
        );
        a.on_grant(ms(10_000 + i * 1000 + 500), 9, 10);
        assert_eq!(a.next_deadline(), None);
    }
    assert!(drain(&mut a).is_empty());
    assert!(a.is_raised(AlertKind::Saturated));
    // 7 of 10 is below 80%, but back to 8 after 9 s: not cleared; the clock restarts.
    a.on_release(ms(80_000), Duration::from_millis(1), Outcome::Ok, 7, 10);
    a.on_grant(ms(89_000), 8, 10);
    assert!(run_timers(&mut a, ms(200_000)).is_empty());
    assert!(a.is_raised(AlertKind::Saturated));
}

#[test]
fn slow_is_raised_on_the_window_average_and_cleared_by_the_window_draining() {
    let mut a = Alerts::new(AlertConfig::default());
    // Nine 6 s operations: too few to judge (10 needed).
    for i in 0..9 {
        a.on_release(
            ms(i * 100),
            Duration::from_millis(6_000),
            Outcome::Ok,
            1,
            10,
        );
    }
    assert!(drain(&mut a).is_empty());
    assert_eq!(a.next_deadline(), None);
    a.on_release(ms(1_000), Duration::from_millis(6_000), Outcome::Ok, 0, 10);
    let raised = drain(&mut a);
    assert_eq!(summary(&raised), [("slow", true, 1_000)]);
    assert_eq!(raised[0].figures.operations, 10);
    assert_eq!(
        raised[0].figures.average_hold(),
        Duration::from_millis(6_000)
    );
    // Idle from here: the window drains; the deadline walks the buckets (5 s each) until the
    // operations fall out and the alert clears; then nothing is pending.
    let cleared = run_timers(&mut a, ms(120_000));
    assert_eq!(summary(&cleared), [("slow", false, 60_000)]);
    assert_eq!(cleared[0].figures.operations, 0);
    assert_eq!(a.next_deadline(), None);
}

#[test]
fn slow_does_not_flap_between_four_and_five_seconds() {
    let mut a = Alerts::new(AlertConfig::default());
    for i in 0..10 {
        a.on_release(ms(i), Duration::from_millis(5_001), Outcome::Ok, 0, 10);
    }
    assert_eq!(summary(&drain(&mut a)), [("slow", true, 9)]);
    // Fast operations bring the average down to 4.5 s: above the 4 s clear threshold.
    for i in 0..1 {
        a.on_release(
            ms(100 + i),
            Duration::from_millis(1_000),
            Outcome::Ok,
            0,
            10,
        );
    }
    assert!(drain(&mut a).is_empty());
    assert!(a.is_raised(AlertKind::Slow));
    // More fast ones: average 50,010 + 3 s over 14 = 3.79 s, at or below 4 s: cleared once.
    for i in 0..3 {
        a.on_release(
            ms(200 + i),
            Duration::from_millis(1_000),
            Outcome::Ok,
            0,
            10,
        );
    }
    let cleared = drain(&mut a);
    assert_eq!(summary(&cleared), [("slow", false, 202)]);
    assert_eq!(cleared[0].figures.operations, 14);
}

#[test]
fn errors_are_raised_above_five_percent_and_cleared_at_half_that() {
    let mut a = Alerts::new(AlertConfig::default());
    // 100 operations, 5 failed: exactly 5% is not "more than 5%".
    for i in 0..100 {
        // The 20th, 40th, ... fail: the share touches 5% exactly, never more.
        let o = if i % 20 == 19 {
            Outcome::Failed
        } else {
            Outcome::Ok
        };
        a.on_release(ms(i), Duration::from_millis(1), o, 0, 10);
    }
    assert!(drain(&mut a).is_empty(), "5 of 100 is not more than 5%");
    a.on_release(ms(100), Duration::from_millis(1), Outcome::Failed, 0, 10);
    let raised = drain(&mut a);
    assert_eq!(summary(&raised), [("errors", true, 100)]);
    assert_eq!(
        (raised[0].figures.failed, raised[0].figures.operations),
        (6, 101)
    );
    // Successes dilute it: 6 of 200 is 3%, still above 2.5%: held.
    for i in 0..99 {
        a.on_release(ms(200 + i), Duration::from_millis(1), Outcome::Ok, 0, 10);
    }
    assert!(drain(&mut a).is_empty());
    // 6 of 240 is exactly 2.5%: cleared.
    for i in 0..40 {
        a.on_release(ms(400 + i), Duration::from_millis(1), Outcome::Ok, 0, 10);
    }
    let cleared = drain(&mut a);
    assert_eq!(summary(&cleared), [("errors", false, 439)]);
    assert_eq!(
        (cleared[0].figures.failed, cleared[0].figures.operations),
        (6, 240)
    );
}

#[test]
fn errors_at_the_edge_do_not_flap() {
    let mut a = Alerts::new(AlertConfig::default());
    for i in 0..20 {
        let o = if i < 2 { Outcome::Failed } else { Outcome::Ok };
        a.on_release(ms(i), Duration::from_millis(1), o, 0, 10);
    }
    // Judged from the 10th operation on: 2 of 10.
    assert_eq!(summary(&drain(&mut a)), [("errors", true, 9)]);
    // Hovering around 4-6% failed for a long stretch: raised once, never cleared or re-raised.
    for i in 0..2_000u64 {
        let o = if i % 20 == 0 {
            Outcome::Failed
        } else {
            Outcome::Ok
        };
        a.on_release(ms(100 + i), Duration::from_millis(1), o, 0, 10);
    }
    assert!(drain(&mut a).is_empty());
    assert!(a.is_raised(AlertKind::Errors));
}

#[test]
fn disconnects_count_connection_failures_in_the_window() {
    let mut a = Alerts::new(AlertConfig::default());
    // Four connection failures among many successes: errors stays quiet (under 5%), and four
    // is under the disconnects threshold.
    for i in 0..200 {
        a.on_release(ms(i), Duration::from_millis(1), Outcome::Ok, 0, 10);
    }
    for i in 0..4 {
        a.on_release(
            ms(300 + i * 1000),
            Duration::from_millis(1),
            Outcome::ConnectionFailed,
            0,
            10,
        );
    }
    assert!(drain(&mut a).is_empty());
    a.on_release(
        ms(5_000),
        Duration::from_millis(1),
        Outcome::ConnectionFailed,
        0,
        10,
    );
    let raised = drain(&mut a);
    assert_eq!(summary(&raised), [("disconnects", true, 5_000)]);
    assert_eq!(
        (raised[0].figures.disconnects, raised[0].figures.failed),
        (5, 5)
    );
    // A plain failure is not a disconnect.
    a.on_release(ms(6_000), Duration::from_millis(1), Outcome::Failed, 0, 10);
    assert_eq!(a.figures().disconnects, 5);
    // The window drains bucket by bucket (5 s each): the four failures of the first bucket
    // leave it at 60 s, one is left (at most 2): cleared.
    let cleared = run_timers(&mut a, ms(200_000));
    assert_eq!(summary(&cleared), [("disconnects", false, 60_000)]);
    assert_eq!(cleared[0].figures.disconnects, 1);
    assert_eq!(a.next_deadline(), None);
}

#[test]
fn queue_timeouts_raise_at_once_and_clear_when_the_window_has_none() {
    let mut a = Alerts::new(AlertConfig::default());
    a.on_queue_timeout(ms(1_000));
    a.on_queue_timeout(ms(2_000));
    let raised = drain(&mut a);
    assert_eq!(summary(&raised), [("queue-timeouts", true, 1_000)]);
    assert_eq!(raised[0].figures.queue_timeouts, 1);
    // Another at 30 s holds it; it clears when that one leaves the window.
    a.on_queue_timeout(ms(30_000));
    assert!(run_timers(&mut a, ms(89_999)).is_empty());
    let cleared = run_timers(&mut a, ms(200_000));
    assert_eq!(summary(&cleared), [("queue-timeouts", false, 90_000)]);
    assert_eq!(a.next_deadline(), None);
}

#[test]
fn an_idle_pool_needs_no_timer() {
    let mut a = Alerts::new(AlertConfig::default());
    assert_eq!(a.next_deadline(), None);
    // Busy but healthy: outcomes in the window, nothing raised, nothing pending.
    for i in 0..1_000 {
        a.on_grant(ms(i), 3, 10);
        a.on_release(ms(i), Duration::from_millis(2), Outcome::Ok, 2, 10);
    }
    assert_eq!(a.next_deadline(), None);
    assert!(drain(&mut a).is_empty());
    // A spurious timeout changes nothing.
    a.handle_timeout(ms(5_000));
    assert!(drain(&mut a).is_empty());
}

#[test]
fn a_long_jump_empties_the_window_and_a_clock_going_back_is_harmless() {
    let mut a = Alerts::new(AlertConfig::default());
    a.on_queue_timeout(ms(1_000));
    assert_eq!(drain(&mut a).len(), 1);
    // A day later, in one call.
    a.handle_timeout(ms(86_400_000));
    assert_eq!(
        summary(&drain(&mut a)),
        [("queue-timeouts", false, 86_400_000)]
    );
    assert_eq!(a.figures().queue_timeouts, 0);
    // Then a reading from the past: counted in the current bucket, nothing breaks.
    a.on_queue_timeout(ms(10));
    assert_eq!(summary(&drain(&mut a)), [("queue-timeouts", true, 10)]);
    assert_eq!(a.figures().queue_timeouts, 1);
}

#[test]
fn thresholds_are_configurable() {
    let config = AlertConfig {
        window: Duration::from_millis(1_200),
        saturated_percent: 50,
        saturated_for: Duration::from_millis(100),
        saturated_clear_percent: 25,
        queue_timeouts: 3,
        ..AlertConfig::default()
    };
    let mut a = Alerts::new(config);
    a.on_grant(ms(0), 5, 10);
    assert_eq!(
        summary(&run_timers(&mut a, ms(1_000))),
        [("saturated", true, 100)]
    );
    a.on_queue_timeout(ms(200));
    a.on_queue_timeout(ms(300));
    assert!(drain(&mut a).is_empty());
    a.on_queue_timeout(ms(400));
    assert_eq!(summary(&drain(&mut a)), [("queue-timeouts", true, 400)]);
    // A 1.2 s window of 100 ms buckets: the last timeout (bucket 4) leaves at 1.6 s.
    assert_eq!(
        summary(&run_timers(&mut a, ms(10_000))),
        [("queue-timeouts", false, 1_600)]
    );
}

#[test]
fn raw_options_are_checked_by_name_and_clear_thresholds_stay_below_raise() {
    use poolgate_core::alerts::RawAlertConfig;
    assert_eq!(
        RawAlertConfig::default().validate(),
        Ok(AlertConfig::default())
    );
    let c = RawAlertConfig {
        saturated_for_ms: Some(200.0),
        error_rate: Some(0.1),
        error_clear_rate: Some(0.05),
        ..RawAlertConfig::default()
    }
    .validate()
    .unwrap();
    assert_eq!(c.saturated_for, Duration::from_millis(200));
    assert_eq!(
        (c.error_basis_points, c.error_clear_basis_points),
        (1000, 500)
    );
    let msg = |r: RawAlertConfig| r.validate().unwrap_err().to_string();
    assert_eq!(
        msg(RawAlertConfig {
            saturated_percent: Some(0.0),
            ..RawAlertConfig::default()
        }),
        "saturatedPercent must be an integer from 1 to 100, got 0"
    );
    assert_eq!(
        msg(RawAlertConfig {
            saturated_clear_percent: Some(95.0),
            ..RawAlertConfig::default()
        }),
        "saturatedClearPercent must not be above saturatedPercent (the clear threshold sits below the raise threshold, so an alert cannot flap)"
    );
    assert_eq!(
        msg(RawAlertConfig {
            error_rate: Some(1.5),
            ..RawAlertConfig::default()
        }),
        "errorRate must be a number from 0 to 1, got 1.5"
    );
    assert!(msg(RawAlertConfig {
        window_ms: Some(f64::NAN),
        ..RawAlertConfig::default()
    })
    .starts_with("windowMs must be a number of milliseconds"));
    assert!(msg(RawAlertConfig {
        disconnects: Some(2.0),
        disconnects_clear: Some(2.0),
        ..RawAlertConfig::default()
    })
    .starts_with("disconnectsClear must not be above disconnects - 1"));
}
