//! Behaviour of the gate, one semantic per test, driven with a fake clock. Every step checks the
//! gate's invariants and that its stats match what the test expects.

use poolgate_core::{
    Cancelled, Config, Duration, Event, Gate, Instant, OperationTimeout, Rejected, Released,
    Request, Submitted, Ticket,
};

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
        Harness::new(Config {
            max_connections,
            max_queue,
            queue_timeout: queue_timeout_ms.map(Duration::from_millis),
            ..Config::default()
        })
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
            Ok(Submitted::Granted(t)) => t,
            other => panic!("expected an immediate grant, got {other:?}"),
        }
    }

    fn queued(&mut self) -> Ticket {
        match self.submit() {
            Ok(Submitted::Queued(t)) => t,
            other => panic!("expected to queue, got {other:?}"),
        }
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
    let mut h = Harness::new(Config {
        max_connections: 1,
        operation_timeout: Some(Duration::from_millis(30)),
        queue_timeout: None,
        ..Config::default()
    });
    let slow = h.granted();
    let next = h.queued();
    assert!(h.fire_next_timer());
    assert_eq!(h.events(), vec![Event::OperationTimeout(slow)]);
    // The query still holds its database connection: nobody else may start.
    assert_eq!(h.stats(), (1, 1, 0));
    assert_eq!(h.gate.metrics().zombies, 1);
    h.advance_ms(1000);
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.release(slow), Released::Zombie);
    assert_eq!(h.events(), vec![Event::Granted(next)]);
    assert_eq!(h.gate.metrics().zombies, 0);
    assert_eq!(h.gate.metrics().operation_timeouts, 1);
}

#[test]
fn release_on_timeout_frees_the_slot_at_the_deadline_when_asked() {
    let mut h = Harness::new(Config {
        max_connections: 1,
        operation_timeout: Some(Duration::from_millis(30)),
        release_on_timeout: true,
        queue_timeout: None,
        ..Config::default()
    });
    let slow = h.granted();
    let next = h.queued();
    assert!(h.fire_next_timer());
    assert_eq!(
        h.events(),
        vec![Event::OperationTimeout(slow), Event::Granted(next)]
    );
    assert_eq!(h.release(slow), Released::Detached);
    assert_eq!(h.stats(), (1, 0, 0), "the late settle frees nothing twice");
    h.release(next);
    assert_eq!(h.stats(), (0, 0, 1));
}

#[test]
fn per_call_timeout_overrides_the_pool_default() {
    let mut h = Harness::with(2, 10, None);
    let r = h.submit_with(Request {
        operation_timeout: OperationTimeout::After(Duration::from_millis(5)),
        deadline: None,
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
    assert_eq!(h.gate.cancel(h.now, w1), Ok(Cancelled::Detached));
    assert_eq!(h.release(w1), Released::Zombie);
    assert_eq!(h.events(), vec![Event::Granted(w2)]);
    assert_eq!(h.stats(), (1, 0, 0));
}

#[test]
fn close_rejects_every_waiter_at_once_and_refuses_new_work() {
    let mut h = Harness::with(1, 10, Some(1000));
    let a = h.granted();
    let waiters: Vec<Ticket> = (0..3).map(|_| h.queued()).collect();
    let sleeper = h
        .gate
        .schedule_retry(h.now, h.now.saturating_add(Duration::from_millis(50)))
        .unwrap();
    h.gate.close(h.now);
    h.check();
    let mut expected: Vec<Event> = waiters.iter().map(|&t| Event::Closed(t)).collect();
    expected.push(Event::Closed(sleeper));
    assert_eq!(h.events(), expected);
    assert_eq!(h.submit(), Err(Rejected::Closed));
    assert_eq!(h.stats(), (1, 0, 0));
    // The running operation still settles normally, and nothing is granted after close.
    h.release(a);
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.stats(), (0, 0, 1));
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
        h.gate.config().max_connections,
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
        })
        .unwrap()
        .ticket();
    assert!(h.fire_next_timer());
    assert_eq!(h.now.as_micros(), 20_000);
    assert!(matches!(h.events()[..], [Event::QueueTimeout { ticket, .. }] if ticket == t));
}

#[test]
fn retry_backoff_holds_no_slot_and_wakes_once() {
    let mut h = Harness::with(1, 10, None);
    let s = h
        .gate
        .schedule_retry(
            h.now,
            Instant::ZERO.saturating_add(Duration::from_millis(1000)),
        )
        .unwrap();
    assert_eq!(h.stats(), (0, 0, 1));
    assert_eq!(h.gate.metrics().sleeping, 1);
    let _a = h.granted();
    assert!(h.fire_next_timer());
    assert_eq!(h.now.as_micros(), 1_000_000);
    assert_eq!(h.events(), vec![Event::Woken(s)]);
    assert!(!h.fire_next_timer());
    assert_eq!(h.gate.metrics().retries, 1);
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
    let mut h = Harness::new(Config {
        max_connections: 1,
        operation_timeout: Some(Duration::from_millis(100)),
        queue_timeout: Some(Duration::from_millis(100)),
        release_on_timeout: true,
        ..Config::default()
    });
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
        Ok(Submitted::Granted(_))
    ));
}
