// A stand-in for Stripe's API on a loopback port, for the browser tier
// (tests/browser/run.sh starts it before `spin up` and points
// stripe_base_url at it): Checkout Sessions, refunds, and the calls that
// send a usage invoice (customer, invoice items, invoice, finalize, send),
// each answered as Stripe answers with the fields EchoPilot reads. It
// prints its port on stdout and serves until it is killed.
//
// Usage: node lib/stripe-mock.js

import { createServer } from "node:http";

let next = 0;
const id = (prefix) => `${prefix}_mock${(next += 1)}`;
/** Invoice items waiting for their customer's next invoice: customer → cents. */
const pending = new Map();
const invoices = new Map();

function answer(method, path, form) {
  if (method !== "POST") return [404, { error: { message: `no mock for ${method} ${path}` } }];
  if (path === "/v1/checkout/sessions") {
    const session = `cs_test_${form.get("client_reference_id") || id("cs")}`;
    return [200, { id: session, object: "checkout.session", url: `https://checkout.stripe.com/c/pay/${session}`, livemode: false }];
  }
  if (path === "/v1/refunds") {
    return [200, { id: id("re"), object: "refund", amount: Number(form.get("amount")), charge: form.get("charge"), status: "succeeded" }];
  }
  if (path === "/v1/customers") return [200, { id: id("cus"), object: "customer", email: form.get("email") }];
  if (path === "/v1/invoiceitems") {
    const customer = form.get("customer");
    pending.set(customer, (pending.get(customer) || 0) + Number(form.get("amount")));
    return [200, { id: id("ii"), object: "invoiceitem" }];
  }
  if (path === "/v1/invoices") {
    const customer = form.get("customer");
    const invoice = { id: id("in"), object: "invoice", status: "draft", total: pending.get(customer) || 0 };
    pending.delete(customer);
    invoices.set(invoice.id, invoice);
    return [200, invoice];
  }
  const step = /^\/v1\/invoices\/([^/]+)\/(finalize|send)$/.exec(path);
  if (step && invoices.has(step[1])) {
    const invoice = invoices.get(step[1]);
    invoice.status = "open";
    invoice.hosted_invoice_url = `https://invoice.stripe.com/i/${invoice.id}`;
    return [200, invoice];
  }
  return [404, { error: { message: `no mock for ${method} ${path}` } }];
}

const server = createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    const url = new URL(req.url, "http://stripe.mock");
    const [status, json] = answer(req.method, url.pathname, new URLSearchParams(body));
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(json));
  });
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
