//! # poolgate-sim
//!
//! A capacity planner: it runs a traffic pattern through the **unchanged** poolgate core in
//! virtual time and reports what users would see (waits, latencies, errors by kind) and what
//! the database would see (server connections), without a gate and with one, plus the settings
//! it recommends. The core takes `now` as an input, so a simulated minute costs microseconds,
//! and the decisions simulated are exactly the ones made in production.
//!
//! Every call into the core lives in [`gate_driver`]. Runs are deterministic: the plan's seed
//! drives a small generator of our own ([`rng::Rng`]) and nothing reads a clock.
//!
//! ```
//! use poolgate_sim::{plan, Plan};
//!
//! let p = Plan::from_query("preset=load-test&ops=200").unwrap();
//! let report = plan(&p, false).unwrap();
//! assert_eq!(report.with.ops, 200);
//! // The gate keeps the server below its limit, so nothing is refused.
//! assert_eq!(report.with.errors.too_many_connections, 0);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod engine;
pub mod gate_driver;
pub mod params;
pub mod presets;
pub mod report;
pub mod rng;
pub mod traffic;

pub use engine::Sim;
pub use params::{Arrival, Plan, Service};
pub use presets::PRESETS;
pub use report::{ErrorCounts, Outcome, Pcts, Recommendation, Report};

/// The smallest queue timeout recommended, in milliseconds.
const MIN_QUEUE_TIMEOUT_MS: f64 = 1000.0;

/// Runs one side of `plan`: with a gate of `gate_max` per instance, or without (`None`).
pub fn simulate(plan: &Plan, gate_max: Option<u32>, check: bool) -> Result<Outcome, String> {
    let mut o = Sim::new(plan, gate_max, check)?.run()?;
    o.gate_max = gate_max;
    Ok(o)
}

/// The server connections each instance may hold: the application's share split evenly.
pub fn per_instance(plan: &Plan) -> u32 {
    (plan.app_limit() / plan.instances).max(1)
}

/// Runs `plan` without and with poolgate and works out the recommended settings. `check`
/// verifies every invariant at every step (slow; for tests).
pub fn plan(plan: &Plan, check: bool) -> Result<Report, String> {
    let per = per_instance(plan);
    let budget = plan.app_limit();
    let mut notes = Vec::new();
    if plan.instances > budget {
        notes.push(format!(
            "{} instances cannot each hold a connection of the {budget} the server allows: \
             fewer instances, or a transaction pooler (PgBouncer) in front",
            plan.instances
        ));
    }
    let gate_max = plan.max.unwrap_or(per);
    let without = simulate(plan, None, check)?;
    let with = simulate(plan, Some(gate_max), check)?;
    // Size the queue timeout from the waits the recommended gate gives when nobody times out.
    let patient = Plan {
        queue_timeout_ms: None,
        pool_timeout_ms: None,
        ..plan.clone()
    };
    let probe = simulate(&patient, Some(per), false)?;
    let p99 = probe.wait.p99;
    let wanted = ((p99 * 1.5) / 100.0).ceil() * 100.0;
    let queue_timeout_ms = wanted.max(MIN_QUEUE_TIMEOUT_MS).min(plan.patience_ms);
    if p99 > plan.patience_ms {
        notes.push(format!(
            "even with the recommended gate the p99 wait is {p99:.0} ms, past the {:.0} ms users \
             wait: the database is short of capacity for this traffic (faster queries, a larger \
             server, or fewer bursts)",
            plan.patience_ms
        ));
    }
    if gate_max * plan.instances > budget {
        notes.push(format!(
            "max={gate_max} x {} instances = {} exceeds the {budget} connections the server \
             allows: expect \"too many connections\" (retried by poolgate)",
            plan.instances,
            gate_max * plan.instances
        ));
    }
    Ok(Report {
        query: plan.to_query(),
        instances: plan.instances,
        without,
        with,
        recommend: Recommendation {
            max_connections: per,
            pg_max: per,
            queue_timeout_ms,
            p99_wait_ms: p99,
            budget,
            notes,
        },
    })
}
