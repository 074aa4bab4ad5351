//! Retry policy ids a driver passes back: only registered ones select a policy.
//!
//! A driver could hand `submit` an id it never registered (a stale cache, a bug). The gate must
//! then retry nothing, as [`RetryPolicyId::from_u16`] documents, rather than pick some other
//! registered policy.

use poolgate_core::{
    ErrorClass, Gate, Instant, OperationTimeout, Outcome, Released, Request, RetryPolicy,
    RetryPolicyId, Submitted,
};

fn granted(s: Submitted) -> poolgate_core::Ticket {
    match s {
        Submitted::Granted(t) | Submitted::GrantedNoDeadline(t) => t,
        Submitted::Queued(t) => panic!("{t:?} was queued"),
    }
}

#[test]
fn an_unregistered_policy_id_retries_nothing() {
    let mut gate = Gate::new(Default::default());
    let registered = gate
        .register_retry_policy(RetryPolicy::default())
        .expect("room for one policy");
    let now = Instant::ZERO;
    for id in [registered.to_u16() + 1, 77, u16::MAX] {
        let request = Request {
            operation_timeout: OperationTimeout::Never,
            deadline: None,
            retry: Some(RetryPolicyId::from_u16(id)),
            idempotent: true,
        };
        let t = granted(gate.submit(now, request).expect("a free slot"));
        let r = gate.release_with(now, t, Outcome::Failed(ErrorClass::NotSent), 0.0);
        assert_eq!(r, Ok(Released::Completed), "policy id {id}");
        assert_eq!(gate.check_invariants(), Ok(()));
    }
    assert_eq!(gate.metrics().retries, 0);

    // The registered id does retry the same failure.
    let request = Request {
        retry: Some(registered),
        ..Request::default()
    };
    let t = granted(gate.submit(now, request).expect("a free slot"));
    let r = gate.release_with(now, t, Outcome::Failed(ErrorClass::NotSent), 0.0);
    assert!(matches!(r, Ok(Released::Retrying { .. })), "{r:?}");
    assert_eq!(gate.metrics().retries, 1);
    assert_eq!(gate.check_invariants(), Ok(()));
}
