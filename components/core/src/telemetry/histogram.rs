//! Latency histograms with fixed buckets, as stored in the rollups and
//! exposed to Prometheus.

/// Upper bounds of the buckets in milliseconds; a last bucket (`+Inf`)
/// takes the rest. Twelve buckets in all (`b0` .. `b11` in the tables).
pub const BOUNDS_MS: [f64; 11] = [
    5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];
/// Number of buckets, `+Inf` included.
pub const BUCKETS: usize = BOUNDS_MS.len() + 1;

/// The SQL expression that yields 1 when `latency_us` falls in bucket `i`
/// (non-cumulative), for folding samples into rollups.
pub fn bucket_case(i: usize) -> String {
    let upper = BOUNDS_MS.get(i).map(|b| (b * 1000.0) as i64);
    let lower = i.checked_sub(1).map(|j| (BOUNDS_MS[j] * 1000.0) as i64);
    match (lower, upper) {
        (None, Some(u)) => format!("SUM(latency_us <= {u})"),
        (Some(l), Some(u)) => format!("SUM(latency_us > {l} AND latency_us <= {u})"),
        (Some(l), None) => format!("SUM(latency_us > {l})"),
        (None, None) => unreachable!("there is more than one bucket"),
    }
}

/// The bucket of a latency in microseconds.
pub fn bucket_index(latency_us: i64) -> usize {
    let ms = latency_us as f64 / 1000.0;
    BOUNDS_MS
        .iter()
        .position(|b| ms <= *b)
        .unwrap_or(BUCKETS - 1)
}

/// Request counts per bucket (not cumulative) plus their count and sum.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Count per bucket.
    pub buckets: [i64; BUCKETS],
    /// Number of observations.
    pub count: i64,
    /// Sum of observations, microseconds.
    pub sum_us: i64,
}

impl Histogram {
    /// Add one observation.
    pub fn observe(&mut self, latency_us: i64) {
        self.buckets[bucket_index(latency_us)] += 1;
        self.count += 1;
        self.sum_us += latency_us;
    }

    /// Add another histogram.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.sum_us += other.sum_us;
    }

    /// The `q` quantile (0..1) in milliseconds, interpolated linearly inside
    /// its bucket as Prometheus' `histogram_quantile` does; the `+Inf`
    /// bucket answers its lower bound. `None` without observations.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * self.count as f64;
        let mut seen = 0.0;
        for (i, n) in self.buckets.iter().enumerate() {
            let n = *n as f64;
            if n > 0.0 && seen + n >= rank {
                let lower = if i == 0 { 0.0 } else { BOUNDS_MS[i - 1] };
                let Some(upper) = BOUNDS_MS.get(i) else {
                    return Some(lower);
                };
                return Some(lower + (upper - lower) * ((rank - seen) / n).clamp(0.0, 1.0));
            }
            seen += n;
        }
        Some(BOUNDS_MS[BOUNDS_MS.len() - 1])
    }

    /// Mean latency in milliseconds.
    pub fn mean_ms(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_us as f64 / self.count as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_buckets() {
        let mut h = Histogram::default();
        for us in [1_000, 5_000, 5_001, 10_000_000, 10_000_001] {
            h.observe(us);
        }
        assert_eq!(h.buckets[0], 2, "1 ms and exactly 5 ms");
        assert_eq!(h.buckets[1], 1);
        assert_eq!(h.buckets[10], 1, "exactly 10 s");
        assert_eq!(h.buckets[11], 1, "over 10 s");
        assert_eq!(h.count, 5);
    }

    #[test]
    fn quantiles_interpolate_within_a_bucket() {
        let mut h = Histogram::default();
        for _ in 0..100 {
            h.observe(30_000); // 25..50 ms bucket
        }
        assert_eq!(h.quantile_ms(0.5), Some(37.5));
        assert_eq!(h.quantile_ms(1.0), Some(50.0));
        assert_eq!(Histogram::default().quantile_ms(0.95), None);
        let mut slow = Histogram::default();
        slow.observe(60_000_000);
        assert_eq!(slow.quantile_ms(0.99), Some(10_000.0));
    }

    #[test]
    fn the_sql_buckets_agree_with_observe() {
        assert_eq!(bucket_case(0), "SUM(latency_us <= 5000)");
        assert_eq!(
            bucket_case(1),
            "SUM(latency_us > 5000 AND latency_us <= 10000)"
        );
        assert_eq!(bucket_case(11), "SUM(latency_us > 10000000)");
    }
}
