//! Behaviour of the gate, one semantic per test, driven with a fake clock. Every step checks the
//! gate's invariants and that its stats match what the test expects.

use poolgate_core::{
    Cancelled, Config, Duration, ErrorClass, Event, Gate, GiveUp, Instant, OperationTimeout,
    Outcome, RawConfig, RawRetryPolicy, Rejected, Released, Request, RetryPolicy, Submitted,
    Ticket,
};

/// A configuration from options as JavaScript gives them (milliseconds, `None` for default).
fn config(f: impl FnOnce(&mut RawConfig)) -> Config {
    let mut raw = RawConfig::default();
    f(&mut raw);
    raw.validate().expect("valid test configuration")
}

/// A gate plus a fake clock, checking invariants after every call.
struct Harness {
    gate: Gate,
    now: Instant,
}

impl Harness {
    fn new(config: Config) -> Harness {
        Harness {
            gate: Gate::new(config),
            now: Instant::ZERO,
        }
    }

    fn with(max_connections: u32, max_queue: u32, queue_timeout_ms: Option<u64>) -> Harness {
        Harness::new(config(|c| {
            c.max_connections = Some(f64::from(max_connections));
            c.max_queue = Some(f64::from(max_queue));
            c.queue_timeout_ms = Some(queue_timeout_ms.map_or(f64::INFINITY, |ms| ms as f64));
        }))
    }

    fn check(&self) {
        if let Err(e) = self.gate.check_invariants() {
            panic!("invariant broken at {:?}: {e}", self.now);
        }
    }

    fn submit(&mut self) -> Result<Submitted, Rejected> {
        self.submit_with(Request::default())
    }

    fn submit_with(&mut self, request: Request) -> Result<Submitted, Rejected> {
        let r = self.gate.submit(self.now, request);
        self.check();
        r
    }

    fn granted(&mut self) -> Ticket {
        match self.submit() {
            Ok(Submitted::Granted(t) | Submitted::GrantedNoDeadline(t)) => t,
            other => panic!("expected an immediate grant, got {other:?}"),
        }
    }

    fn queued(&mut self) -> Ticket {
        match self.submit() {
            Ok(Submitted::Queued(t)) => t,
            other => panic!("expected to queue, got {other:?}"),
        }
    }

    fn retry_policy(&mut self, raw: RawRetryPolicy) -> poolgate_core::RetryPolicyId {
        let policy = RetryPolicy::from_raw(&raw).expect("valid retry options");
        self.gate
            .register_retry_policy(policy)
            .expect("room for a policy")
    }

    fn submit_retrying(
        &mut self,
        retry: poolgate_core::RetryPolicyId,
        idempotent: bool,
    ) -> Submitted {
        self.submit_with(Request {
            retry: Some(retry),
            idempotent,
            ..Request::default()
        })
        .expect("accepted")
    }

    /// A call with a retry policy that is granted at once, fails (not sent) and backs off.
    fn retried(&mut self, retry: poolgate_core::RetryPolicyId, idempotent: bool) -> Ticket {
        let t = match self.submit_retrying(retry, idempotent) {
            Submitted::Granted(t) | Submitted::GrantedNoDeadline(t) => t,
            other => panic!("expected a grant, got {other:?}"),
        };
        let r = self.fail(t, ErrorClass::NotSent);
        assert!(matches!(r, Released::Retrying { .. }), "{r:?}");
        t
    }

    fn fail(&mut self, t: Ticket, class: ErrorClass) -> Released {
        let r = self
            .gate
            .release_with(self.now, t, Outcome::Failed(class), 0.0)
            .expect("held");
        self.check();
        r
    }

    fn release(&mut self, t: Ticket) -> Released {
        let r = self.gate.release(self.now, t, true).expect("release");
        self.check();
        r
    }

    /// Moves the clock by `ms` and fires what is due.
    fn advance_ms(&mut self, ms: u64) {
        self.now = self.now.saturating_add(Duration::from_millis(ms));
        self.gate.handle_timeout(self.now);
        self.check();
    }

