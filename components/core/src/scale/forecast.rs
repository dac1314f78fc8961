//! The arrival forecast: an ordinary least-squares line through the
//! per-minute arrivals of the last hour, extrapolated ahead.

use serde::Serialize;

/// The forecast as served.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Forecast {
    /// Minutes of arrivals the line was fitted to.
    pub window_minutes: usize,
    /// How far past the last fitted minute it looks.
    pub horizon_minutes: i64,
    /// The fitted trend, jobs per minute per minute.
    pub slope_per_min: f64,
    /// The line at the horizon, jobs per minute (never negative).
    pub arrival_rate_per_min: f64,
}

/// Intercept and slope of the least-squares line through `(i, ys[i])`,
/// `None` for fewer than two points.
pub fn fit(ys: &[f64]) -> Option<(f64, f64)> {
    let n = ys.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mean_x = (nf - 1.0) / 2.0;
    let mean_y = ys.iter().sum::<f64>() / nf;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in ys.iter().enumerate() {
        let dx = i as f64 - mean_x;
        sxy += dx * (y - mean_y);
        sxx += dx * dx;
    }
    let slope = sxy / sxx;
    Some((mean_y - slope * mean_x, slope))
}

/// The forecast `horizon` minutes after the last of `per_minute` (oldest
/// first). Without two points the rate is flat at what there is.
pub fn forecast(per_minute: &[i64], horizon: i64) -> Forecast {
    let ys: Vec<f64> = per_minute.iter().map(|&n| n as f64).collect();
    let (rate, slope) = match fit(&ys) {
        Some((a, b)) => (a + b * ((ys.len() - 1) as f64 + horizon as f64), b),
        None => (ys.first().copied().unwrap_or(0.0), 0.0),
    };
    Forecast {
        window_minutes: per_minute.len(),
        horizon_minutes: horizon,
        slope_per_min: round3(slope),
        arrival_rate_per_min: round3(rate.max(0.0)),
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_straight_line_is_fitted_exactly() {
        let ys: Vec<f64> = (0..60).map(|i| 3.0 + 0.5 * i as f64).collect();
        let (a, b) = fit(&ys).unwrap();
        assert!((a - 3.0).abs() < 1e-9 && (b - 0.5).abs() < 1e-9, "{a} {b}");
    }

    #[test]
    fn a_rising_series_is_extrapolated_and_a_falling_one_stops_at_zero() {
        // One more job a minute every 10 minutes: 0..5 over the hour.
        let rising: Vec<i64> = (0..60).map(|i| i / 10).collect();
        let f = forecast(&rising, 30);
        assert!(f.slope_per_min > 0.09 && f.slope_per_min < 0.11, "{f:?}");
        assert!(
            f.arrival_rate_per_min > 7.0 && f.arrival_rate_per_min < 9.0,
            "{f:?}"
        );
        let falling: Vec<i64> = (0..60).map(|i| 60 - i).collect();
        assert_eq!(forecast(&falling, 120).arrival_rate_per_min, 0.0);
    }

    #[test]
    fn flat_and_degenerate_series() {
        assert_eq!(forecast(&[4; 60], 30).arrival_rate_per_min, 4.0);
        assert_eq!(forecast(&[7], 30).arrival_rate_per_min, 7.0);
        assert_eq!(forecast(&[], 30).arrival_rate_per_min, 0.0);
        assert_eq!(fit(&[1.0]), None);
    }
}
