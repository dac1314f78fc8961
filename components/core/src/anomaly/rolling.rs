//! Rolling mean and standard deviation over the last `n` values, with
//! exact integer sums (a window sum: no drift however long it rolls), and
//! the points beyond `k` standard deviations above the values before them.

use std::collections::VecDeque;

/// The last `cap` values and their sums.
#[derive(Debug, Clone)]
pub struct Window {
    cap: usize,
    values: VecDeque<i64>,
    sum: i128,
    sum_sq: i128,
}

/// Mean and population standard deviation of a full window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// The mean.
    pub mean: f64,
    /// The population standard deviation.
    pub std: f64,
}

impl Window {
    /// An empty window of `cap` values (at least one).
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Window {
            cap,
            values: VecDeque::with_capacity(cap),
            sum: 0,
            sum_sq: 0,
        }
    }

    /// Add `x`, dropping the oldest value when full.
    pub fn push(&mut self, x: i64) {
        if self.values.len() == self.cap {
            if let Some(old) = self.values.pop_front() {
                self.sum -= old as i128;
                self.sum_sq -= (old as i128) * (old as i128);
            }
        }
        self.values.push_back(x);
        self.sum += x as i128;
        self.sum_sq += (x as i128) * (x as i128);
    }

    /// Values held.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether it holds `cap` values.
    pub fn is_full(&self) -> bool {
        self.values.len() == self.cap
    }

    /// Mean and standard deviation, once full.
    pub fn stats(&self) -> Option<Stats> {
        if !self.is_full() {
            return None;
        }
        let n = self.values.len() as i128;
        // n²·variance = n·Σx² − (Σx)², exact in integers.
        let scaled = n * self.sum_sq - self.sum * self.sum;
        let nf = n as f64;
        Some(Stats {
            mean: self.sum as f64 / nf,
            std: (scaled.max(0) as f64).sqrt() / nf,
        })
    }
}

/// A value beyond the threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outlier {
    /// Its position in the series.
    pub index: usize,
    /// The value.
    pub value: i64,
    /// The window before it.
    pub stats: Stats,
    /// How many standard deviations above the mean.
    pub sigmas: f64,
}

/// The values of `series[from..]` more than `k` standard deviations above
/// the mean of the `window` values just before each (which may include
/// earlier values of `series[..from]`). A value is only judged against a
/// full window whose standard deviation is at least `min_std` (a flat
/// window would make any change infinitely many deviations).
pub fn outliers(series: &[i64], from: usize, window: usize, k: f64, min_std: f64) -> Vec<Outlier> {
    let mut w = Window::new(window);
    let mut found = Vec::new();
    for (index, &value) in series.iter().enumerate() {
        if index >= from {
            if let Some(stats) = w.stats().filter(|s| s.std >= min_std) {
                let sigmas = (value as f64 - stats.mean) / stats.std;
                if sigmas > k {
                    found.push(Outlier {
                        index,
                        value,
                        stats,
                        sigmas,
                    });
                }
            }
        }
        w.push(value);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(xs: &[i64]) -> Stats {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<i64>() as f64 / n;
        let var = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        Stats {
            mean,
            std: var.sqrt(),
        }
    }

    #[test]
    fn the_window_matches_a_direct_computation_as_it_rolls() {
        let xs: Vec<i64> = (0..500).map(|i| 20_000 + (i * 7919) % 3001).collect();
        let mut w = Window::new(50);
        for (i, &x) in xs.iter().enumerate() {
            w.push(x);
            if i < 49 {
                assert_eq!(w.stats(), None);
                continue;
            }
            let got = w.stats().unwrap();
            let want = naive(&xs[i + 1 - 50..=i]);
            assert!((got.mean - want.mean).abs() < 1e-6, "{i}");
            assert!((got.std - want.std).abs() < 1e-6, "{i}");
        }
        assert_eq!(w.len(), 50);
    }

    #[test]
    fn huge_values_keep_exact_sums() {
        let mut w = Window::new(3);
        for x in [i64::MAX / 4, i64::MAX / 4, i64::MAX / 4] {
            w.push(x);
        }
        assert_eq!(w.stats().unwrap().std, 0.0);
    }

    #[test]
    fn a_spike_after_a_steady_series_is_found_and_nothing_else() {
        let mut xs: Vec<i64> = (0..60).map(|i| 10_000 + (i % 5) * 100).collect();
        xs.push(50_000);
        xs.push(10_200);
        let found = outliers(&xs, 0, 50, 3.0, 1.0);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].index, found[0].value), (60, 50_000));
        assert!(found[0].sigmas > 3.0);
        // Only what is at or after `from` is judged.
        assert!(outliers(&xs, 61, 50, 3.0, 1.0).is_empty());
    }

    #[test]
    fn short_or_flat_windows_judge_nothing() {
        let mut short: Vec<i64> = (0..49).map(|i| 10_000 + (i % 5) * 100).collect();
        short.push(90_000);
        assert!(outliers(&short, 0, 50, 3.0, 1.0).is_empty());
        let mut flat = vec![10_000; 50];
        flat.push(90_000);
        assert!(outliers(&flat, 0, 50, 3.0, 1.0).is_empty());
        // A drop is not an anomaly: only slow points count.
        let mut fast: Vec<i64> = (0..50).map(|i| 10_000 + (i % 5) * 100).collect();
        fast.push(10);
        assert!(outliers(&fast, 0, 50, 3.0, 1.0).is_empty());
    }
}