    /// Jumps to the next deadline, like a driver's timer would.
    fn fire_next_timer(&mut self) -> bool {
        match self.gate.poll_timeout() {
            Some(at) => {
                self.now = self.now.max(at);
                self.gate.handle_timeout(self.now);
                self.check();
                true
            }
            None => false,
        }
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.gate.poll_event()).collect()
    }

    /// (active, queued, available)
    fn stats(&self) -> (u32, u32, u32) {
        let s = self.gate.stats();
        assert_eq!(
            s.available_connections,
            s.max_connections.saturating_sub(s.active_connections)
        );
        (
            s.active_connections,
            s.queued_connections,
            s.available_connections,
        )
    }
}

#[test]
fn grants_in_strict_arrival_order() {
    let mut h = Harness::with(2, 100, None);
    let a = h.granted();
    let b = h.granted();
    let waiting: Vec<Ticket> = (0..5).map(|_| h.queued()).collect();
    assert_eq!(h.stats(), (2, 5, 0));
    let mut order = Vec::new();
    let mut running = vec![a, b];
    while let Some(t) = running.pop() {
        h.release(t);
        for e in h.events() {
            let Event::Granted(g) = e else {
                panic!("unexpected {e:?}")
            };
            order.push(g);
            running.insert(0, g);
        }
    }
    assert_eq!(order, waiting);
    assert_eq!(h.stats(), (0, 0, 2));
}

#[test]
fn a_newcomer_never_overtakes_a_waiter() {
    let mut h = Harness::with(1, 10, None);
    let a = h.granted();
    let w = h.queued();
    h.release(a);
    assert_eq!(h.events(), vec![Event::Granted(w)]);
    // The slot went to the waiter, so the newcomer queues even though it arrived "at" release.
    let late = h.queued();
    h.release(w);
    assert_eq!(h.events(), vec![Event::Granted(late)]);
}

#[test]
fn queue_full_fails_fast_and_the_pool_keeps_working() {
    let mut h = Harness::with(1, 2, None);
    let a = h.granted();
    h.queued();
    h.queued();
    assert_eq!(h.submit(), Err(Rejected::QueueFull { max_queue: 2 }));
    assert_eq!(h.gate.metrics().rejected_full, 1);
    assert_eq!(h.stats(), (1, 2, 0));
    h.release(a);
    assert_eq!(h.stats(), (1, 1, 0));
    h.queued();
}

#[test]
fn queue_timeout_rejects_at_the_deadline_and_is_never_followed_by_a_grant() {
    let mut h = Harness::with(1, 10, Some(100));
    let a = h.granted();
    let w = h.queued();
    assert_eq!(
        h.gate.poll_timeout(),
        Some(Instant::ZERO.saturating_add(Duration::from_millis(100)))
    );
    h.advance_ms(99);
    assert_eq!(h.events(), vec![]);
    h.advance_ms(1);
    assert_eq!(
        h.events(),
        vec![Event::QueueTimeout {
            ticket: w,
            waited: Duration::from_millis(100)
        }]
    );
    assert_eq!(h.stats(), (1, 0, 0));
    h.release(a);
    assert_eq!(
        h.events(),
        vec![],
        "the timed-out waiter must never be granted"
    );
    assert!(
        h.gate.release(h.now, w, true).is_err(),
        "its ticket is dead"
    );
    assert_eq!(h.gate.poll_timeout(), None, "no timer left once idle");
}

#[test]
fn a_late_timer_still_rejects_rather_than_grants_an_expired_waiter() {
    let mut h = Harness::with(1, 10, Some(100));
    let a = h.granted();
    let w = h.queued();
    // The driver's timer is 50 ms late and the release arrives first.
    h.now = Instant::ZERO.saturating_add(Duration::from_millis(150));
    h.release(a);
    assert_eq!(
        h.events(),
        vec![Event::QueueTimeout {
            ticket: w,
            waited: Duration::from_millis(150)
        }]
    );
    assert_eq!(h.stats(), (0, 0, 1));
}

