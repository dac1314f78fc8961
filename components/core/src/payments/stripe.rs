//! The slice of Stripe's REST API EchoPilot uses: one [`call`] (form-encoded
//! POSTs, each with an `Idempotency-Key`; retries; errors mapped once), the
//! charges list reconciliation reads (`GET /v1/charges`, page by page), and
//! the objects the ledger keeps.
//!
//! Stripe is the source of truth for money. This client never logs or
//! returns the secret key: error texts pass through [`redact`] before they
//! leave this module.

use crate::config;
use crate::error::{Error, Result};
use crate::incidents::channels::{redact, retryable};
use crate::ports::{Config, Env, HttpError, OutboundRequest};
use serde::Serialize;
use serde_json::Value;

/// Charges per page: Stripe's maximum.
pub const PAGE_SIZE: usize = 100;
/// Give up on a request after this long.
const TIMEOUT_MS: u64 = 30_000;
/// The longest Retry-After honoured inside one call.
const MAX_WAIT_MS: u64 = 5_000;

/// Where Stripe is and how to authenticate.
#[derive(Debug, Clone, PartialEq)]
pub struct Stripe {
    /// `stripe_secret_key` (a secret key, or a restricted key with the
    /// permissions of the features used: charges read for reconciliation;
    /// Checkout Sessions, refunds, customers and invoices write for
    /// billing).
    pub secret_key: String,
    /// `stripe_base_url` (an origin).
    pub base_url: String,
}

/// Stripe settings, or `None` when `stripe_secret_key` is empty (payments
/// are not configured: nothing to reconcile, and that is not an error).
pub fn settings(c: &dyn Config) -> Result<Option<Stripe>> {
    let Some(secret_key) = config::text(c, "stripe_secret_key")? else {
        return Ok(None);
    };
    Ok(Some(Stripe {
        secret_key,
        base_url: config::origin(c, "stripe_base_url", "https://api.stripe.com")?,
    }))
}

/// One charge, as the ledger keeps it. Amounts are in the currency's
/// minor units (cents), as Stripe sends them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Charge {
    /// `ch_...`.
    pub id: String,
    /// The tenant the charge paid for (`metadata.tenant_id`), if it says.
    pub tenant_id: Option<String>,
    /// `cus_...`, if any.
    pub customer: Option<String>,
    /// `pi_...`, if any.
    pub payment_intent: Option<String>,
    /// Charged amount.
    pub amount: i64,
    /// Refunded so far.
    pub amount_refunded: i64,
    /// Lower-case ISO 4217 code.
    pub currency: String,
    /// `succeeded`, `pending` or `failed`.
    pub status: String,
    /// Whether a dispute was opened.
    pub disputed: bool,
    /// The charge's description.
    pub description: Option<String>,
    /// Live (true) or test mode.
    pub livemode: bool,
    /// When Stripe created it, Unix ms.
    pub created_at: i64,
}

impl Charge {
    /// Parse one charge object; `None` if a required field is missing or
    /// mistyped (the caller reports it rather than guessing).
    pub fn parse(v: &Value) -> Option<Charge> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let id = text("id").filter(|s| !s.is_empty())?;
        let status = text("status")?;
        let currency = text("currency")?.to_ascii_lowercase();
        let tenant_id = v
            .pointer("/metadata/tenant_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        Some(Charge {
            id,
            tenant_id,
            customer: text("customer"),
            payment_intent: text("payment_intent"),
            amount: v.get("amount")?.as_i64()?,
            amount_refunded: v
                .get("amount_refunded")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            currency,
            status,
            disputed: v.get("disputed").and_then(Value::as_bool).unwrap_or(false),
            description: text("description"),
            livemode: v.get("livemode").and_then(Value::as_bool).unwrap_or(false),
            created_at: v.get("created")?.as_i64()?.checked_mul(1000)?,
        })
    }
}

/// One page of charges.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The charges, newest first (Stripe's order).
    pub charges: Vec<Charge>,
    /// Objects on the page that could not be parsed (their ids if any).
    pub unreadable: Vec<String>,
    /// Whether more pages follow.
    pub has_more: bool,
    /// The id of the page's last object, readable or not: where the next
    /// page starts (`starting_after`).
    pub last_id: Option<String>,
}

