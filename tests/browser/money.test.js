// The money views (issue 15) in headless Chromium against the app under
// real `spin up` with a stand-in for Stripe's API (tests/browser/run.sh):
// a customer pays a job through Checkout (the signed webhooks Stripe would
// send), so the ledger, the receipts, FinOps, billing and referrals have
// data. At 390x844 and 1280x800 each view renders, passes axe-core and is
// screenshotted (Urdu too); on the desktop an admin filters the ledger, is
// refused a refund over the $5,000 cap (nothing changes) and makes a
// partial refund, copies a receipt's signed link and opens it signed out,
// changes the billing settings, drafts and sends an invoice, creates a
// referral code and downloads the payouts CSV; an analyst and a customer
// see only the money views their role opens.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launch, guard, ROOT } from "./lib/browser.js";
import { client } from "./lib/api.js";
import { charge, deliver } from "./lib/stripe.js";
import { BASE, settled, go, audit, openNav, confirmDialog } from "./lib/steps.js";

const DASH_KEY = process.env.DASH_KEY;
const WEBHOOK_SECRET = process.env.DASH_WEBHOOK_SECRET;
assert.ok(BASE && DASH_KEY && WEBHOOK_SECRET, "run through tests/browser/run.sh (DASH_* variables)");

const api = client(BASE, DASH_KEY);
const UR = JSON.parse(readFileSync(join(ROOT, "static/i18n/ur.json"), "utf8")).ui;
const SIZES = [
  { name: "phone", viewport: { width: 390, height: 844 } },
  { name: "desktop", viewport: { width: 1280, height: 800 } },
];
const CUSTOMER = `customer-${Date.now()}@example.com`;
const VIEWS = [
  ["payments", "/payments"],
  ["portal", `/portal?email=${encodeURIComponent(CUSTOMER)}`],
  ["finops", "/finops"],
  ["billing", "/billing"],
  ["referrals", "/referrals"],
];

/** Analytics refusals the dashboard tier allows too (see dashboard.test.js). */
const analytics = (url, status) =>
  (url.includes("/api/analytics/") && (status === 404 || status === 405)) || (url.includes("/api/analytics/event") && status === 429);

/**
 * The scene: a referred customer pays a job through Checkout (the session
 * from the stand-in, then Stripe's two signed events), a $6,000 charge to
 * refuse a refund of, and a charge in euros (no rate to USD: FinOps must
 * list it apart, not add it).
 */
async function seed() {
  const code = await api("POST", "/api/growth/referral/create", { referrer_id: "ref_browser", referrer_email: "referrer@example.com", campaign: "launch" });
  await api("POST", "/api/growth/referral/signup", { code: code.referral_code, email: CUSTOMER });
  const created = await fetch(`${BASE}/api/public/create-job`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ brief: "Write a two-line thank-you note to a customer", type: "ai_task", email: CUSTOMER }),
  }).then((r) => r.json());
  const job = created.data.job.id;
  const checkout = await fetch(`${BASE}/api/public/checkout/${job}`, { method: "POST" }).then((r) => r.json());
  assert.ok(checkout.ok, `checkout: ${JSON.stringify(checkout)}`);
  const session = checkout.data.session_id;
  const pi = `pi_${session.slice(-12)}`;
  const paid = await deliver(BASE, WEBHOOK_SECRET, "checkout.session.completed", {
    id: session, object: "checkout.session", payment_status: "paid", status: "complete", payment_intent: pi, customer_details: { email: CUSTOMER },
  });
  assert.equal(paid.outcome, "applied", JSON.stringify(paid));
  const { amount, currency } = checkout.data.amount;
  await deliver(BASE, WEBHOOK_SECRET, "payment_intent.succeeded", {
    id: pi, object: "payment_intent", amount, amount_received: amount, currency: currency.toLowerCase(), latest_charge: `ch_${session.slice(-12)}`,
    customer: "cus_browser", created: Math.floor(Date.now() / 1000), metadata: { tenant_id: "default", job_id: job },
  });
  const big = await charge(BASE, WEBHOOK_SECRET, { amount: 600_000, currency: "usd", customer: "cus_big", description: "Annual enterprise plan" });
  const euros = await charge(BASE, WEBHOOK_SECRET, { amount: 2_500, currency: "eur", customer: "cus_eu", agoS: 86_400 });
  return { job, jobCharge: `ch_${session.slice(-12)}`, amount, currency, big, euros, code: code.referral_code };
}