#[test]
fn operation_timeout_keeps_the_slot_as_a_zombie_until_the_operation_settles() {
    let mut h = Harness::new(config(|c| {
        c.max_connections = Some(1.0);
        c.operation_timeout_ms = Some(30.0);
        c.queue_timeout_ms = Some(f64::INFINITY);
    }));
    let slow = h.granted();
    let next = h.queued();
    assert!(h.fire_next_timer());
    assert_eq!(h.events(), vec![Event::OperationTimeout(slow)]);
    // The query still holds its database connection: nobody else may start.
    assert_eq!(h.stats(), (1, 1, 0));
    assert_eq!(h.gate.metrics().zombies, 1);
    h.advance_ms(1000);
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.release(slow), Released::ZombieEnded);
    assert_eq!(h.events(), vec![Event::Granted(next)]);
    assert_eq!(h.gate.metrics().zombies, 0);
    assert_eq!(h.gate.metrics().operation_timeouts, 1);
}

#[test]
fn release_on_timeout_frees_the_slot_at_the_deadline_when_asked() {
    let mut h = Harness::new(config(|c| {
        c.max_connections = Some(1.0);
        c.operation_timeout_ms = Some(30.0);
        c.release_on_timeout = Some(true);
        c.queue_timeout_ms = Some(f64::INFINITY);
    }));
    let slow = h.granted();
    let next = h.queued();
    assert!(h.fire_next_timer());
    assert_eq!(
        h.events(),
        vec![Event::OperationTimeout(slow), Event::Granted(next)]
    );
    assert_eq!(h.release(slow), Released::AlreadyFreed);
    assert_eq!(h.stats(), (1, 0, 0), "the late settle frees nothing twice");
    h.release(next);
    assert_eq!(h.stats(), (0, 0, 1));
}

#[test]
fn per_call_timeout_overrides_the_pool_default() {
    let mut h = Harness::with(2, 10, None);
    let r = h.submit_with(Request {
        operation_timeout: OperationTimeout::After(Duration::from_millis(5)),
        ..Request::default()
    });
    let t = r.unwrap().ticket();
    assert!(h.fire_next_timer());
    assert_eq!(h.events(), vec![Event::OperationTimeout(t)]);
    assert_eq!(h.now.as_micros(), 5000);
}

#[test]
fn abort_removes_a_queued_waiter_at_once() {
    let mut h = Harness::with(1, 10, Some(1000));
    let a = h.granted();
    let w1 = h.queued();
    let w2 = h.queued();
    assert_eq!(h.gate.cancel(h.now, w1), Ok(Cancelled::Removed));
    h.check();
    assert_eq!(h.stats(), (1, 1, 0));
    h.release(a);
    assert_eq!(h.events(), vec![Event::Granted(w2)]);
    assert_eq!(h.gate.metrics().aborted, 1);
    // Cancelling twice, or cancelling a dead ticket, changes nothing.
    assert!(h.gate.cancel(h.now, w1).is_err());
    assert_eq!(h.stats(), (1, 0, 0));
}

#[test]
fn a_granted_waiter_that_is_cancelled_gives_its_slot_to_the_next() {
    let mut h = Harness::with(1, 10, None);
    let a = h.granted();
    let w1 = h.queued();
    let w2 = h.queued();
    h.release(a);
    assert_eq!(h.events(), vec![Event::Granted(w1)]);
    // The caller of w1 aborted before its operation could start: the driver cancels and
    // releases it, and the slot goes on to w2.
    assert_eq!(h.gate.cancel(h.now, w1), Ok(Cancelled::NowZombie));
    assert_eq!(h.release(w1), Released::ZombieEnded);
    assert_eq!(h.events(), vec![Event::Granted(w2)]);
    assert_eq!(h.stats(), (1, 0, 0));
}

#[test]
fn close_rejects_every_waiter_at_once_and_refuses_new_work() {
    let mut h = Harness::with(2, 10, Some(1000));
    let retry = h.retry_policy(RawRetryPolicy::default());
    let a = h.granted();
    let sleeper = h.retried(retry, false);
    let b = h.granted();
    let waiters: Vec<Ticket> = (0..3).map(|_| h.queued()).collect();
    h.gate.close(h.now);
    h.check();
    let mut expected: Vec<Event> = waiters.iter().map(|&t| Event::Closed(t)).collect();
    expected.push(Event::Closed(sleeper));
    assert_eq!(h.events(), expected);
    assert_eq!(h.submit(), Err(Rejected::Closed));
    assert_eq!(h.stats(), (2, 0, 0));
    // The running operations still settle normally, and nothing is granted after close.
    h.release(a);
    h.release(b);
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.stats(), (0, 0, 2));
    assert_eq!(h.gate.poll_timeout(), None);
}

