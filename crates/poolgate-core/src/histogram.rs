//! A fixed-size log-linear histogram of microsecond durations, for wait- and hold-time
//! percentiles.
//!
//! Values below 16 us get a bucket each; above, every power of two is split into 16 buckets, so a
//! reported percentile is within about 3% of the true value. Recording is a few integer
//! operations and never allocates, which matters because it happens on every grant and release.
//! (The `hdrhistogram` crate does the same with configurable precision; this fixed layout is
//! 40 lines and keeps the wasm small.)

use crate::time::Duration;

const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = (SUB as usize) * (64 - SUB_BITS as usize + 1);

/// Counts of durations in log-linear buckets.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            max: 0,
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < SUB {
        v as usize
    } else {
        let exp = 63 - v.leading_zeros();
        let mantissa = (v >> (exp - SUB_BITS)) & (SUB - 1);
        (SUB + u64::from(exp - SUB_BITS) * SUB + mantissa) as usize
    }
}

/// Middle of the range of values that land in `bucket`.
fn representative(bucket: usize) -> u64 {
    let b = bucket as u64;
    if b < SUB {
        b
    } else {
        let exp = (b - SUB) / SUB + u64::from(SUB_BITS);
        let mantissa = (b - SUB) % SUB;
        let width = 1u64 << (exp - u64::from(SUB_BITS));
        let low = (1u64 << exp) + mantissa * width;
        low.saturating_add(width / 2)
    }
}

impl Histogram {
    /// Records one duration.
    pub fn record(&mut self, d: Duration) {
        let v = d.as_micros();
        if let Some(c) = self.counts.get_mut(bucket_of(v)) {
            *c += 1;
        }
        self.total += 1;
        self.max = self.max.max(v);
    }

    /// Number of durations recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest duration recorded (exact), or zero.
    pub fn max(&self) -> Duration {
        Duration::from_micros(self.max)
    }

    /// The `q`-quantile (`q` in 0..=1) within the bucket precision, capped at the exact max;
    /// zero when nothing was recorded.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        if rank == self.total {
            return self.max();
        }
        let mut seen = 0u64;
        for (bucket, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Duration::from_micros(representative(bucket).min(self.max));
            }
        }
        self.max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_a_few_percent() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(Duration::from_micros(v));
        }
        for (q, exact) in [(0.5, 5000.0), (0.95, 9500.0), (0.99, 9900.0)] {
            let got = h.quantile(q).as_micros() as f64;
            assert!(
                (got - exact).abs() / exact < 0.035,
                "q{q}: {got} vs {exact}"
            );
        }
        assert_eq!(h.max(), Duration::from_micros(10_000));
        assert_eq!(h.count(), 10_000);
    }

    #[test]
    fn extremes_do_not_overflow() {
        let mut h = Histogram::default();
        h.record(Duration::from_micros(u64::MAX));
        h.record(Duration::ZERO);
        assert_eq!(h.quantile(1.0), Duration::from_micros(u64::MAX));
        assert_eq!(h.quantile(0.0), Duration::ZERO);
        assert_eq!(Histogram::default().quantile(0.5), Duration::ZERO);
    }

    #[test]
    fn every_value_maps_inside_the_table() {
        for shift in 0..64 {
            let v = 1u64 << shift;
            for x in [v, v | (v >> 1), v.wrapping_sub(1)] {
                assert!(bucket_of(x) < BUCKETS);
                let r = representative(bucket_of(x));
                assert!(r >= x / 2 && r / 2 <= x.max(1), "{x} -> {r}");
            }
        }
    }
}
