//! Referrals (seeds, phase 120): codes, clicks, signups, conversions from
//! real payments, commissions held for a refund window, reversals, payouts.
//!
//! - [`codes`]: a code per referrer and campaign (`POST
//!   /api/growth/referral/create`, idempotent), clicks counted per day,
//!   signups (one per customer email and tenant). Self-referrals (the
//!   referrer's own email) and duplicate signups are refused and recorded.
//! - [`commissions`]: a live-mode payment by a referred customer earns the
//!   code's commission (`referral_commission_pct`, 20 % by default) of the
//!   amount, payable once the refund window (`referral_hold_days`, 30)
//!   has passed. A refund or dispute reverses the commission on the
//!   refunded part: before payout the two mature together and cancel out;
//!   after payout the reversal is payable at once, so it is netted against
//!   the referrer's next payout.
//! - [`payouts`]: the leaderboard, the payout CSV (the seeds' columns, only
//!   referrers owed at least `referral_min_payout_usd`), and recording a
//!   payout.
//!
//! Emails are compared in a canonical form: lower case, without a
//! `+suffix` in the local part, so `Ann+promo@x.com` is Ann.

pub mod api;
pub mod codes;
pub mod commissions;
pub mod payouts;

use crate::config;
use crate::error::Result;
use crate::ports::Config;

/// The canonical form of an email for matching referrals.
pub fn canonical_email(email: &str) -> String {
    let lower = email.trim().to_ascii_lowercase();
    match lower.split_once('@') {
        Some((local, domain)) => {
            let local = local.split('+').next().unwrap_or(local);
            format!("{local}@{domain}")
        }
        None => lower,
    }
}

/// The default commission, in basis points (`referral_commission_pct`).
pub fn default_commission_bps(c: &dyn Config) -> Result<i64> {
    let pct = config::float(c, "referral_commission_pct", 20.0, 0.0, 100.0)?;
    Ok((pct * 100.0).round() as i64)
}

/// The refund window, in ms (`referral_hold_days`, 0 to 365).
pub fn hold_ms(c: &dyn Config) -> Result<i64> {
    Ok(config::int(c, "referral_hold_days", 30, 0, 365)? * crate::time::DAY_MS)
}

/// The smallest payout, in US cents (`referral_min_payout_usd`).
pub fn min_payout_cents(c: &dyn Config) -> Result<i64> {
    let usd = config::float(c, "referral_min_payout_usd", 50.0, 0.0, 1_000_000.0)?;
    Ok((usd * 100.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_match_without_case_or_plus_suffix() {
        assert_eq!(
            canonical_email(" Ann+promo@Example.COM "),
            "ann@example.com"
        );
        assert_eq!(canonical_email("bob@x.io"), "bob@x.io");
        assert_eq!(canonical_email("no-at-sign"), "no-at-sign");
    }
}
