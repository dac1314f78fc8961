//! Sending a usage invoice draft through Stripe
//! (`POST /api/billing/invoices/{id}/send`, operator).
//!
//! The tenant needs a billing email (`PATCH /api/billing/settings`). The
//! tenant's Stripe customer is created once (and remembered); each line
//! becomes an invoice item; the invoice is created with
//! `collection_method=send_invoice` (due in 30 days), finalized and sent,
//! and Stripe emails the customer its hosted page. Every POST carries an
//! idempotency key derived from the draft, so a retry after a failure
//! resumes without duplicating items. `invoice.paid` later marks it paid
//! (`super::webhook`).

use super::stripe::{self, Call, Stripe};
use crate::audit::{self, Event};
use crate::error::{Error, Result};
use crate::finance::billing::{self, Invoice};
use crate::ports::Env;
use crate::tenancy::Scope;
use serde_json::{json, Value};

/// Days the customer has to pay.
const DAYS_UNTIL_DUE: i64 = 30;

fn id_in(v: &Value, what: &str) -> Result<String> {
    v.get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            Error::unavailable("stripe_unavailable", format!("Stripe's {what} has no id"))
        })
}

/// Send draft `id` (within `scope`); the invoice afterwards.
pub async fn send(
    env: &Env,
    scope: &Scope,
    id: &str,
    actor: &str,
    request_id: &str,
) -> Result<Invoice> {
    let invoice = billing::invoice(env, scope, id)?;
    if invoice.status != "draft" {
        return Err(Error::conflict(
            "not_a_draft",
            format!("invoice `{id}` is {}: only drafts are sent", invoice.status),
        ));
    }
    if invoice.total.amount <= 0 {
        return Err(Error::unprocessable(
            "nothing_to_invoice",
            "the invoice's total is zero",
        ));
    }
    let settings = billing::settings(env, &invoice.tenant_id)?;
    let email = settings.billing_email.clone().ok_or_else(|| {
        Error::unprocessable(
            "no_billing_email",
            "set the tenant's billing_email first (PATCH /api/billing/settings)",
        )
    })?;
    // Stripe's settings only once the invoice is known to be sendable.
    let s: &Stripe = &stripe::settings(env.config.as_ref())?.ok_or_else(super::not_configured)?;
    let customer = match settings.stripe_customer {
        Some(c) => c,
        None => {
            let c = stripe::call(
                env,
                s,
                &Call::post(
                    "/v1/customers",
                    format!("echopilot-customer-{}", invoice.tenant_id),
                    "Customers: write",
                )
                .field("email", email.as_str())
                .field("name", invoice.tenant_id.as_str())
                .field("metadata[tenant_id]", invoice.tenant_id.as_str()),
            )
            .await?;
            let c = id_in(&c, "customer")?;
            billing::set_stripe_customer(env, &invoice.tenant_id, &c)?;
            c
        }
    };
    let currency = invoice.total.currency.stripe_code();
    let lines = invoice.lines.as_array().cloned().unwrap_or_default();
    for (i, line) in lines.iter().enumerate() {
        let amount = line
            .pointer("/amount/amount")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if amount <= 0 {
            continue;
        }
        let description = line
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("EchoPilot usage");
        stripe::call(
            env,
            s,
            &Call::post(
                "/v1/invoiceitems",
                format!("echopilot-{}-item-{i}", invoice.id),
                "Invoices: write",
            )
            .field("customer", customer.as_str())
            .field("amount", amount.to_string())
            .field("currency", currency)
            .field("description", description)
            .field("metadata[echopilot_invoice]", invoice.id.as_str()),
        )
        .await?;
    }
    let created = stripe::call(
        env,
        s,
        &Call::post(
            "/v1/invoices",
            format!("echopilot-{}", invoice.id),
            "Invoices: write",
        )
        .field("customer", customer.as_str())
        .field("collection_method", "send_invoice")
        .field("days_until_due", DAYS_UNTIL_DUE.to_string())
        .field("pending_invoice_items_behavior", "include")
        .field("currency", currency)
        .field(
            "description",
            format!("EchoPilot usage, {}", invoice.period),
        )
        .field("metadata[echopilot_invoice]", invoice.id.as_str())
        .field("metadata[tenant_id]", invoice.tenant_id.as_str()),
    )
    .await?;
    let stripe_id = id_in(&created, "invoice")?;
    stripe::call(
        env,
        s,
        &Call::post(
            format!("/v1/invoices/{stripe_id}/finalize"),
            format!("echopilot-{}-finalize", invoice.id),
            "Invoices: write",
        ),
    )
    .await?;
    let sent = stripe::call(
        env,
        s,
        &Call::post(
            format!("/v1/invoices/{stripe_id}/send"),
            format!("echopilot-{}-send", invoice.id),
            "Invoices: write",
        ),
    )
    .await?;
    let total = sent.get("total").and_then(Value::as_i64);
    if total.is_some_and(|t| t != invoice.total.amount) {
        crate::log::warn(
            "billing",
            &format!(
                "invoice {}: Stripe's total {total:?} differs from the draft's {}",
                invoice.id, invoice.total.amount
            ),
        );
    }
    billing::mark_sent(
        env,
        &invoice.id,
        &stripe_id,
        sent.get("hosted_invoice_url").and_then(Value::as_str),
    )?;
    audit::record(
        env,
        &Event::new(&invoice.tenant_id, actor, "billing.invoice_sent")
            .target(&invoice.id)
            .detail(json!({ "stripe_invoice": stripe_id, "total": invoice.total, "period": invoice.period }))
            .request(request_id),
    );
    billing::invoice(env, scope, id)
}
