//! Forecasting daily series (load: jobs per day; revenue per day) by
//! additive Holt-Winters with a weekly season, with prediction intervals
//! and a backtest.
//!
//! The method, for a daily series `y` with season length `m = 7`:
//! - **State**: level `l`, trend `b`, seasonal indices `s[0..7]`,
//!   initialised from the first two weeks (the difference of the two
//!   weeks' means over 7 is the trend, the first week's mean the level at
//!   its middle day, its deviations from that trend line the seasonals).
//! - **Updates** (the classic smoothing equations) for every day `t`:
//!   `l' = α(y − s[t mod 7]) + (1 − α)(l + b)`,
//!   `b' = β(l' − l) + (1 − β)b`,
//!   `s[t mod 7] = γ(y − l') + (1 − γ)s[t mod 7]`.
//! - **Parameters**: `α, β, γ` from a fixed grid (9 × 5 × 5), the triple
//!   with the smallest sum of squared one-step-ahead errors over the
//!   history after its first week.
//! - **Forecast** `h` days after the last: `l + h·b + s[(n + h − 1) mod 7]`,
//!   never below zero.
//! - **Intervals**: the forecast error variance of the equivalent
//!   innovations state-space model ETS(A,A,A) (Hyndman et al., 2008):
//!   `σ²·(1 + Σ_{j=1}^{h−1} c_j²)` with `c_j = α + αβ·j + (1 − α)γ·[j mod 7 = 0]`,
//!   `σ²` the mean squared one-step error; 80 % and 95 % intervals use
//!   z = 1.2816 and 1.96.
//! - **Backtest**: with at least three weeks of history, the last
//!   `min(14, n − 14)` days are held out, the method is fitted (parameters
//!   chosen again) on the rest, and its forecast of the held-out days is
//!   scored: MAE, RMSE, MAPE over non-zero days, and the share of days
//!   inside the 95 % interval.
//!
//! With less than two weeks of history there is no season to learn: a
//! least-squares line (with the ordinary regression prediction interval),
//! or with fewer than two days a flat zero-width forecast, and the answer
//! names the method used.

use super::figures;
use crate::error::{Error, Result};
use crate::money::{Currency, Money};
use crate::ports::Env;
use crate::tenancy::Scope;
use crate::time::{date, DAY_MS};
use serde::Serialize;
use serde_json::{json, Value};

/// Days in a season.
pub const SEASON: usize = 7;
const Z80: f64 = 1.2816;
const Z95: f64 = 1.96;
const ALPHAS: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const BETAS: [f64; 5] = [0.0, 0.05, 0.1, 0.2, 0.3];
const GAMMAS: [f64; 5] = [0.05, 0.1, 0.2, 0.3, 0.5];

/// Smoothing parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {
    /// Level.
    pub alpha: f64,
    /// Trend.
    pub beta: f64,
    /// Season.
    pub gamma: f64,
}

/// One forecast day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// Days after the last day of history (1 = tomorrow).
    pub ahead: usize,
    /// The point forecast.
    pub value: f64,
    /// 80 % interval.
    pub lower_80: f64,
    /// 80 % interval.
    pub upper_80: f64,
    /// 95 % interval.
    pub lower_95: f64,
    /// 95 % interval.
    pub upper_95: f64,
}

/// How the method did on held-out history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Backtest {
    /// Days held out.
    pub holdout_days: usize,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute percentage error over held-out days with a non-zero
    /// actual (`None` if all were zero).
    pub mape_pct: Option<f64>,
    /// Share of held-out days inside the 95 % interval.
    pub coverage_95: f64,
}

/// A fitted forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    /// `holt_winters_additive_weekly`, `linear_trend` or `flat`.
    pub method: &'static str,
    /// The chosen parameters (Holt-Winters only).
    pub parameters: Option<Params>,
    /// Root mean squared one-step error on the history.
    pub sigma: f64,
    /// Days of history fitted.
    pub history_days: usize,
    /// The forecast.
    pub points: Vec<Point>,
    /// The backtest, when the history is long enough.
    pub backtest: Option<Backtest>,
}

struct Fit {
    level: f64,
    trend: f64,
    season: [f64; SEASON],
    sse: f64,
    errors: usize,
}

