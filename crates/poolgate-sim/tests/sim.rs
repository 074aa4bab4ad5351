//! The simulator's contract: the same seed gives the same report, every operation is counted
//! exactly once, and the gate's invariants (and the simulator's own) hold at every step.

use poolgate_sim::{plan, simulate, Plan, PRESETS};

fn p(q: &str) -> Plan {
    Plan::from_query(q).unwrap()
}

#[test]
fn the_same_seed_gives_the_same_report() {
    for (name, _) in PRESETS {
        let q = format!("preset={name}&ops=3000");
        let a = plan(&p(&q), false).unwrap();
        let b = plan(&p(&q), false).unwrap();
        assert_eq!(a, b, "{name}");
        assert_eq!(a.to_json(), b.to_json(), "{name}");
    }
    // A different seed draws different service times (the report changes).
    let a = plan(&p("preset=railway&ops=3000&seed=1"), false).unwrap();
    let b = plan(&p("preset=railway&ops=3000&seed=2"), false).unwrap();
    assert_ne!(a.with.latency, b.with.latency);
}

#[test]
fn a_fixed_seed_gives_these_figures() {
    // Pinned figures of a small plan: a change in the core's decisions or the simulator's
    // model shows up here (and in the page test, which checks the same plan).
    let r = plan(&p("preset=load-test&ops=200"), false).unwrap();
    assert_eq!(r.without.completed, 64, "{}", r.to_text());
    assert_eq!(
        r.without.errors.too_many_connections,
        136,
        "{}",
        r.to_text()
    );
    assert_eq!(r.with.completed, 200, "{}", r.to_text());
    assert_eq!(r.with.peak_server, 15, "{}", r.to_text());
    assert_eq!(r.without.peak_server, 16, "{}", r.to_text());
    assert_eq!(r.recommend.max_connections, 16);
}

#[test]
fn every_operation_is_counted_once_and_invariants_hold_throughout() {
    let plans = [
        // Refused connections retried through the core's policy (gate above the server limit).
        "preset=load-test&ops=400&max=40&retries=2&retry_delay=5",
        // Queue full and queue timeouts.
        "preset=load-test&ops=400&max=2&max_queue=50&queue_timeout=20",
        // The client pool's own timeout, several instances, idle closes, bursts.
        "preset=supabase-pooler&ops=1500&pool_timeout=200&queue_timeout=300&idle=50",
        "preset=vercel-fleet&ops=1500",
        // Client CPU on each instance's event loop, refusals included.
        "preset=load-test&ops=400&cpu=2&max=30&retry_delay=10",
        "preset=load-test&ops=400&cpu=1&instances=3&hosts=1&cores=2&max=5",
        "preset=mysql-151&ops=1500&max=60",
        "arrival=trace&trace=0,0,0,1,2,3,50,50,51&service=samples&samples=1,30,2&limit=4&reserved=1&pool=5",
        "arrival=burst&ops=300&queue_timeout=0&limit=6&pool=3&max=2",
    ];
    let mut kinds = [0u64; 4];
    let mut retries = 0;
    for q in plans {
        let plan = p(q);
        for gate in [None, Some(poolgate_sim::per_instance(&plan)), plan.max] {
            let o = simulate(&plan, gate, true).unwrap_or_else(|e| panic!("{q} {gate:?}: {e}"));
            assert!(o.checks > 0);
            assert_eq!(o.completed + o.errors.total(), plan.ops, "{q} {gate:?}");
            let series: u64 = o
                .series
                .completed
                .iter()
                .chain(&o.series.failed)
                .map(|&n| u64::from(n))
                .sum();
            assert_eq!(
                series, plan.ops,
                "{q} {gate:?}: the series counts each once"
            );
            assert_eq!(o.latency.count, o.completed);
            assert!(o.peak_server <= plan.app_limit());
            kinds[0] += o.errors.queue_full;
            kinds[1] += o.errors.queue_timeout;
            kinds[2] += o.errors.too_many_connections;
            kinds[3] += o.errors.pool_timeout;
            retries += o.retries;
        }
    }
    // The plans above reach every kind of failure and the retry path.
    assert!(kinds.iter().all(|&k| k > 0), "{kinds:?}");
    assert!(retries > 0);
}

#[test]
fn the_gate_keeps_the_server_under_its_limit_when_sized_by_the_plan() {
    for (name, _) in PRESETS {
        let r = plan(&p(&format!("preset={name}&ops=5000&max=auto")), false).unwrap();
        assert_eq!(r.with.errors.too_many_connections, 0, "{name}");
        assert!(r.with.peak_server <= r.recommend.budget, "{name}");
    }
}