#[test]
fn growing_the_limit_grants_waiters_and_shrinking_waits_for_running_work() {
    let mut h = Harness::with(1, 10, None);
    let a = h.granted();
    let w: Vec<Ticket> = (0..3).map(|_| h.queued()).collect();
    h.gate.set_max_connections(h.now, 3.0).unwrap();
    h.check();
    assert_eq!(h.events(), vec![Event::Granted(w[0]), Event::Granted(w[1])]);
    assert_eq!(h.stats(), (3, 1, 0));
    h.gate.set_max_connections(h.now, 1.0).unwrap();
    h.check();
    assert_eq!(h.stats(), (3, 1, 0));
    h.release(a);
    h.release(w[0]);
    assert_eq!(h.events(), vec![], "still at the new limit of 1");
    h.release(w[1]);
    assert_eq!(h.events(), vec![Event::Granted(w[2])]);
    assert!(h.gate.set_max_connections(h.now, 0.0).is_err());
    assert!(h.gate.set_max_connections(h.now, 1.5).is_err());
    assert_eq!(
        h.gate.config().max_connections(),
        1,
        "a bad resize changes nothing"
    );
}

#[test]
fn zero_queue_timeout_means_do_not_wait() {
    let mut h = Harness::with(1, 10, Some(0));
    let _a = h.granted();
    assert_eq!(h.submit(), Err(Rejected::NoWait));
    assert_eq!(h.gate.metrics().queue_timeouts, 1);
}

#[test]
fn an_overall_deadline_bounds_the_wait() {
    let mut h = Harness::with(1, 10, Some(10_000));
    let _a = h.granted();
    let t = h
        .submit_with(Request {
            operation_timeout: OperationTimeout::PoolDefault,
            deadline: Some(Instant::ZERO.saturating_add(Duration::from_millis(20))),
            ..Request::default()
        })
        .unwrap()
        .ticket();
    assert!(h.fire_next_timer());
    assert_eq!(h.now.as_micros(), 20_000);
    assert!(matches!(h.events()[..], [Event::QueueTimeout { ticket, .. }] if ticket == t));
}

#[test]
fn stale_and_bogus_tickets_are_refused() {
    let mut h = Harness::with(1, 10, None);
    let a = h.granted();
    h.release(a);
    assert!(h.gate.release(h.now, a, true).is_err(), "double release");
    assert!(h
        .gate
        .release(h.now, Ticket::from_bits(u64::MAX), true)
        .is_err());
    let b = h.granted();
    assert!(
        h.gate.release(h.now, a, true).is_err(),
        "stale ticket, reused slot"
    );
    assert_eq!(h.stats(), (1, 0, 0));
    h.release(b);
}

#[test]
fn wait_and_hold_times_are_measured() {
    let mut h = Harness::with(1, 10, None);
    let a = h.granted();
    let w = h.queued();
    h.advance_ms(40);
    h.release(a);
    h.events();
    h.advance_ms(10);
    h.release(w);
    let m = h.gate.metrics();
    assert_eq!(m.wait.count, 2);
    assert_eq!(m.wait.max, Duration::from_millis(40));
    assert_eq!(m.hold.max, Duration::from_millis(40));
    assert_eq!(m.succeeded, 2);
    assert_eq!(m.granted, 2);
    assert_eq!(m.peak_queued, 1);
}

