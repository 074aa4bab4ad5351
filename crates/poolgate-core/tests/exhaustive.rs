//! Every sequence, up to a fixed depth, of these driver events: submit (with the pool's
//! operation timeout or a shorter per-call one), release ok/err, cancel, the clock moved just
//! past each pending deadline, resize to 1..=3, close, and, without a default operation
//! timeout, the clock-free `try_acquire` and its release. Retries, overall deadlines and the
//! adaptive limit have their own model and exhaustive search (`tests/rules.rs`). After every
//! step every guarantee is checked (see `common/mod.rs`): `check_invariants()`, the limit
//! (zombies included), release-once, settle-once, no grant after a deadline and no re-armed
//! deadline, FIFO, no lost wake-up, `close()`, stats and metrics against a reference model.
//!
//! Depth-first with replay: each node rebuilds its gate from a fresh one by replaying the
//! prefix, so the gate needs no `Clone`. Configurations: with a default operation timeout,
//! `maxConnections` 1..=3 x `maxQueue` 0..=2; without one, 1..=2 x 0..=1; each with
//! `releaseOnTimeout` off and on. `POOLGATE_EXHAUSTIVE_DEPTH` overrides the depth (7);
//! `POOLGATE_TRACKER_ONLY=1` turns the model comparison off.

mod common;

use common::{Action, Cfg, Sim};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Every action that makes sense after `sim`'s history.
fn actions(sim: &Sim) -> Vec<Action> {
    let tr = &sim.tracker;
    let mut out = vec![
        Action::Submit { short: false },
        Action::Submit { short: true },
    ];
    let fast_path = !sim.model_cfg().default_op_timeout;
    if fast_path {
        out.push(Action::TryAcquire);
    }
    for (id, s) in tr.seen.iter().enumerate() {
        use common::Seen::*;
        if matches!(s, Running { .. } | Zombie | Detached) && !tr.fast[id] {
            out.push(Action::Release { id, ok: true });
            out.push(Action::Release { id, ok: false });
        }
        // A clock-free grant is given back only by its own release (it has no ticket).
        if tr.fast[id] && matches!(s, Running { .. }) {
            out.push(Action::ReleaseClockFree { id, ok: true });
        }
        if matches!(s, Waiting { .. } | Running { .. }) && !tr.fast[id] {
            out.push(Action::Cancel { id });
        }
    }
    for d in tr.pending_deadlines() {
        out.push(Action::AdvanceTo(d + 1));
    }
    for n in 1..=3 {
        if n != tr.max {
            out.push(Action::Resize(n));
        }
    }
    if !tr.closed {
        out.push(Action::Close);
    }
    out
}

/// A fresh simulation. `POOLGATE_TRACKER_ONLY=1` skips the reference model, leaving only the
/// guarantees the tracker checks (used to see what the properties alone catch).
fn fresh(cfg: Cfg) -> Sim {
    let mut sim = Sim::new(cfg);
    sim.compare_model = std::env::var_os("POOLGATE_TRACKER_ONLY").is_none();
    sim
}

fn replay(cfg: Cfg, prefix: &[Action]) -> Sim {
    let mut sim = fresh(cfg);
    for (i, &a) in prefix.iter().enumerate() {
        if let Err(e) = sim.step(a) {
            panic!("{cfg:?}: step {i} of {:?}: {e}", &prefix[..=i]);
        }
    }
    sim
}

/// Explores every extension of `prefix` (whose state is `sim`) up to `depth` actions; returns
/// the number of sequences checked (every non-empty prefix counts once).
fn explore(cfg: Cfg, sim: Sim, prefix: &mut Vec<Action>, depth: usize) -> u64 {
    if prefix.len() == depth {
        return 0;
    }
    let mut count = 0;
    let children = actions(&sim);
    let mut sim = Some(sim);
    for a in children {
        let mut s = match sim.take() {
            Some(s) => s,
            None => replay(cfg, prefix),
        };
        prefix.push(a);
        if let Err(e) = s.step(a) {
            panic!("{cfg:?}: after {prefix:?}: {e}");
        }
        count += 1 + explore(cfg, s, prefix, depth);
        prefix.pop();
    }
    count
}

#[test]
fn every_short_history_keeps_every_guarantee() {
    let depth: usize = std::env::var("POOLGATE_EXHAUSTIVE_DEPTH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    // (default operation timeout, largest maxConnections, largest maxQueue): without a default
    // timeout the clock-free calls join the alphabet, so those configurations stay smaller.
    let mut configs = Vec::new();
    for (default_op_timeout, max_conn, max_queue_top) in [(true, 3, 2), (false, 2, 1)] {
        for release_on_timeout in [false, true] {
            for max_connections in 1..=max_conn {
                for max_queue in 0..=max_queue_top {
                    configs.push(Cfg {
                        max_connections,
                        max_queue,
                        release_on_timeout,
                        default_op_timeout,
                    });
                }
            }
        }
    }
    let started = std::time::Instant::now();
    let next = AtomicUsize::new(0);
    let total = AtomicU64::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(configs.len());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&cfg) = configs.get(i) else { break };
                let n = explore(cfg, fresh(cfg), &mut Vec::new(), depth);
                println!("{cfg:?}: {n} sequences");
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    println!(
        "exhaustive: {} sequences of up to {depth} events checked in {:.1?}",
        total.load(Ordering::Relaxed),
        started.elapsed()
    );
}