/// The query string of one page: charges created in `[from_s, to_s)`
/// (Unix seconds), after charge `after` when continuing.
pub fn list_query(from_s: i64, to_s: i64, after: Option<&str>) -> String {
    let mut q = format!("limit={PAGE_SIZE}&created%5Bgte%5D={from_s}&created%5Blt%5D={to_s}");
    if let Some(a) = after {
        q.push_str("&starting_after=");
        q.push_str(&crate::ports::form_encode(a));
    }
    q
}

/// Parse a list answer.
pub fn parse_page(body: &Value) -> Result<Page> {
    let data = body.get("data").and_then(Value::as_array).ok_or_else(|| {
        Error::unavailable(
            "stripe_unavailable",
            "Stripe answered without a `data` list",
        )
    })?;
    let mut page = Page {
        charges: Vec::with_capacity(data.len()),
        unreadable: Vec::new(),
        has_more: body
            .get("has_more")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        last_id: data
            .last()
            .and_then(|o| o.get("id"))
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_string),
    };
    for item in data {
        match Charge::parse(item) {
            Some(c) => page.charges.push(c),
            None => page.unreadable.push(
                item.get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("(no id)")
                    .chars()
                    .take(64)
                    .collect(),
            ),
        }
    }
    Ok(page)
}

/// Stripe's own words for a failed answer (`error.message`), or the status.
fn message(status: u16, body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .map(|m| m.chars().take(300).collect())
        .unwrap_or_else(|| format!("HTTP {status}"))
}

/// One request to Stripe's REST API.
#[derive(Debug, Clone)]
pub struct Call {
    method: &'static str,
    path: String,
    form: Vec<(String, String)>,
    idempotency_key: Option<String>,
    /// What the key must be allowed to do, for the 403 message
    /// (`charges: read`).
    permission: &'static str,
}

impl Call {
    /// `GET path` (with its query).
    pub fn get(path: impl Into<String>, permission: &'static str) -> Call {
        Call {
            method: "GET",
            path: path.into(),
            form: Vec::new(),
            idempotency_key: None,
            permission,
        }
    }

    /// `POST path` with a form body. Every POST carries an
    /// `Idempotency-Key` (Stripe keeps the first answer for 24 hours), so
    /// a retry, a double click or two replicas asking at once never make
    /// a second object.
    pub fn post(
        path: impl Into<String>,
        idempotency_key: impl Into<String>,
        permission: &'static str,
    ) -> Call {
        Call {
            method: "POST",
            path: path.into(),
            form: Vec::new(),
            idempotency_key: Some(idempotency_key.into()),
            permission,
        }
    }

    /// Add a form field (Stripe's bracket syntax for nested fields:
    /// `metadata[job_id]`).
    pub fn field(mut self, name: impl Into<String>, value: impl Into<String>) -> Call {
        self.form.push((name.into(), value.into()));
        self
    }

    /// The form fields, in order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.form
    }

    /// The idempotency key.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }
}