fn fit_hw(y: &[f64], p: Params) -> Fit {
    let m = SEASON;
    let first = y[..m].iter().sum::<f64>() / m as f64;
    let second = y[m..2 * m].iter().sum::<f64>() / m as f64;
    let mut trend = (second - first) / m as f64;
    // The first week's mean is its level at its middle day; the state
    // describes the day before the first, and the seasonals are the first
    // week's deviations from its trend line.
    let middle = (m as f64 - 1.0) / 2.0;
    let mut level = first - trend * (middle + 1.0);
    let mut season = [0.0; SEASON];
    for (i, s) in season.iter_mut().enumerate() {
        *s = y[i] - (first + trend * (i as f64 - middle));
    }
    let (mut sse, mut errors) = (0.0, 0);
    for (t, &obs) in y.iter().enumerate() {
        let i = t % m;
        let predicted = level + trend + season[i];
        if t >= m {
            sse += (obs - predicted).powi(2);
            errors += 1;
        }
        let new_level = p.alpha * (obs - season[i]) + (1.0 - p.alpha) * (level + trend);
        trend = p.beta * (new_level - level) + (1.0 - p.beta) * trend;
        season[i] = p.gamma * (obs - new_level) + (1.0 - p.gamma) * season[i];
        level = new_level;
    }
    Fit {
        level,
        trend,
        season,
        sse,
        errors,
    }
}

fn best_params(y: &[f64]) -> (Params, Fit) {
    let mut best: Option<(Params, Fit)> = None;
    for &alpha in &ALPHAS {
        for &beta in &BETAS {
            for &gamma in &GAMMAS {
                let p = Params { alpha, beta, gamma };
                let f = fit_hw(y, p);
                if best.as_ref().is_none_or(|(_, b)| f.sse < b.sse) {
                    best = Some((p, f));
                }
            }
        }
    }
    best.expect("the grid is not empty")
}

fn point(ahead: usize, value: f64, sd: f64) -> Point {
    let floor = |v: f64| v.max(0.0);
    Point {
        ahead,
        value: floor(value),
        lower_80: floor(value - Z80 * sd),
        upper_80: floor(value + Z80 * sd),
        lower_95: floor(value - Z95 * sd),
        upper_95: floor(value + Z95 * sd),
    }
}

fn holt_winters(y: &[f64], horizon: usize) -> (Params, f64, Vec<Point>) {
    let (p, f) = best_params(y);
    let sigma2 = if f.errors > 0 {
        f.sse / f.errors as f64
    } else {
        0.0
    };
    let n = y.len();
    let (a, b, g) = (p.alpha, p.alpha * p.beta, (1.0 - p.alpha) * p.gamma);
    let mut sum_c2 = 0.0;
    let mut points = Vec::with_capacity(horizon);
    for h in 1..=horizon {
        if h > 1 {
            let j = h - 1;
            let c = a + b * j as f64 + if j % SEASON == 0 { g } else { 0.0 };
            sum_c2 += c * c;
        }
        let value = f.level + h as f64 * f.trend + f.season[(n + h - 1) % SEASON];
        points.push(point(h, value, (sigma2 * (1.0 + sum_c2)).sqrt()));
    }
    (p, sigma2.sqrt(), points)
}

fn linear(y: &[f64], horizon: usize) -> (f64, Vec<Point>) {
    let n = y.len() as f64;
    let (a, slope) =
        crate::scale::forecast::fit(y).unwrap_or((y.first().copied().unwrap_or(0.0), 0.0));
    let mean_x = (n - 1.0) / 2.0;
    let sxx: f64 = (0..y.len()).map(|i| (i as f64 - mean_x).powi(2)).sum();
    let sse: f64 = y
        .iter()
        .enumerate()
        .map(|(i, v)| (v - (a + slope * i as f64)).powi(2))
        .sum();
    let sigma = if y.len() > 2 {
        (sse / (n - 2.0)).sqrt()
    } else {
        0.0
    };
    let points = (1..=horizon)
        .map(|h| {
            let x = n - 1.0 + h as f64;
            let spread = if sxx > 0.0 {
                (1.0 + 1.0 / n + (x - mean_x).powi(2) / sxx).sqrt()
            } else {
                1.0
            };
            point(h, a + slope * x, sigma * spread)
        })
        .collect();
    (sigma, points)
}