#[test]
fn a_clock_that_goes_backwards_cannot_unexpire_anything() {
    let mut h = Harness::with(1, 10, Some(100));
    let _a = h.granted();
    let w = h.queued();
    h.advance_ms(100);
    assert!(matches!(h.events()[..], [Event::QueueTimeout { ticket, .. }] if ticket == w));
    h.now = Instant::ZERO;
    let w2 = h.queued();
    // Its deadline counts from the gate's latest time, not the driver's stale one.
    assert_eq!(
        h.gate.poll_timeout(),
        Some(Instant::ZERO.saturating_add(Duration::from_millis(200)))
    );
    assert_ne!(w, w2);
}

#[test]
fn a_deep_queue_with_timeouts_drains_in_linear_time() {
    // 200,000 waiters, half aborted from the middle, the rest timing out together: with an
    // O(n) removal this test would take minutes rather than milliseconds.
    let mut h = Harness::with(1, 1_000_000, Some(1000));
    let _a = h.granted();
    let waiters: Vec<Ticket> = (0..200_000)
        .map(|_| match h.gate.submit(h.now, Request::default()) {
            Ok(Submitted::Queued(t)) => t,
            other => panic!("{other:?}"),
        })
        .collect();
    for t in waiters.iter().skip(1).step_by(2) {
        h.gate.cancel(h.now, *t).unwrap();
    }
    assert_eq!(h.stats(), (1, 100_000, 0));
    h.now = h.now.saturating_add(Duration::from_millis(1000));
    h.gate.handle_timeout(h.now);
    h.check();
    assert_eq!(h.events().len(), 100_000);
    assert_eq!(h.stats(), (1, 0, 0));
    assert_eq!(h.gate.poll_timeout(), None);
}

#[test]
fn a_slot_freed_by_a_timeout_never_goes_to_a_waiter_expiring_in_the_same_tick() {
    // With release_on_timeout, the operation's timeout frees its slot at t=100, the very tick
    // the waiter's queue deadline passes: the waiter must be rejected, not granted late.
    let mut h = Harness::new(config(|c| {
        c.max_connections = Some(1.0);
        c.operation_timeout_ms = Some(100.0);
        c.queue_timeout_ms = Some(100.0);
        c.release_on_timeout = Some(true);
    }));
    let a = h.granted();
    let w = h.queued();
    h.advance_ms(100);
    assert_eq!(
        h.events(),
        vec![
            Event::OperationTimeout(a),
            Event::QueueTimeout {
                ticket: w,
                waited: Duration::from_millis(100)
            }
        ]
    );
    assert_eq!(h.stats(), (0, 0, 1));
}

#[test]
fn a_clock_at_the_end_of_time_is_clamped_and_the_gate_keeps_working() {
    // Found by cargo fuzz: `now == Instant::NEVER` made every deadline look passed.
    let mut h = Harness::with(1, 4, None);
    let a = h.granted();
    let w = h.queued();
    h.now = Instant::NEVER;
    h.gate.handle_timeout(h.now);
    h.check();
    h.release(a);
    assert_eq!(h.events(), vec![Event::Granted(w)]);
    h.release(w);
    let mut fresh = Gate::new(Config::default());
    assert!(matches!(
        fresh.submit(Instant::NEVER, Request::default()),
        Ok(Submitted::GrantedNoDeadline(_))
    ));
}

#[test]
fn a_grant_says_when_it_has_no_deadline_at_all() {
    let mut h = Harness::with(3, 10, None);
    assert!(matches!(h.submit(), Ok(Submitted::GrantedNoDeadline(_))));
    let timed = h.submit_with(Request {
        operation_timeout: OperationTimeout::After(Duration::from_millis(5)),
        ..Request::default()
    });
    assert!(matches!(timed, Ok(Submitted::Granted(_))));
    // A retry budget is a deadline too.
    let budget = h.retry_policy(RawRetryPolicy {
        deadline_ms: Some(100.0),
        ..RawRetryPolicy::default()
    });
    assert!(matches!(
        h.submit_retrying(budget, false),
        Submitted::Granted(_)
    ));
}