/// Send `call` and return Stripe's JSON answer.
///
/// A 429 with a short Retry-After, a 5xx, a 409 (the same idempotency key
/// still in flight) or a network failure is tried once more (safe: GETs
/// read, POSTs carry their idempotency key); then it is
/// `stripe_unavailable` (503). A key Stripe refuses (401, 403) is
/// `stripe_rejected` (503: the configuration, not the caller, is wrong);
/// any other refusal (400 invalid request, 402 card declined, 404) is
/// `stripe_refused` (422) with Stripe's own words. The key never appears in
/// an error.
pub async fn call(env: &Env, s: &Stripe, call: &Call) -> Result<Value> {
    let url = format!("{}{}", s.base_url, call.path);
    let secrets = [s.secret_key.clone()];
    let pairs: Vec<(&str, &str)> = call
        .form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut last = String::new();
    for attempt in 0..2 {
        let mut req = OutboundRequest::new(call.method, url.clone())
            .header("authorization", format!("Bearer {}", s.secret_key))
            .timeout_ms(TIMEOUT_MS);
        if call.method == "POST" {
            req = req.form(&pairs);
        }
        if let Some(key) = &call.idempotency_key {
            req = req.header("idempotency-key", key.clone());
        }
        let wait_ms = match env.http.send(req).await {
            Ok(resp) if (200..300).contains(&resp.status) => {
                return serde_json::from_slice(&resp.body).map_err(|e| {
                    Error::unavailable(
                        "stripe_unavailable",
                        format!("Stripe's answer is not JSON: {e}"),
                    )
                });
            }
            Ok(resp) if retryable(resp.status) || resp.status == 409 => {
                last = format!(
                    "Stripe answered {}: {}",
                    resp.status,
                    message(resp.status, &resp.body)
                );
                resp.retry_after_secs()
                    .map_or(1_000, |s| (s * 1000.0) as u64)
            }
            Ok(resp) if matches!(resp.status, 401 | 403) => {
                let why = if resp.status == 401 {
                    "stripe_secret_key was rejected".to_string()
                } else {
                    format!(
                        "stripe_secret_key may not do this (a restricted key needs {})",
                        call.permission
                    )
                };
                return Err(Error::unavailable(
                    "stripe_rejected",
                    redact(
                        &format!("{why}: {}", message(resp.status, &resp.body)),
                        &secrets,
                    ),
                ));
            }
            Ok(resp) => {
                return Err(Error::unprocessable(
                    "stripe_refused",
                    redact(
                        &format!(
                            "Stripe refused the request ({}): {}",
                            resp.status,
                            message(resp.status, &resp.body)
                        ),
                        &secrets,
                    ),
                ));
            }
            Err(HttpError::NotAllowed(u)) => {
                return Err(Error::unavailable(
                    "stripe_unavailable",
                    format!("{u} is not in allowed_outbound_hosts (check stripe_base_url)"),
                ))
            }
            Err(e) => {
                last = format!("Stripe unreachable: {e}");
                1_000
            }
        };
        if attempt == 0 && wait_ms <= MAX_WAIT_MS {
            env.clock.sleep(wait_ms).await;
        } else {
            break;
        }
    }
    Err(Error::unavailable(
        "stripe_unavailable",
        redact(&last, &secrets),
    ))
}

/// Fetch one page of charges created in `[from_s, to_s)`.
pub async fn list_charges(
    env: &Env,
    s: &Stripe,
    from_s: i64,
    to_s: i64,
    after: Option<&str>,
) -> Result<Page> {
    let path = format!("/v1/charges?{}", list_query(from_s, to_s, after));
    let body = call(env, s, &Call::get(path, "charges: read")).await?;
    parse_page(&body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_charge_is_read_with_its_tenant_and_amounts_in_minor_units() {
        let c = Charge::parse(&json!({
            "id": "ch_1", "object": "charge", "amount": 4900, "amount_refunded": 900,
            "currency": "EUR", "status": "succeeded", "disputed": false, "livemode": true,
            "customer": "cus_1", "payment_intent": "pi_1", "created": 1_800_000_000,
            "metadata": {"tenant_id": "acme"}, "description": "Pro plan"
        }))
        .unwrap();
        assert_eq!(c.amount - c.amount_refunded, 4000);
        assert_eq!(c.currency, "eur");
        assert_eq!(c.tenant_id.as_deref(), Some("acme"));
        assert_eq!(c.created_at, 1_800_000_000_000);
        // Missing amount or created: unreadable, not zero.
        assert!(Charge::parse(
            &json!({"id": "ch_2", "currency": "usd", "status": "succeeded", "created": 1})
        )
        .is_none());
        assert!(Charge::parse(
            &json!({"id": "ch_3", "amount": 1, "currency": "usd", "status": "succeeded"})
        )
        .is_none());
    }

    #[test]
    fn a_page_keeps_unreadable_objects_apart_and_the_query_is_encoded() {
        let page = parse_page(&json!({
            "object": "list", "has_more": true,
            "data": [
                {"id": "ch_1", "amount": 100, "currency": "usd", "status": "succeeded", "created": 10},
                {"id": "ch_bad", "amount": "100"}
            ]
        }))
        .unwrap();
        assert_eq!(page.charges.len(), 1);
        assert_eq!(page.unreadable, vec!["ch_bad".to_string()]);
        assert!(page.has_more);
        assert_eq!(
            page.last_id.as_deref(),
            Some("ch_bad"),
            "paging continues after unreadable objects"
        );
        assert!(parse_page(&json!({"error": {}})).is_err());
        assert_eq!(
            list_query(10, 20, Some("ch_1")),
            "limit=100&created%5Bgte%5D=10&created%5Blt%5D=20&starting_after=ch_1"
        );
    }
}
