//! What the demo shows: clients, the work they send, what came back, and
//! what went wrong. Plain data; [`super::seed`] turns it into rows.

/// A demo client: tenant id, name, plan, locale, currency.
pub struct Client {
    pub id: &'static str,
    pub name: &'static str,
    pub plan: &'static str,
    pub locale: &'static str,
    pub currency: &'static str,
    /// Jobs it sends over the fortnight.
    pub jobs: usize,
    /// Daily dashboard visitors, roughly.
    pub visitors: i64,
}

/// The clients (the platform's own default tenant gets jobs too).
pub const CLIENTS: &[Client] = &[
    Client {
        id: "demo-northwind",
        name: "Northwind Legal (demo)",
        plan: "business",
        locale: "en",
        currency: "USD",
        jobs: 14,
        visitors: 9,
    },
    Client {
        id: "demo-acme",
        name: "Acme Retail (demo)",
        plan: "pro",
        locale: "en",
        currency: "GBP",
        jobs: 11,
        visitors: 6,
    },
    Client {
        id: "demo-solana",
        name: "Clínica Solana (demo)",
        plan: "pro",
        locale: "es",
        currency: "EUR",
        jobs: 8,
        visitors: 4,
    },
    Client {
        id: "demo-lahore",
        name: "Lahore Textiles (demo)",
        plan: "free",
        locale: "ur",
        currency: "PKR",
        jobs: 6,
        visitors: 3,
    },
];

/// Jobs for the default tenant, and its daily visitors.
pub const DEFAULT_JOBS: usize = 9;
/// Daily dashboard visitors of the default tenant (the operators).
pub const DEFAULT_VISITORS: i64 = 5;

/// A piece of work: type, title, brief, and the finished output.
pub struct Work {
    pub job_type: &'static str,
    pub title: &'static str,
    pub brief: &'static str,
    pub output: &'static str,
}

pub const WORK: &[Work] = &[
    Work {
        job_type: "ai_task",
        title: "Welcome email for new clients",
        brief: "Write a warm, 120-word welcome email for clients who just signed their engagement letter. Mention the client portal and the first-week checklist.",
        output: "Subject: Welcome aboard\n\nDear client,\n\nThank you for placing your trust in us. Your engagement is now active, and your client portal is ready: you will find your documents, invoices and our messages there, available at any hour.\n\nIn your first week we will confirm your contacts, collect the documents on your checklist and schedule a short kickoff call. If anything is unclear, reply to this email and your team lead will answer within one business day.\n\nWe look forward to working with you.\n\nKind regards,\nThe client team",
    },
    Work {
        job_type: "report_gen",
        title: "Weekly support summary",
        brief: "Summarise this week's support tickets: 212 opened, 198 closed, median first response 41 minutes, top topics: refunds (31%), delivery delays (24%), login problems (12%).",
        output: "Executive summary: support closed 198 of 212 new tickets (93%) with a median first response of 41 minutes, within the one-hour target.\n\nTopics: refunds lead at 31% of tickets, followed by delivery delays (24%) and login problems (12%).\n\nRecommended next steps:\n1. Publish a refund-status page to deflect repeat contacts.\n2. Share carrier delay notices proactively on affected orders.\n3. Review the password-reset flow with the product team.",
    },
    Work {
        job_type: "data_sync",
        title: "Invoice INV-2041 to record",
        brief: "Invoice INV-2041 from Harbour Supplies Ltd, dated 3 March, 24 units of packing tape at 2.40 each plus delivery 12.00, VAT 20%, due in 30 days.",
        output: "{\"invoice_number\": \"INV-2041\", \"supplier\": \"Harbour Supplies Ltd\", \"issue_date\": \"03-03\", \"lines\": [{\"item\": \"packing tape\", \"quantity\": 24, \"unit_price\": 2.40}, {\"item\": \"delivery\", \"quantity\": 1, \"unit_price\": 12.00}], \"subtotal\": 69.60, \"vat_rate\": 0.20, \"vat\": 13.92, \"total\": 83.52, \"payment_terms_days\": 30}",
    },
    Work {
        job_type: "ai_task",
        title: "Product description: linen shirt",
        brief: "Write a 90-word product description for a relaxed-fit linen shirt in sage green; breathable, pre-washed, mother-of-pearl buttons.",
        output: "Meet the shirt that makes warm days easy. Cut in a relaxed fit from pure linen, it breathes as you move and feels soft from the first wear thanks to a gentle pre-wash. The sage green works with denim, chinos and everything in between, and mother-of-pearl buttons add a quiet finishing touch. Wear it open over a tee at the weekend or buttoned up for the office. Machine washable; it only gets better with time.",
    },
    Work {
        job_type: "report_gen",
        title: "Monthly clinic capacity report",
        brief: "Report on March capacity: 1,840 appointments booked of 2,100 slots, no-show rate 7.5%, average wait for a first visit 9 days (target 7).",
        output: "Executive summary: March used 88% of appointment capacity (1,840 of 2,100 slots). The no-show rate of 7.5% left about 138 slots idle, and first visits waited 9 days on average against a 7-day target.\n\nRecommendations:\n1. Send SMS reminders 24 hours ahead to bring no-shows under 5%.\n2. Release unfilled slots to the first-visit waiting list two days in advance.\n3. Review the target with clinical leads if demand keeps rising.",
    },
    Work {
        job_type: "ai_task",
        title: "Reply to a delayed-order complaint",
        brief: "Draft a courteous reply to a customer whose order #58213 is five days late; offer free express shipping on the next order and a tracking link.",
        output: "Dear customer,\n\nI am sorry that order #58213 has not reached you yet: a delay at our carrier's regional hub has held it for five days. It is now moving again, and you can follow it here: [tracking link].\n\nAs an apology, your next order ships by express delivery at no cost; the upgrade is applied to your account automatically.\n\nThank you for your patience, and please reply if there is anything else I can do.\n\nBest regards,\nCustomer care",
    },
    Work {
        job_type: "data_sync",
        title: "New supplier contact",
        brief: "Add contact: Ayesha Malik, procurement lead at Ravi Cotton Mills, phone +92 42 3571 0000, prefers email, account since 2019.",
        output: "{\"name\": \"Ayesha Malik\", \"role\": \"procurement lead\", \"company\": \"Ravi Cotton Mills\", \"phone\": \"+92 42 3571 0000\", \"preferred_channel\": \"email\", \"customer_since\": 2019}",
    },
    Work {
        job_type: "ai_task",
        title: "Clause summary for a lease",
        brief: "Summarise the break clause of a commercial lease in plain English for a client: break at year 5 with 6 months' notice, conditional on rent being paid up and vacant possession.",
        output: "In plain terms: you may end the lease at the end of year five, but only if you give at least six months' written notice before that date, all rent due has been paid in full, and you hand the premises back empty, with no people or belongings left behind. If any of these conditions is not met, the break fails and the lease continues. We recommend diarising the notice deadline and confirming rent is up to date a month before serving notice.",
    },
];