#[test]
fn the_core_retries_a_failed_attempt_after_a_linear_back_off_without_a_slot() {
    let mut h = Harness::with(1, 10, None);
    let retry = h.retry_policy(RawRetryPolicy {
        delay_ms: Some(100.0),
        max_retries: Some(2.0),
        ..RawRetryPolicy::default()
    });
    let t = h.retried(retry, false);
    assert_eq!(h.gate.metrics().sleeping, 1);
    assert_eq!(h.stats(), (0, 0, 1), "the back-off holds no slot");
    // Someone else takes the free slot meanwhile; the retry then queues behind it.
    let other = h.granted();
    assert!(h.fire_next_timer());
    assert_eq!(h.now.as_micros(), 100_000);
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.stats(), (1, 1, 0));
    h.advance_ms(10);
    h.release(other);
    assert_eq!(h.events(), vec![Event::Granted(t)]);
    // Second failure: 2 * 100 ms.
    assert_eq!(
        h.fail(t, ErrorClass::NotSent),
        Released::Retrying {
            at: Instant::from_micros(310_000)
        }
    );
    assert!(h.fire_next_timer());
    assert_eq!(h.events(), vec![Event::Granted(t)]);
    // Third failure: no retry left.
    assert_eq!(
        h.fail(t, ErrorClass::NotSent),
        Released::GaveUp(GiveUp::Exhausted)
    );
    assert_eq!(h.gate.metrics().retries, 2);
    assert_eq!(h.gate.poll_timeout(), None);
    assert_eq!(h.stats(), (0, 0, 1));
}

#[test]
fn a_retry_gives_up_on_what_it_must_not_repeat() {
    let mut h = Harness::with(4, 10, None);
    let retry = h.retry_policy(RawRetryPolicy::default());
    let fail_once = |h: &mut Harness, idempotent, class| {
        let t = h.submit_retrying(retry, idempotent).ticket();
        h.fail(t, class)
    };
    assert_eq!(
        fail_once(&mut h, false, ErrorClass::MaybeSent),
        Released::GaveUp(GiveUp::MaybeExecuted)
    );
    assert!(matches!(
        fail_once(&mut h, true, ErrorClass::MaybeSent),
        Released::Retrying { .. }
    ));
    assert_eq!(
        fail_once(&mut h, true, ErrorClass::Permanent),
        Released::GaveUp(GiveUp::NotRetryable)
    );
    // A success releases normally, and a plain `release` failure is never retried.
    let t = h.submit_retrying(retry, false).ticket();
    assert_eq!(h.release(t), Released::Completed);
    let t = h.submit_retrying(retry, false).ticket();
    assert_eq!(
        h.gate.release(h.now, t, false),
        Ok(Released::GaveUp(GiveUp::NotRetryable))
    );
    // After close, a failure gives up instead of sleeping.
    let t = h.submit_retrying(retry, false).ticket();
    h.gate.close(h.now);
    assert_eq!(
        h.fail(t, ErrorClass::NotSent),
        Released::GaveUp(GiveUp::Closed)
    );
}

#[test]
fn the_overall_deadline_bounds_the_retries() {
    let mut h = Harness::with(1, 10, None);
    let retry = h.retry_policy(RawRetryPolicy {
        delay_ms: Some(100.0),
        max_retries: Some(10.0),
        deadline_ms: Some(250.0),
        ..RawRetryPolicy::default()
    });
    let t = h.retried(retry, false);
    assert!(h.fire_next_timer());
    assert_eq!(h.events(), vec![Event::Granted(t)]);
    // The next back-off (200 ms from t=100) would end at 300 > 250.
    assert_eq!(
        h.fail(t, ErrorClass::NotSent),
        Released::GaveUp(GiveUp::Deadline)
    );
}

#[test]
fn a_retry_cancelled_during_its_back_off_leaves_nothing_behind() {
    let mut h = Harness::with(1, 10, None);
    let retry = h.retry_policy(RawRetryPolicy::default());
    let t = h.retried(retry, false);
    assert_eq!(h.gate.metrics().sleeping, 1);
    assert_eq!(h.gate.cancel(h.now, t), Ok(Cancelled::Removed));
    h.check();
    assert_eq!(h.gate.metrics().sleeping, 0);
    assert_eq!(h.gate.metrics().aborted, 1);
    assert_eq!(h.gate.poll_timeout(), None);
    assert!(!h.fire_next_timer());
    assert_eq!(h.events(), vec![]);
}

