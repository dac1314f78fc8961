//! Receipts: one per payment a customer made (a job's checkout, a paid
//! invoice), stored per customer email, and rendered as a printable HTML
//! page for the customer portal.

use crate::error::Result;
use crate::money::{Currency, Money};
use crate::params;
use crate::ports::{ids, Db, DbExt, Ids, Row};
use crate::time::{date, rfc3339};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// One receipt.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// `rcpt_…`.
    pub id: String,
    /// The tenant paid.
    pub tenant_id: String,
    /// The customer (lower case).
    pub email: String,
    /// The payment intent (or charge, or invoice) it is for.
    pub payment_key: String,
    /// The charge, once known.
    pub charge_id: Option<String>,
    /// The job paid for, if a checkout.
    pub job_id: Option<String>,
    /// The EchoPilot invoice paid, if any.
    pub invoice_id: Option<String>,
    /// What was bought.
    pub description: String,
    /// What was paid.
    pub amount: Money,
    /// Refunded since.
    pub amount_refunded: i64,
    /// Live or test mode.
    pub livemode: bool,
    /// When, Unix ms.
    pub paid_at: i64,
}

const COLUMNS: &str =
    "id, tenant_id, email, payment_key, charge_id, job_id, invoice_id, description, amount, \
    amount_refunded, currency, livemode, paid_at";

impl Receipt {
    fn from_row(r: &Row) -> Result<Receipt> {
        Ok(Receipt {
            id: r.text(0)?,
            tenant_id: r.text(1)?,
            email: r.text(2)?,
            payment_key: r.text(3)?,
            charge_id: r.opt_text(4)?,
            job_id: r.opt_text(5)?,
            invoice_id: r.opt_text(6)?,
            description: r.text(7)?,
            amount: Money::new(r.i64(8)?, Currency::parse(&r.text(10)?)?),
            amount_refunded: r.i64(9)?,
            livemode: r.bool(11)?,
            paid_at: r.i64(12)?,
        })
    }

    /// `paid`, `partially_refunded` or `refunded`.
    pub fn status(&self) -> &'static str {
        if self.amount_refunded <= 0 {
            "paid"
        } else if self.amount_refunded < self.amount.amount {
            "partially_refunded"
        } else {
            "refunded"
        }
    }

    /// As listed (the portal adds the signed download link).
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "date": date(self.paid_at),
            "paid_at": rfc3339(self.paid_at),
            "amount": self.amount,
            "amount_refunded": Money::new(self.amount_refunded, self.amount.currency),
            "description": self.description,
            "status": self.status(),
            "job_id": self.job_id,
            "invoice_id": self.invoice_id,
            "livemode": self.livemode,
        })
    }
}

/// A payment to record a receipt for.
#[derive(Debug, Clone)]
pub struct NewReceipt<'a> {
    /// The tenant paid.
    pub tenant_id: &'a str,
    /// The customer.
    pub email: &'a str,
    /// The payment intent (or charge, or invoice).
    pub payment_key: &'a str,
    /// The charge, if known.
    pub charge_id: Option<&'a str>,
    /// The job, if a checkout.
    pub job_id: Option<&'a str>,
    /// The invoice, if one was paid.
    pub invoice_id: Option<&'a str>,
    /// What was bought.
    pub description: String,
    /// What was paid.
    pub amount: Money,
    /// Live or test mode.
    pub livemode: bool,
}

/// Record a receipt once per payment; the receipt (new or existing).
pub fn record(db: &dyn Db, rng: &dyn Ids, n: &NewReceipt<'_>, now: i64) -> Result<Receipt> {
    let id = ids::new_id("rcpt_", now, rng)?;
    db.exec(
        "INSERT INTO receipts (id, tenant_id, email, payment_key, charge_id, job_id, invoice_id, description,
            amount, currency, livemode, paid_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
         ON CONFLICT (payment_key) DO UPDATE SET charge_id = COALESCE(charge_id, excluded.charge_id)",
        params![
            id.as_str(), n.tenant_id, n.email.to_ascii_lowercase(), n.payment_key, n.charge_id, n.job_id,
            n.invoice_id, n.description.as_str(), n.amount.amount, n.amount.currency.code(), n.livemode, now
        ],
    )?;
    by_payment(db, n.payment_key)?.ok_or_else(|| crate::Error::internal("receipt row missing"))
}

/// The receipt of a payment.
pub fn by_payment(db: &dyn Db, payment_key: &str) -> Result<Option<Receipt>> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM receipts WHERE payment_key = ?1"),
        params![payment_key],
    )?
    .map(|r| Receipt::from_row(&r))
    .transpose()
}

