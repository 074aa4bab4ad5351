//! Starting points taken from the field notes in the project's issues: the limits people hit and
//! the pool settings they tried. Each is a [`Plan`]; any key of the query overrides it.

use crate::params::{Arrival, Plan, Service};

/// Names of the presets, in the order the page lists them.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "supabase-direct",
        "Supabase free tier, direct connection (~60): 4 workers, SQLAlchemy 10+10 each",
    ),
    (
        "supabase-pooler",
        "Supabase free tier, session pooler (~15-20): 2 workers, pool 5+5 each",
    ),
    (
        "railway",
        "Railway PostgreSQL (100): 3 replicas, connection_limit=20, pool_timeout=20",
    ),
    (
        "mysql-151",
        "MySQL max_connections 151: 3 workers, pool 30+40, queries 400-1000 ms, 2 s timeout",
    ),
    (
        "vercel-fleet",
        "A Vercel fleet: 40 functions, Prisma pool 5 each, on Supabase direct (60)",
    ),
    (
        "load-test",
        "scripts/load: 1,000 reads at once, PostgreSQL max_connections 20, pg pool 50, gate 15",
    ),
];

/// The preset called `name`.
pub fn preset(name: &str) -> Result<Plan, String> {
    let base = Plan {
        preset: Some(name.to_string()),
        ..Plan::default()
    };
    Ok(match name {
        "supabase-direct" => Plan {
            limit: 60,
            reserved: 3,
            instances: 4,
            pool: 20,
            queue_timeout_ms: Some(60_000.0),
            pool_timeout_ms: Some(60_000.0),
            arrival: Arrival::Bursts,
            rate: 150.0,
            burst: 400,
            every_ms: 5000.0,
            ops: 20_000,
            service: Service::LogNormal {
                p50: 30.0,
                p99: 300.0,
            },
            connect_ms: 60.0,
            reject_ms: 40.0,
            ..base
        },
        "supabase-pooler" => Plan {
            limit: 20,
            reserved: 0,
            instances: 2,
            pool: 10,
            queue_timeout_ms: Some(60_000.0),
            pool_timeout_ms: Some(60_000.0),
            arrival: Arrival::Bursts,
            rate: 80.0,
            burst: 200,
            every_ms: 5000.0,
            ops: 10_000,
            service: Service::LogNormal {
                p50: 30.0,
                p99: 300.0,
            },
            connect_ms: 60.0,
            reject_ms: 40.0,
            ..base
        },
        "railway" => Plan {
            limit: 100,
            reserved: 3,
            instances: 3,
            pool: 20,
            queue_timeout_ms: Some(20_000.0),
            pool_timeout_ms: Some(20_000.0),
            arrival: Arrival::Steady,
            rate: 400.0,
            ops: 20_000,
            service: Service::LogNormal {
                p50: 25.0,
                p99: 400.0,
            },
            connect_ms: 30.0,
            reject_ms: 20.0,
            ..base
        },
        "mysql-151" => Plan {
            limit: 151,
            reserved: 1,
            instances: 3,
            pool: 70,
            queue_timeout_ms: Some(2_000.0),
            pool_timeout_ms: Some(2_000.0),
            arrival: Arrival::Bursts,
            rate: 150.0,
            burst: 300,
            every_ms: 10_000.0,
            ops: 10_000,
            service: Service::LogNormal {
                p50: 400.0,
                p99: 1000.0,
            },
            connect_ms: 10.0,
            reject_ms: 5.0,
            ..base
        },
        "vercel-fleet" => Plan {
            limit: 60,
            reserved: 3,
            instances: 40,
            pool: 5,
            queue_timeout_ms: Some(10_000.0),
            pool_timeout_ms: Some(10_000.0),
            arrival: Arrival::Bursts,
            rate: 200.0,
            burst: 500,
            every_ms: 10_000.0,
            ops: 20_000,
            service: Service::LogNormal {
                p50: 15.0,
                p99: 150.0,
            },
            connect_ms: 80.0,
            reject_ms: 50.0,
            ..base
        },
        "load-test" => Plan {
            limit: 20,
            reserved: 3,
            other: 1,
            instances: 1,
            pool: 50,
            max: Some(15),
            queue_timeout_ms: Some(60_000.0),
            pool_timeout_ms: None,
            arrival: Arrival::Burst,
            ops: 1000,
            service: Service::Fixed(2.0),
            connect_ms: 4.0,
            reject_ms: 3.0,
            ..base
        },
        _ => {
            let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "unknown preset {name:?}: use one of {}",
                names.join(", ")
            ));
        }
    })
}