#[test]
fn a_woken_retry_that_cannot_wait_leaves_with_a_queue_timeout() {
    let mut h = Harness::with(1, 10, Some(0));
    let retry = h.retry_policy(RawRetryPolicy::default());
    let t = h.retried(retry, false);
    // The slot is free at wake-up: granted at once even with no wait allowed.
    assert!(h.fire_next_timer());
    assert_eq!(h.events(), vec![Event::Granted(t)]);
    assert!(matches!(
        h.fail(t, ErrorClass::NotSent),
        Released::Retrying { .. }
    ));
    // This time the slot is busy when it wakes.
    let _busy = h.granted();
    assert!(h.fire_next_timer());
    assert_eq!(
        h.events(),
        vec![Event::QueueTimeout {
            ticket: t,
            waited: Duration::ZERO
        }]
    );
    assert_eq!(h.gate.metrics().queue_timeouts, 1);
}

#[test]
fn retry_policy_ids_are_numbered_from_one_and_shared_by_equal_policies() {
    let mut h = Harness::with(1, 10, None);
    let a = h.retry_policy(RawRetryPolicy::default());
    let b = h.retry_policy(RawRetryPolicy {
        max_retries: Some(1.0),
        ..RawRetryPolicy::default()
    });
    assert_eq!((a.to_u16(), b.to_u16()), (1, 2));
    assert_eq!(h.retry_policy(RawRetryPolicy::default()), a);
    assert_eq!(poolgate_core::RetryPolicyId::from_u16(2), b);
}

#[test]
fn a_deadline_that_is_already_now_is_never_granted() {
    let mut h = Harness::with(2, 10, Some(1000));
    h.advance_ms(5);
    let r = h.submit_with(Request {
        deadline: Some(h.now),
        ..Request::default()
    });
    assert_eq!(r, Err(Rejected::NoWait));
    assert_eq!(h.stats(), (0, 0, 2));
}

#[test]
fn too_many_connections_halves_the_adaptive_limit_once_per_overload() {
    let mut h = Harness::new(config(|c| {
        c.max_connections = Some(8.0);
        c.adaptive_min = Some(2.0);
        c.queue_timeout_ms = Some(f64::INFINITY);
    }));
    let first: Vec<Ticket> = (0..8).map(|_| h.granted()).collect();
    h.advance_ms(1);
    // Every operation in flight meets the same overload: one cut, not eight.
    for &t in &first[..4] {
        h.fail(t, ErrorClass::TooManyConnections);
    }
    let m = h.gate.metrics();
    assert_eq!((m.effective_limit, m.limit_cuts), (4, 1));
    assert_eq!(m.too_many_connections, 4, "every such failure is counted");
    assert_eq!(h.gate.stats().available_connections, 0, "4 still run");
    // An operation granted after the cut that fails again cuts again, down to the floor.
    for &t in &first[4..] {
        h.release(t);
    }
    h.advance_ms(1);
    let again = h.granted();
    h.fail(again, ErrorClass::TooManyConnections);
    assert_eq!(h.gate.metrics().effective_limit, 2);
    let third = h.granted();
    h.advance_ms(1);
    h.fail(third, ErrorClass::TooManyConnections);
    assert_eq!(h.gate.metrics().effective_limit, 2, "never below the floor");
    // Other failures do not move it.
    let t = h.granted();
    h.fail(t, ErrorClass::NotSent);
    assert_eq!(h.gate.metrics().effective_limit, 2);
}