fn score(actual: &[f64], points: &[Point]) -> Backtest {
    let n = actual.len() as f64;
    let mut abs = 0.0;
    let mut sq = 0.0;
    let (mut pct, mut nonzero, mut inside) = (0.0, 0usize, 0usize);
    for (y, p) in actual.iter().zip(points) {
        let e = y - p.value;
        abs += e.abs();
        sq += e * e;
        if *y != 0.0 {
            pct += (e / y).abs();
            nonzero += 1;
        }
        if *y >= p.lower_95 && *y <= p.upper_95 {
            inside += 1;
        }
    }
    Backtest {
        holdout_days: actual.len(),
        mae: round(abs / n),
        rmse: round((sq / n).sqrt()),
        mape_pct: (nonzero > 0).then(|| round(100.0 * pct / nonzero as f64)),
        coverage_95: round(inside as f64 / n),
    }
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Forecast `horizon` days after the last of `y` (oldest first).
pub fn forecast(y: &[f64], horizon: usize) -> Forecast {
    let n = y.len();
    if n >= 2 * SEASON {
        let (p, sigma, points) = holt_winters(y, horizon);
        let backtest = (n >= 3 * SEASON).then(|| {
            let hold = 14.min(n - 2 * SEASON);
            let (_, _, predicted) = holt_winters(&y[..n - hold], hold);
            score(&y[n - hold..], &predicted)
        });
        return Forecast {
            method: "holt_winters_additive_weekly",
            parameters: Some(p),
            sigma: round(sigma),
            history_days: n,
            points,
            backtest,
        };
    }
    let (method, sigma, points) = if n >= 2 {
        let (s, p) = linear(y, horizon);
        ("linear_trend", s, p)
    } else {
        let v = y.first().copied().unwrap_or(0.0);
        (
            "flat",
            0.0,
            (1..=horizon).map(|h| point(h, v, 0.0)).collect(),
        )
    };
    Forecast {
        method,
        parameters: None,
        sigma: round(sigma),
        history_days: n,
        points,
        backtest: None,
    }
}

/// Days of history fitted.
pub const HISTORY_DAYS: i64 = 91;

/// The series from its first non-zero day (a business's first weeks of
/// nothing would read as a season of zeros).
fn trimmed(y: &[f64]) -> &[f64] {
    let start = y.iter().position(|v| *v != 0.0).unwrap_or(y.len());
    &y[start..]
}

fn served(f: &Forecast, first_day: i64, unit: &str, integer: bool) -> Value {
    let r = |v: f64| if integer { v.round() } else { round(v) };
    let points: Vec<Value> = f
        .points
        .iter()
        .map(|p| {
            json!({
                "date": date((first_day + p.ahead as i64 - 1) * DAY_MS),
                "value": r(p.value),
                "lower_80": r(p.lower_80), "upper_80": r(p.upper_80),
                "lower_95": r(p.lower_95), "upper_95": r(p.upper_95),
            })
        })
        .collect();
    json!({
        "unit": unit,
        "method": f.method,
        "parameters": f.parameters,
        "sigma": f.sigma,
        "history_days": f.history_days,
        "backtest": f.backtest,
        "total": r(f.points.iter().map(|p| p.value).sum::<f64>()),
        "points": points,
    })
}

/// `GET /api/forecast?days=`: load (jobs created per day) and net revenue
/// per day (in `finance_currency`, each day's revenue converted at that
/// day's rate) for the next `days` days, fitted on the last
/// [`HISTORY_DAYS`] complete days.
pub fn report(env: &Env, scope: &Scope, days: i64) -> Result<Value> {
    if !(1..=90).contains(&days) {
        return Err(Error::bad_request("invalid_days", "`days` is 1 to 90"));
    }
    let today = env.clock.now_ms().div_euclid(DAY_MS);
    let first = today - HISTORY_DAYS;
    let (from_ms, to_ms) = (first * DAY_MS, today * DAY_MS);
    let jobs = figures::jobs_by_day(env, scope, from_ms, to_ms)?;
    let load: Vec<f64> = (first..today)
        .map(|d| *jobs.get(&d).unwrap_or(&0) as f64)
        .collect();
    let horizon = days as usize;
    let load_forecast = forecast(trimmed(&load), horizon);
    let to = figures::report_currency(env)?;
    let book = super::rates::book(env)?;
    let mut revenue = vec![0.0; HISTORY_DAYS as usize];
    let mut missing = Vec::new();
    let mut conversions = 0;
    for ((day, code), r) in figures::revenue_by_day(env, scope, from_ms, to_ms)? {
        let converted =
            Currency::parse(&code).and_then(|c| book.convert(Money::new(r.net(), c), to, day));
        match converted {
            Ok(c) => {
                revenue[(day - first) as usize] += c.amount.amount as f64;
                conversions += usize::from(c.from.currency != to);
            }
            Err(_) => {
                if !missing.contains(&code) {
                    missing.push(code);
                }
            }
        }
    }
    let revenue_view = if missing.is_empty() {
        let mut v = served(
            &forecast(trimmed(&revenue), horizon),
            today,
            "minor units per day",
            true,
        );
        v["currency"] = json!(to);
        v["converted_days"] = json!(conversions);
        v
    } else {
        json!({ "currency": to, "unavailable": true, "missing_rates": missing })
    };
    Ok(json!({
        "days": days,
        "from": date(today * DAY_MS),
        "history": { "from": date(from_ms), "to": date(to_ms - DAY_MS), "days": HISTORY_DAYS },
        "tenant_id": scope.tenant().map(|t| t.as_str()),
        "method": "Holt-Winters, additive, weekly season (m = 7); parameters by least one-step squared error on a grid; intervals from the ETS(A,A,A) forecast variance; backtest on the last 14 days held out",
        "load": served(&load_forecast, today, "jobs per day", false),
        "revenue": revenue_view,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A weekly pattern with a trend and deterministic noise.
    fn seasonal(days: usize, noise: f64) -> Vec<f64> {
        const WEEK: [f64; 7] = [120.0, 135.0, 140.0, 138.0, 125.0, 60.0, 45.0];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..days)
            .map(|t| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let u = (seed % 10_000) as f64 / 10_000.0 - 0.5;
                WEEK[t % 7] + 0.8 * t as f64 + noise * 2.0 * u
            })
            .collect()
    }

    #[test]
    fn a_noiseless_seasonal_series_with_trend_is_learnt_exactly_enough() {
        let y = seasonal(84, 0.0);
        let f = forecast(&y, 14);
        assert_eq!(f.method, "holt_winters_additive_weekly");
        let bt = f.backtest.unwrap();
        assert!(bt.mape_pct.unwrap() < 2.0, "{bt:?}");
        // Tomorrow is day 84 of the pattern.
        let expected = [120.0, 135.0, 140.0, 138.0, 125.0, 60.0, 45.0][84 % 7] + 0.8 * 84.0;
        assert!(
            (f.points[0].value - expected).abs() < 3.0,
            "{:?} vs {expected}",
            f.points[0]
        );
    }

    #[test]
    fn a_noisy_seasonal_series_is_forecast_within_ten_percent_and_its_intervals_cover() {
        let y = seasonal(90, 20.0);
        let f = forecast(&y, 30);
        let bt = f.backtest.unwrap();
        println!(
            "backtest on the synthetic series: {bt:?}, parameters {:?}",
            f.parameters
        );
        assert_eq!(bt.holdout_days, 14);
        assert!(bt.mape_pct.unwrap() < 10.0, "{bt:?}");
        assert!(bt.coverage_95 >= 0.7, "{bt:?}");
        assert_eq!(f.points.len(), 30);
        for w in f.points.windows(2) {
            let width = |p: &Point| p.upper_95 - p.lower_95;
            // Intervals never narrow with the horizon (before clamping at 0).
            assert!(width(&w[1]) >= width(&w[0]) - 1e-9 || w[1].lower_95 == 0.0);
        }
        for p in &f.points {
            assert!(p.lower_95 <= p.lower_80 && p.lower_80 <= p.value && p.value <= p.upper_80);
            assert!(p.upper_80 <= p.upper_95);
        }
    }

    #[test]
    fn short_histories_fall_back_and_say_so() {
        let f = forecast(&[1.0, 2.0, 3.0, 4.0], 3);
        assert_eq!(f.method, "linear_trend");
        assert!((f.points[0].value - 5.0).abs() < 1e-9);
        assert!(f.backtest.is_none());
        let flat = forecast(&[7.0], 2);
        assert_eq!((flat.method, flat.points[1].value), ("flat", 7.0));
        assert_eq!(forecast(&[], 1).points[0].value, 0.0);
        // Never negative.
        let down = forecast(&[10.0, 5.0, 0.0], 5);
        assert!(down
            .points
            .iter()
            .all(|p| p.value >= 0.0 && p.lower_95 >= 0.0));
    }
}
