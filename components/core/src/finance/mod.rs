//! Finance: what money the platform makes and spends, and what tenants owe.
//!
//! - [`figures`]: revenue (payments ledger), AI cost (job attempts),
//!   infrastructure cost (`infra_cost_daily`), by day and tenant scope.
//! - [`finops`]: `GET /api/finops/summary` and `/api/finops/tenants`
//!   (seeds, phase 117): revenue, costs, profit, margin, ROI.
//! - [`pnl`]: `GET /api/finance/pnl`, daily or monthly, per currency.
//! - [`forecast`]: `GET /api/forecast`, load and revenue by additive
//!   Holt-Winters with intervals and a backtest.
//! - [`rates`]: exchange rates from the `exchange_rates` variable and
//!   `POST /api/finance/rates`; [`crate::money`] converts with them.
//! - [`plans`], [`billing`]: plan prices, per-tenant billing settings
//!   (the unpaid-jobs policy), monthly usage and invoice drafts.
//! - [`api`]: the api-finance component (with the referral routes of
//!   [`crate::referrals::api`]).
//!
//! Tenant users see their own tenant only: every figure takes the scope
//! the guard resolved.

pub mod api;
pub mod billing;
pub mod figures;
pub mod finops;
pub mod forecast;
pub mod plans;
pub mod pnl;
pub mod rates;