const scene = await seed();

/** Sign in with the console key (kept in memory: every new page signs in again). */
async function signInWithKey(page) {
  await go(page, "/overview");
  await page.fill("#dash-key-form input[name=dash_key]", DASH_KEY);
  await page.click("#dash-key-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "Overview");
  await settled(page);
}

/** Navigate inside the app without a reload (a reload forgets the console key). */
async function visit(page, path) {
  await page.evaluate((p) => (location.hash = `#${p}`), path);
  await settled(page, path);
}

/** Sign out (the desktop's sidebar), then in with a password. */
async function signInAs(page, email, password) {
  await page.click("#sign-out");
  await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "Sign in");
  await page.fill("#sign-in-form input[name=email]", email);
  await page.fill("#sign-in-form input[name=password]", password);
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "Overview");
  await settled(page);
}

for (const size of SIZES) {
  test(`money views at ${size.viewport.width}x${size.viewport.height}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "echopilot-chromium-"));
    const context = await launch(dir, size.viewport);
    const page = context.pages()[0] || (await context.newPage());
    let expected = () => false;
    const watch = guard(page, (url, status, method) => analytics(url, status) || expected(url, status, method));
    const shot = (view) => `${size.name}-${view}`;
    try {
      await t.test("each money view renders its seeded data, passes axe and is screenshotted", async () => {
        await signInWithKey(page);
        const links = await page.$$eval("#nav a", (as) => as.map((a) => a.getAttribute("href")));
        for (const [, path] of VIEWS) assert.ok(links.includes(`#${path.split("?")[0]}`), `${path} in the navigation`);
        for (const [name, path] of VIEWS) {
          await visit(page, path);
          await audit(page, watch, shot(name));
        }
        await visit(page, "/payments");
        const job = page.locator(`[data-charge-id="${scene.jobCharge}"]`);
        assert.ok(await job.locator(`a[href="#/jobs/${scene.job}"]`).count(), "the job's charge links the job");
        await visit(page, "/finops");
        const euro = await page.textContent("#finops-summary");
        assert.match(euro, /No exchange rate for EUR/, "revenue in euros is not added to dollars");
        assert.match(euro, /€25\.00/, "euros listed on their own");
        assert.equal(await page.locator("#finops-forecast figure.chart").count(), 1, "the load forecast is drawn");
        assert.match(await page.textContent("#finops-forecast"), /No revenue forecast: there is no exchange rate from EUR/, "no revenue forecast across currencies");
      });

      await t.test("Urdu: right to left, translated", async () => {
        await openNav(page, size);
        await page.selectOption("#nav-locale", "ur");
        await page.waitForFunction(() => document.documentElement.dir === "rtl");
        if (size.name === "phone") await page.keyboard.press("Escape");
        for (const [name, path, title] of [["finops", "/finops", "finops.title"], ["payments", "/payments", "payments.ledger_title"]]) {
          await visit(page, path);
          assert.equal(await page.textContent("main h1"), UR[title]);
          await audit(page, watch, shot(`${name}-ur`));
        }
        await openNav(page, size);
        await page.selectOption("#nav-locale", "en");
        await page.waitForFunction(() => document.documentElement.dir === "ltr");
        if (size.name === "phone") await page.keyboard.press("Escape");
        await settled(page);
      });

      await t.test("payments: filters, a refund over the cap refused, a partial refund made", { skip: size.name !== "desktop" }, async () => {
        await visit(page, "/payments");
        await page.fill("#payment-filters input[name=currency]", "EUR");
        await page.click("#payment-filters button[type=submit]");
        await page.waitForFunction(() => document.querySelectorAll("#payment-list [data-charge-id]").length === 1);
        assert.equal(await page.getAttribute("#payment-list [data-charge-id]", "data-charge-id"), scene.euros, "only the euro charge");
        assert.match(page.url(), /currency=eur/);
        await page.click("#payment-filters button[type=reset]");
        const big = page.locator(`[data-charge-id="${scene.big}"]`);
        await big.waitFor();

        // Over the cap: refused with the guardrail's words; nothing refunded.
        expected = (url, status, method) => method === "POST" && url.endsWith("/api/payments/refund") && status === 422;
        await big.locator("button[data-action=refund]").click();
        await big.locator("input[name=amount]").fill("5001");
        await big.locator("button[type=submit]").click();
        assert.match(await page.textContent("dialog[open]"), /\$5,001\.00/);
        await confirmDialog(page);
        const alert = big.locator("[role=alert]");
        await alert.getByText("exceeds the limit", { exact: false }).waitFor();
        assert.match(await alert.textContent(), /USD 5000\.00/, "the cap is named");
        await audit(page, watch, shot("refund-refused"));
        expected = () => false;
        const ledger = await api("GET", "/api/payments?currency=usd");
        assert.equal(ledger.payments.find((p) => p.id === scene.big).amount_refunded.amount, 0, "nothing refunded");

        // A partial refund of the job's charge, through the stand-in.
        const jobCharge = page.locator(`[data-charge-id="${scene.jobCharge}"]`);
        await jobCharge.locator("button[data-action=refund]").click();
        const part = Math.floor(scene.amount * 0.4); // minor units, less than the charge
        await jobCharge.locator("input[name=amount]").fill((part / 100).toFixed(2));
        await jobCharge.locator("button[type=submit]").click();
        await confirmDialog(page);
        await page.locator(".toast", { hasText: "Refunded" }).first().waitFor();
        await page.locator(`[data-charge-id="${scene.jobCharge}"]`).getByText("Partly refunded", { exact: true }).waitFor();
        const after = (await api("GET", "/api/payments?currency=usd")).payments.find((p) => p.id === scene.jobCharge);
        assert.equal(after.amount_refunded.amount, part);
        watch.check("refunds");
      });

      await t.test("portal: a receipt's signed link, copied and opened signed out", { skip: size.name !== "desktop" }, async () => {
        await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
        await visit(page, "/portal");
        await page.fill("#portal-form input[name=email]", CUSTOMER);
        await page.click("#portal-form button[type=submit]");
        const receipt = page.locator("#receipt-list li").first();
        await receipt.waitFor();
        assert.match(await receipt.textContent(), /Partly refunded/, "the receipt shows the refund");
        await receipt.locator("button[data-action=copy]").click();
        await page.locator(".toast", { hasText: "Link copied." }).first().waitFor();
        const link = await page.evaluate(() => navigator.clipboard.readText());
        assert.ok(link.startsWith(`${BASE}/api/portal/download?`), link);
        const res = await fetch(link); // no credential: the signature is the capability
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type"), /text\/html/);
        assert.match(await res.text(), new RegExp(scene.job));
        const tampered = await fetch(link.replace(/token=[^&]+/, "token=0000"));
        assert.equal(tampered.status, 403, "a tampered link is refused");
        watch.check("portal");
      });

      await t.test("billing: settings, an invoice drafted and sent", { skip: size.name !== "desktop" }, async () => {
        await visit(page, "/billing");
        await page.selectOption("#billing-settings-form select[name=unpaid_jobs]", "hold");
        await page.fill("#billing-settings-form input[name=billing_email]", "billing@example.com");
        await page.click("#billing-settings-form button[type=submit]");
        await confirmDialog(page);
        await page.locator(".toast", { hasText: "Settings saved." }).first().waitFor();
        const settings = await api("GET", "/api/billing/settings");
        assert.deepEqual([settings.unpaid_jobs, settings.billing_email], ["hold", "billing@example.com"]);
        await settled(page);
        await page.click("#draft-invoice-form button[type=submit]");
        const draft = page.locator("#invoice-list li").first();
        await draft.getByText("Draft", { exact: true }).waitFor();
        await draft.locator("button[data-action=send]").click();
        await confirmDialog(page);
        await page.locator(".toast", { hasText: "Invoice sent." }).first().waitFor();
        await page.locator("#invoice-list li").first().getByText("Sent", { exact: true }).waitFor();
        await page.locator("#billing-settings dd", { hasText: /^cus_/ }).waitFor(); // the customer Stripe made
        await settled(page);
        await audit(page, watch, shot("billing-sent"));
        // Back to running unpaid jobs: the browser tier's other jobs are not held.
        await api("PATCH", "/api/billing/settings", { unpaid_jobs: "run" });
      });

      await t.test("referrals: a code created, the payouts CSV downloaded", { skip: size.name !== "desktop" }, async () => {
        await visit(page, "/referrals");
        assert.ok(await page.locator(`tr[data-code="${scene.code}"]`).count(), "the seeded code leads the board");
        await page.click("#new-referral");
        await page.fill("#create-referral-form input[name=referrer_id]", "ref_form");
        await page.fill("#create-referral-form input[name=referrer_email]", "form-referrer@example.com");
        await page.fill("#create-referral-form input[name=campaign]", "autumn");
        await page.click("#create-referral-form button[type=submit]");
        const code = (await page.textContent("#new-referral-code")).trim();
        assert.match(code, /^[A-Z0-9]{6,}$/);
        await page.locator(`tr[data-code="${code}"]`).waitFor();
        const [download] = await Promise.all([page.waitForEvent("download"), page.click("#payouts-csv")]);
        assert.match(download.suggestedFilename(), /^echopilot-payouts-.*\.csv$/);
        watch.check("referrals");
      });

      await t.test("an analyst sees figures but not the ledger; a customer only their receipts", { skip: size.name !== "desktop" }, async () => {
        const stamp = Date.now();
        await api("POST", "/api/users", { email: `money-analyst-${stamp}@example.com`, password: "analyst-password-1", role: "analyst" });
        await api("POST", "/api/users", { email: CUSTOMER, password: "customer-password-1", role: "viewer" }).catch(() => {});
        await signInAs(page, `money-analyst-${stamp}@example.com`, "analyst-password-1");
        let links = await page.$$eval("#nav a", (as) => as.map((a) => a.getAttribute("href")));
        for (const shown of ["#/finops", "#/billing", "#/referrals", "#/portal"]) assert.ok(links.includes(shown), `${shown} shown to an analyst`);
        assert.ok(!links.includes("#/payments"), "the ledger is for operators");
        await visit(page, "/referrals");
        assert.equal(await page.locator("#new-referral, #payouts-csv").count(), 0, "no create or payouts for an analyst");
        await visit(page, "/billing");
        assert.equal(await page.locator("#draft-invoice-form, #billing-settings-form").count(), 0, "no drafting or settings for an analyst");
        await signInAs(page, CUSTOMER, "customer-password-1");
        links = await page.$$eval("#nav a", (as) => as.map((a) => a.getAttribute("href")));
        for (const hidden of ["#/payments", "#/finops", "#/billing", "#/referrals"]) assert.ok(!links.includes(hidden), `${hidden} hidden from a customer`);
        await visit(page, "/portal");
        assert.equal(await page.textContent("main h1"), "Your receipts");
        assert.equal(await page.locator("#portal-form").count(), 0, "a customer cannot look up others");
        await page.locator("#receipt-list li").first().waitFor();
        await audit(page, watch, shot("portal-customer"));
        await page.click("#sign-out");
      });
    } finally {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
