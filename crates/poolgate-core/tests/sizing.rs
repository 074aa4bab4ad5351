//! The fleet sizing arithmetic behind `poolgate doctor`, figure by figure.

use poolgate_core::sizing::{size_fleet, Sizing, SizingError, SizingInput};

fn pg(limit: u32, instances: u32) -> SizingInput {
    SizingInput {
        limit,
        reserved: 3,
        instances,
        ..SizingInput::default()
    }
}

#[test]
fn the_test_server_gives_one_instance_fifteen() {
    // max_connections=20, 3 reserved for superusers: 17 usable, 2 kept free (10% rounded up).
    assert_eq!(
        size_fleet(pg(20, 1)),
        Ok(Sizing {
            usable: 17,
            headroom: 2,
            per_instance: 15,
            fleet_total: 15,
            pg_pool_max: 15,
            connect_timeout_ms: 5_000,
            queue_timeout_ms: 10_000,
        })
    );
}

#[test]
fn instances_share_the_budget_rounding_down() {
    let s = size_fleet(pg(20, 4)).unwrap();
    assert_eq!((s.per_instance, s.fleet_total, s.headroom), (3, 12, 2));
    // Supabase's free plan (~60): the seed's 20 per instance on 3 instances would take all 60;
    // the sizing gives 17 each, 51 in all, 6 kept free.
    let s = size_fleet(pg(60, 3)).unwrap();
    assert_eq!(
        (s.usable, s.headroom, s.per_instance, s.fleet_total),
        (57, 6, 17, 51)
    );
}

#[test]
fn others_and_margin_come_off_first() {
    let input = SizingInput {
        others: 5,
        margin_percent: 25,
        ..pg(100, 2)
    };
    // 100 - 3 - 5 = 92 usable; 23 kept free; 69 / 2 = 34 each.
    let s = size_fleet(input).unwrap();
    assert_eq!(
        (s.usable, s.headroom, s.per_instance, s.fleet_total),
        (92, 23, 34, 68)
    );
}

#[test]
fn min_headroom_wins_on_small_servers_and_zero_margin_for_poolers() {
    // 5 usable at 10% would keep 1 (ceil 0.5); a minimum of 2 keeps 2.
    let input = SizingInput {
        reserved: 0,
        min_headroom: 2,
        ..pg(5, 1)
    };
    assert_eq!(size_fleet(input).unwrap().per_instance, 3);
    // A PgBouncer pool of 10 shared by 3 instances, no margin: 3 each.
    let pooler = SizingInput {
        limit: 10,
        reserved: 0,
        margin_percent: 0,
        min_headroom: 0,
        instances: 3,
        ..SizingInput::default()
    };
    let s = size_fleet(pooler).unwrap();
    assert_eq!((s.headroom, s.per_instance, s.fleet_total), (0, 3, 9));
}

#[test]
fn timeouts_pair_with_the_queue_timeout() {
    let with = |q| {
        size_fleet(SizingInput {
            queue_timeout_ms: q,
            ..pg(20, 1)
        })
        .unwrap()
        .connect_timeout_ms
    };
    assert_eq!(with(2_000), 2_000);
    assert_eq!(with(60_000), 5_000);
    // A gate that does not wait (0) still lets a connection take up to 5 s to open.
    assert_eq!(with(0), 5_000);
}

#[test]
fn fleets_that_cannot_fit_are_errors() {
    assert_eq!(
        size_fleet(pg(20, 16)),
        Err(SizingError::TooManyInstances {
            instances: 16,
            budget: 15
        })
    );
    assert_eq!(
        size_fleet(pg(3, 1)),
        Err(SizingError::NoSlots {
            limit: 3,
            reserved: 3,
            others: 0
        })
    );
    assert_eq!(size_fleet(pg(20, 0)), Err(SizingError::NoInstances));
    let bad = SizingInput {
        margin_percent: 101,
        ..pg(20, 1)
    };
    assert_eq!(size_fleet(bad), Err(SizingError::BadMargin(101)));
    // A margin of 100% keeps every slot free: no instance can have one.
    let all = SizingInput {
        margin_percent: 100,
        ..pg(20, 1)
    };
    assert_eq!(
        size_fleet(all),
        Err(SizingError::TooManyInstances {
            instances: 1,
            budget: 0
        })
    );
}

#[test]
fn extreme_inputs_never_overflow() {
    let s = size_fleet(SizingInput {
        limit: u32::MAX,
        reserved: 0,
        margin_percent: 100,
        min_headroom: 0,
        ..SizingInput::default()
    });
    assert!(matches!(
        s,
        Err(SizingError::TooManyInstances { budget: 0, .. })
    ));
    let s = size_fleet(SizingInput {
        limit: u32::MAX,
        reserved: 0,
        margin_percent: 1,
        instances: u32::MAX,
        ..SizingInput::default()
    })
    .unwrap_err();
    assert!(matches!(s, SizingError::TooManyInstances { .. }));
}

#[test]
fn raw_options_are_checked_by_name() {
    use poolgate_core::sizing::RawSizing;
    let raw = RawSizing {
        limit: 20.0,
        instances: Some(2.0),
        ..RawSizing::default()
    };
    assert_eq!(raw.validate().unwrap(), pg(20, 2));
    let bad = RawSizing {
        limit: 20.0,
        instances: Some(2.5),
        ..RawSizing::default()
    };
    assert_eq!(
        bad.validate().unwrap_err().to_string(),
        "instances must be an integer from 1 to 1000000000, got 2.5"
    );
    let bad = RawSizing {
        limit: f64::NAN,
        ..RawSizing::default()
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("limit must be"));
    let bad = RawSizing {
        limit: 20.0,
        margin_percent: Some(150.0),
        ..RawSizing::default()
    };
    assert_eq!(
        bad.validate().unwrap_err().to_string(),
        "marginPercent must be an integer from 0 to 100, got 150"
    );
}