/// QA feedback on a first round that failed.
pub const FEEDBACK: &str = "- completeness (68/100): the brief asks for next steps; add them.\n- clarity (74/100): shorten the opening paragraph.";

/// Why a job that never passed QA failed.
pub const QA_NEVER_PASSED: &str =
    "QA never passed: the best of 3 rounds scored 74.25 (pass mark 80)";

/// Why a dead job died, round by round.
pub const PROVIDER_ERROR: &str =
    "the provider answered 503 Service Unavailable (upstream overloaded)";

/// An incident: severity, source, message, days ago, and its state.
pub struct Incident {
    pub severity: &'static str,
    pub source: &'static str,
    pub message: &'static str,
    pub hours_ago: i64,
    pub status: &'static str,
    pub repeats: i64,
    pub note: Option<&'static str>,
}

pub const INCIDENTS: &[Incident] = &[
    Incident {
        severity: "CRITICAL",
        source: "slo",
        message: "Job success burn rate 14.2x over 1 h: the LLM provider failed 9% of rounds",
        hours_ago: 52,
        status: "resolved",
        repeats: 3,
        note: Some("Provider incident upstream; retries drained the backlog within 40 minutes."),
    },
    Incident {
        severity: "WARNING",
        source: "costs",
        message: "Daily LLM spend at 91% of the $25.00 cap",
        hours_ago: 30,
        status: "resolved",
        repeats: 0,
        note: Some("Cap raised for the month-end reporting run."),
    },
    Incident {
        severity: "WARNING",
        source: "anomaly",
        message: "p95 latency of POST /api/public/create-job 3.4 sigma above its rolling mean",
        hours_ago: 6,
        status: "acknowledged",
        repeats: 1,
        note: None,
    },
    Incident {
        severity: "INFO",
        source: "autoscale",
        message: "Forecast arrivals 38/min in 30 min: workers 2 -> 3 (dry run)",
        hours_ago: 1,
        status: "open",
        repeats: 0,
        note: None,
    },
];

/// A partner key: tenant, name, scopes, daily and monthly quota, calls
/// used today and this month.
pub struct Partner {
    pub tenant: &'static str,
    pub name: &'static str,
    pub scopes: &'static [&'static str],
    pub daily: i64,
    pub monthly: i64,
    pub used_today: i64,
    pub used_month: i64,
}

pub const PARTNERS: &[Partner] = &[
    Partner {
        tenant: "demo-northwind",
        name: "Northwind intake portal (demo)",
        scopes: &["jobs:write", "jobs:read"],
        daily: 500,
        monthly: 10_000,
        used_today: 37,
        used_month: 811,
    },
    Partner {
        tenant: "demo-acme",
        name: "Acme storefront (demo)",
        scopes: &["jobs:write", "jobs:read"],
        daily: 2_000,
        monthly: 40_000,
        used_today: 412,
        used_month: 9_734,
    },
    Partner {
        tenant: "demo-acme",
        name: "Acme analytics export (demo)",
        scopes: &["jobs:read"],
        daily: 200,
        monthly: 5_000,
        used_today: 12,
        used_month: 260,
    },
];

/// The actions demo visitors take besides opening views, most often first.
pub const ACTIONS: &[&str] = &[
    "palette.open",
    "job.retry",
    "incident.acknowledge",
    "locale.change",
    "theme.change",
];