/// Attach the charge to the receipt of `payment_key`, and raise its
/// refunded total to `refunded` (never lowers it).
pub fn update(
    db: &dyn Db,
    payment_key: &str,
    charge_id: Option<&str>,
    refunded: i64,
    now: i64,
) -> Result<()> {
    db.exec(
        "UPDATE receipts SET charge_id = COALESCE(charge_id, ?2),
            amount_refunded = MAX(amount_refunded, MIN(amount, ?3)), updated_at = ?4
         WHERE payment_key = ?1",
        params![payment_key, charge_id, refunded, now],
    )?;
    Ok(())
}

/// A customer's receipts in a tenant, newest first (at most 100).
pub fn for_customer(db: &dyn Db, tenant: &str, email: &str) -> Result<Vec<Receipt>> {
    let rows = db.exec(
        &format!(
            "SELECT {COLUMNS} FROM receipts WHERE tenant_id = ?1 AND email = ?2
             ORDER BY paid_at DESC, id DESC LIMIT 100"
        ),
        params![tenant, email.to_ascii_lowercase()],
    )?;
    rows.rows.iter().map(Receipt::from_row).collect()
}

/// A receipt by id for `email` (any tenant: the signed link names both).
pub fn for_download(db: &dyn Db, id: &str, email: &str) -> Result<Option<Receipt>> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM receipts WHERE id = ?1 AND email = ?2"),
        params![id, email.to_ascii_lowercase()],
    )?
    .map(|r| Receipt::from_row(&r))
    .transpose()
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 with padding (for the CSP hash of the page's style).
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#111}\
h1{font-size:1.4rem}table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ccc}\
td.n{text-align:right}footer{margin-top:2rem;font-size:.85rem;color:#444}@media print{footer{display:none}}";

/// The receipt as a printable HTML page, and the Content-Security-Policy
/// that lets its one inline style (by hash) and nothing else run.
pub fn html(r: &Receipt) -> (String, String) {
    let refunded = Money::new(r.amount_refunded, r.amount.currency);
    let mut rows = format!(
        "<tr><th scope=\"row\">Description</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Amount paid</th><td class=\"n\">{} {}</td></tr>",
        escape(&r.description),
        r.amount.decimal(),
        r.amount.currency.code()
    );
    if r.amount_refunded > 0 {
        rows.push_str(&format!(
            "<tr><th scope=\"row\">Refunded</th><td class=\"n\">{} {}</td></tr>",
            refunded.decimal(),
            r.amount.currency.code()
        ));
    }
    for (label, value) in [
        ("Receipt", Some(r.id.as_str())),
        ("Date (UTC)", Some(&rfc3339(r.paid_at)[..19])),
        ("Status", Some(r.status())),
        ("Job", r.job_id.as_deref()),
        ("Invoice", r.invoice_id.as_deref()),
        ("Payment", Some(r.payment_key.as_str())),
    ] {
        if let Some(v) = value {
            rows.push_str(&format!(
                "<tr><th scope=\"row\">{label}</th><td>{}</td></tr>",
                escape(v)
            ));
        }
    }
    let test = if r.livemode {
        ""
    } else {
        "<p><strong>Test mode:</strong> no money moved.</p>"
    };
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Receipt {id}</title><style>{STYLE}</style></head><body>\
         <h1>EchoPilot receipt</h1>{test}<table>{rows}</table>\
         <footer>Issued to {email}. Print this page or save it as PDF from your browser.</footer>\
         </body></html>",
        id = escape(&r.id),
        email = escape(&r.email),
    );
    let csp = format!(
        "default-src 'none'; style-src 'sha256-{}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        base64(&Sha256::digest(STYLE.as_bytes()))
    );
    (page, csp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn the_page_escapes_what_customers_wrote() {
        let r = Receipt {
            id: "rcpt_1".into(),
            tenant_id: "default".into(),
            email: "a@b.co".into(),
            payment_key: "pi_1".into(),
            charge_id: None,
            job_id: Some("job_1".into()),
            invoice_id: None,
            description: "EchoPilot job: <script>alert(1)</script>".into(),
            amount: Money::new(2999, Currency::Eur),
            amount_refunded: 1000,
            livemode: true,
            paid_at: 1_800_000_000_000,
        };
        let (page, csp) = html(&r);
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("29.99 EUR") && page.contains("10.00 EUR"));
        assert_eq!(r.status(), "partially_refunded");
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"));
    }
}
