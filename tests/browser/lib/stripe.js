// Stripe's side of the money views' scene: events signed as Stripe signs
// them (HMAC-SHA256 of `{t}.{body}` with the webhook secret), delivered to
// /api/stripe/webhook, so the ledger holds charges without a Stripe account.

import { createHmac, randomBytes } from "node:crypto";

/** A `Stripe-Signature` header for `payload` signed with `secret` now. */
export function signature(secret, payload, t = Math.floor(Date.now() / 1000)) {
  const v1 = createHmac("sha256", secret).update(`${t}.${payload}`).digest("hex");
  return `t=${t},v1=${v1}`;
}

/** Deliver one signed event; resolves to the webhook's answer (`outcome`). */
export async function deliver(base, secret, type, object, { livemode = true } = {}) {
  const payload = JSON.stringify({ id: `evt_${randomBytes(8).toString("hex")}`, object: "event", type, livemode, created: Math.floor(Date.now() / 1000), data: { object } });
  const res = await fetch(`${base}/api/stripe/webhook`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Stripe-Signature": signature(secret, payload) },
    body: payload,
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`webhook ${type}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json.data;
}

/**
 * A succeeded payment intent with its charge in the ledger: `amount` minor
 * units of `currency` for `tenant`, created `agoS` seconds ago. Resolves
 * to the charge id.
 */
export async function charge(base, secret, { amount, currency = "usd", tenant = "default", customer = null, description = null, agoS = 0 }) {
  const suffix = randomBytes(6).toString("hex");
  const id = `ch_browser_${suffix}`;
  await deliver(base, secret, "payment_intent.succeeded", {
    id: `pi_browser_${suffix}`,
    object: "payment_intent",
    amount,
    amount_received: amount,
    currency,
    latest_charge: id,
    customer,
    description,
    created: Math.floor(Date.now() / 1000) - agoS,
    metadata: { tenant_id: tenant },
  });
  return id;
}
