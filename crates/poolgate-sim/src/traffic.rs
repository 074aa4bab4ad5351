//! Where operations come from and how long each one holds its connection: the arrival stream
//! and the service-time distribution, both drawn from the plan's seeded generator.

use crate::params::{Arrival, Plan, Service};
use crate::rng::Rng;

/// The 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874;

/// Draws service times, in microseconds.
#[derive(Clone, Debug)]
pub struct ServiceTimes {
    kind: Service,
    mu: f64,
    sigma: f64,
}

impl ServiceTimes {
    /// The distribution of a plan.
    pub fn new(service: &Service) -> ServiceTimes {
        let (mu, sigma) = match *service {
            Service::LogNormal { p50, p99 } => (p50.ln(), (p99 / p50).ln() / Z99),
            _ => (0.0, 0.0),
        };
        ServiceTimes {
            kind: service.clone(),
            mu,
            sigma,
        }
    }

    /// One service time.
    pub fn draw(&self, rng: &mut Rng) -> u64 {
        let ms = match &self.kind {
            Service::Fixed(ms) => *ms,
            Service::LogNormal { .. } => (self.mu + self.sigma * rng.normal()).exp(),
            Service::Samples(s) => s[rng.below(s.len())],
        };
        (ms * 1000.0).round() as u64
    }
}

/// The arrival times of a plan's operations, in microseconds, in order.
#[derive(Clone, Debug)]
pub struct Arrivals {
    left: u64,
    kind: Arrival,
    mean_gap_ms: f64,
    poisson_next: f64,
    burst_next: f64,
    burst_left: u64,
    burst: u64,
    every: f64,
    trace_at: usize,
}

impl Arrivals {
    /// The stream of `plan`, drawing gaps from `rng`.
    pub fn new(plan: &Plan, rng: &mut Rng) -> Arrivals {
        let mean_gap_ms = 1000.0 / plan.rate;
        Arrivals {
            left: plan.ops,
            kind: plan.arrival.clone(),
            mean_gap_ms,
            poisson_next: rng.exponential(mean_gap_ms),
            burst_next: 0.0,
            burst_left: 0,
            burst: plan.burst,
            every: plan.every_ms,
            trace_at: 0,
        }
    }

    /// The next arrival time, or `None` when every operation has arrived.
    pub fn next(&mut self, rng: &mut Rng) -> Option<u64> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let ms = match &self.kind {
            Arrival::Burst => 0.0,
            Arrival::Trace(t) => {
                self.trace_at += 1;
                t[self.trace_at - 1]
            }
            Arrival::Steady => self.poisson(rng),
            Arrival::Bursts => {
                if self.burst_left == 0 && self.burst_next <= self.poisson_next {
                    self.burst_left = self.burst;
                }
                if self.burst_left > 0 {
                    self.burst_left -= 1;
                    let t = self.burst_next;
                    if self.burst_left == 0 {
                        self.burst_next += self.every;
                    }
                    t
                } else {
                    self.poisson(rng)
                }
            }
        };
        Some((ms * 1000.0).round() as u64)
    }

    fn poisson(&mut self, rng: &mut Rng) -> f64 {
        let t = self.poisson_next;
        self.poisson_next += rng.exponential(self.mean_gap_ms);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lognormal_hits_its_percentiles() {
        let s = ServiceTimes::new(&Service::LogNormal {
            p50: 20.0,
            p99: 200.0,
        });
        let mut rng = Rng::new(5);
        let mut v: Vec<u64> = (0..100_000).map(|_| s.draw(&mut rng)).collect();
        v.sort_unstable();
        let p50 = v[50_000] as f64 / 1000.0;
        let p99 = v[99_000] as f64 / 1000.0;
        assert!((p50 - 20.0).abs() < 1.0, "{p50}");
        assert!((p99 - 200.0).abs() < 15.0, "{p99}");
    }

    #[test]
    fn bursts_are_ordered_and_counted() {
        let plan =
            Plan::from_query("arrival=bursts&ops=3000&rate=100&burst=500&every=1000").unwrap();
        let mut rng = Rng::new(1);
        let mut a = Arrivals::new(&plan, &mut rng);
        let mut last = 0;
        let mut n = 0;
        let mut at_zero = 0;
        while let Some(t) = a.next(&mut rng) {
            assert!(t >= last, "{t} < {last}");
            last = t;
            n += 1;
            at_zero += u64::from(t == 0);
        }
        assert_eq!(n, 3000);
        assert_eq!(at_zero, 500);
    }
}