#[test]
fn clean_operations_grow_the_adaptive_limit_back_one_at_a_time() {
    let mut h = Harness::new(config(|c| {
        c.max_connections = Some(4.0);
        c.adaptive_min = Some(1.0);
        c.queue_timeout_ms = Some(f64::INFINITY);
    }));
    let old = h.granted();
    let t = h.granted();
    h.advance_ms(1);
    h.fail(t, ErrorClass::TooManyConnections);
    assert_eq!(h.gate.metrics().effective_limit, 2);
    // `old` ran under the limit before the cut: its success says nothing about the new one.
    h.release(old);
    // With a limit of 2, a third caller waits.
    let a = h.granted();
    let b = h.granted();
    let w = h.queued();
    // Two clean operations (the limit) raise it by one, which grants the waiter.
    h.release(a);
    assert_eq!(h.events(), vec![Event::Granted(w)]);
    h.release(b);
    assert_eq!(h.gate.metrics().effective_limit, 3);
    for _ in 0..3 {
        let t = h.granted();
        h.release(t);
    }
    assert_eq!(h.gate.metrics().effective_limit, 4);
    for _ in 0..10 {
        let t = h.granted();
        h.release(t);
    }
    assert_eq!(
        h.gate.metrics().effective_limit,
        4,
        "never above maxConnections"
    );
    // The fast path is off with the adaptive limit: every grant is timed.
    assert!(!h.gate.try_acquire());
}

#[test]
fn early_rejection_refuses_a_caller_that_would_time_out_in_the_queue() {
    let mut h = Harness::new(config(|c| {
        c.max_connections = Some(2.0);
        c.queue_timeout_ms = Some(250.0);
        c.reject_early = Some(true);
    }));
    // Teach the histogram that operations hold their slot 100 ms.
    for _ in 0..poolgate_core::PREDICTION_MIN_SAMPLES {
        let t = h.granted();
        h.advance_ms(100);
        h.release(t);
    }
    let _running: Vec<Ticket> = (0..2).map(|_| h.granted()).collect();
    // Positions 1..=5 wait about 50, 100, 150, 200, 250 ms: all within 250 ms.
    let waiting: Vec<Ticket> = (0..5).map(|_| h.queued()).collect();
    let predicted = h.gate.metrics().predicted_wait.expect("enough samples");
    assert!(
        predicted.as_micros().abs_diff(300_000) < 10_000,
        "{predicted:?}"
    );
    match h.submit() {
        Err(Rejected::WouldTimeOut { predicted }) => {
            assert!(predicted.as_micros() > 250_000)
        }
        other => panic!("expected an early rejection, got {other:?}"),
    }
    assert_eq!(h.gate.metrics().rejected_early, 1);
    assert_eq!(h.stats().1, waiting.len() as u32, "the queue is unchanged");
}

#[test]
fn early_rejection_waits_for_enough_samples_and_is_off_by_default() {
    let mut h = Harness::new(config(|c| {
        c.max_connections = Some(1.0);
        c.queue_timeout_ms = Some(10.0);
        c.reject_early = Some(true);
    }));
    let _a = h.granted();
    assert!(h.gate.metrics().predicted_wait.is_none());
    assert!(matches!(h.submit(), Ok(Submitted::Queued(_))));
    let mut off = Harness::with(1, 100, Some(10));
    for _ in 0..poolgate_core::PREDICTION_MIN_SAMPLES {
        let t = off.granted();
        off.advance_ms(100);
        off.release(t);
    }
    let _b = off.granted();
    assert!(off.gate.metrics().predicted_wait.is_some());
    assert!(matches!(off.submit(), Ok(Submitted::Queued(_))));
}

#[test]
fn a_retry_woken_after_its_overall_deadline_never_starts() {
    // The driver's timer fires late: both the back-off (1.1 s) and the budget (5 s) are over.
    let mut h = Harness::with(1, 10, None);
    let retry = h.retry_policy(RawRetryPolicy {
        deadline_ms: Some(5000.0),
        ..RawRetryPolicy::default()
    });
    let t = match h.submit_retrying(retry, false) {
        Submitted::Granted(t) => t,
        other => panic!("{other:?}"),
    };
    h.advance_ms(100);
    assert!(matches!(
        h.fail(t, ErrorClass::NotSent),
        Released::Retrying { .. }
    ));
    h.now = Instant::from_micros(6_000_000);
    h.gate.handle_timeout(h.now);
    h.check();
    assert_eq!(
        h.events(),
        vec![Event::QueueTimeout {
            ticket: t,
            waited: Duration::ZERO
        }]
    );
    assert_eq!(h.stats(), (0, 0, 1), "the free slot stays free");
}
