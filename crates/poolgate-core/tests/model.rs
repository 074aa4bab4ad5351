//! Random histories of up to 200 driver events, run against the gate and a plain `Vec`-based
//! FIFO model of the pool (`common::Model`) in lockstep: every return value, every event (in
//! order, with its ticket), the stats and the metrics must match the model after every step,
//! and the tracker's guarantees and `Gate::check_invariants()` must hold throughout.
//!
//! `POOLGATE_PROPTEST_CASES` sets the number of sequences (default 100,000).

mod common;

use common::{Action, Cfg, Sim};
use proptest::prelude::*;
use proptest::sample::Index;

/// A driver event, with ticket choices resolved against the history when it runs.
#[derive(Clone, Debug)]
enum Op {
    Submit {
        short: bool,
    },
    Release {
        which: Index,
        ok: bool,
    },
    Cancel {
        which: Index,
    },
    /// Move the clock forward by a few microseconds (deadlines are 50, 100 and 300 us away).
    AdvanceBy(u64),
    /// The driver's timer fires exactly on time.
    Timer,
    /// The driver's timer fires just after the next deadline.
    TimerLate,
    Resize(u32),
    Close,
    /// The clock-free fast path.
    TryAcquire,
    /// The release of a clock-free grant (of none, when none is running).
    ReleaseClockFree {
        which: Index,
        ok: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        90 => any::<bool>().prop_map(|short| Op::Submit { short }),
        60 => (any::<Index>(), any::<bool>()).prop_map(|(which, ok)| Op::Release { which, ok }),
        24 => any::<Index>().prop_map(|which| Op::Cancel { which }),
        30 => (0u64..=120).prop_map(Op::AdvanceBy),
        30 => Just(Op::Timer),
        15 => Just(Op::TimerLate),
        12 => (1u32..=4).prop_map(Op::Resize),
        1 => Just(Op::Close),
        40 => Just(Op::TryAcquire),
        30 => (any::<Index>(), any::<bool>()).prop_map(|(which, ok)| Op::ReleaseClockFree { which, ok }),
    ]
}

fn cfg() -> impl Strategy<Value = Cfg> {
    (
        1u32..=4,
        0u32..=4,
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.5),
    )
        .prop_map(
            |(max_connections, max_queue, release_on_timeout, default_op_timeout)| Cfg {
                max_connections,
                max_queue,
                release_on_timeout,
                default_op_timeout,
            },
        )
}

/// Turns an `Op` into a concrete action. Ticket choices range over every id issued so far plus
/// one that was never issued, so stale and bogus tickets are exercised too.
fn resolve(sim: &Sim, op: &Op) -> Action {
    let ids = sim.tracker.seen.len() + 1;
    match *op {
        Op::Submit { short } => Action::Submit { short },
        Op::Release { ref which, ok } => Action::Release {
            id: which.index(ids),
            ok,
        },
        Op::Cancel { ref which } => Action::Cancel {
            id: which.index(ids),
        },
        Op::AdvanceBy(d) => Action::AdvanceBy(d),
        Op::Timer => Action::Timer,
        Op::TimerLate => match sim.tracker.pending_deadlines().first() {
            Some(&d) => Action::AdvanceTo(d + 1),
            None => Action::AdvanceBy(1),
        },
        Op::Resize(n) => Action::Resize(n),
        Op::Close => Action::Close,
        Op::TryAcquire => Action::TryAcquire,
        Op::ReleaseClockFree { ref which, ok } => {
            let tr = &sim.tracker;
            let running: Vec<usize> = (0..tr.seen.len())
                .filter(|&id| tr.fast[id] && matches!(tr.seen[id], common::Seen::Running { .. }))
                .collect();
            let id = if running.is_empty() {
                usize::MAX
            } else {
                running[which.index(running.len())]
            };
            Action::ReleaseClockFree { id, ok }
        }
    }
}

fn cases() -> u32 {
    std::env::var("POOLGATE_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn gate_matches_the_reference_model(
        cfg in cfg(),
        ops in prop::collection::vec(op(), 1..=200),
    ) {
        let mut sim = Sim::new(cfg);
        let mut done = Vec::with_capacity(ops.len());
        for op in &ops {
            let action = resolve(&sim, op);
            done.push(action);
            if let Err(e) = sim.step(action) {
                return Err(TestCaseError::fail(format!("{cfg:?} after {done:?}: {e}")));
            }
        }
    }
}
