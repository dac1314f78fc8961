//! The demo seeder: realistic data for a fortnight, written once.
//!
//! What it writes (all tagged in `demo_rows`, see [`super::tags`]): four
//! demo clients (tenants) with partner keys and their usage; jobs for them
//! and for the default tenant over the last 14 days, in every final state
//! (completed after one or two rounds, failed QA, dead after provider
//! errors, cancelled) with their attempts, outputs, QA scores, tokens and
//! cost; the LLM spend those attempts add up to (`llm_usage_days`); four
//! incidents (resolved, acknowledged, open); 30 days of dashboard
//! analytics. No job is left queued or processing, so the worker never
//! touches demo rows; incident fingerprints and delivery states keep the
//! alerting jobs away from them too; today's spend stays far below the
//! default caps.
//!
//! Seeding is one `BEGIN IMMEDIATE` transaction that starts by looking for
//! its marker (`app_meta.demo_seeded_at`): the first of any number of
//! replicas or retries seeds, the others find the marker and do nothing.

use super::content::{self, Client, Work};
use super::tags::{self, table};
use crate::ai::pricing::PriceTable;
use crate::error::{Error, Result};
use crate::identity::{api_keys, tenants};
use crate::ports::ids::new_id;
use crate::ports::{Db, DbExt, Env, Value};
use crate::scheduler::RunContext;
use crate::tenancy::{TenantId, DEFAULT_TENANT};
use crate::time::{day_of, DAY_MS};
use crate::{build_info, params};
use serde_json::json;
use std::collections::BTreeMap;

/// The marker's key in `app_meta`.
pub const MARKER: &str = "demo_seeded_at";
/// Days of history the seeder writes.
pub const DAYS: i64 = 14;
/// Days of dashboard analytics.
pub const ANALYTICS_DAYS: i64 = 30;

const WORK_MODEL: &str = "gpt-4o";
const QA_MODEL: &str = "gpt-4o-mini";

/// Calls a dead job made before it was buried.
const DEAD_CALLS: i64 = 3;

/// A demo job, as [`Seeder::insert_job`] writes it.
struct Job<'a> {
    id: &'a str,
    tenant: &'a str,
    work: &'static Work,
    status: &'static str,
    priority: i64,
    source: &'static str,
    created: i64,
    finished: i64,
}

/// One graded round of work: tokens, cost, timing, grade.
struct Round {
    number: i64,
    passed: bool,
    score: f64,
    work_in: i64,
    work_out: i64,
    qa_in: i64,
    qa_out: i64,
    work_cost: i64,
    qa_cost: i64,
    latency: i64,
    qa_latency: i64,
    started: i64,
    finished: i64,
}

/// What a seeding call found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Seeded earlier, at this time (Unix ms).
    Already(i64),
    /// Seeded now: rows tagged per table.
    Seeded(BTreeMap<String, i64>),
}

/// A small deterministic generator: the same demo every time.
struct Dice(u64);

impl Dice {
    fn next(&mut self, below: i64) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below.max(1) as u64) as i64
    }
}

/// The `demo` job: seed while demo mode is on.
pub fn run(env: &Env, run: &RunContext) -> Result<String> {
    if !super::enabled(env)? {
        return Ok("demo mode is off: nothing to seed".into());
    }
    Ok(match seed(env, run.now_ms)? {
        Outcome::Already(at) => format!("demo data was seeded at {}", crate::time::rfc3339(at)),
        Outcome::Seeded(rows) => format!("demo data seeded: {}", json!(rows)),
    })
}

/// Seed the demo data unless it is there already.
pub fn seed(env: &Env, now: i64) -> Result<Outcome> {
    crate::db::transaction(env.db.as_ref(), |db| {
        if let Some(at) = crate::db::meta::get_i64(db, MARKER)? {
            return Ok(Outcome::Already(at));
        }
        let mut s = Seeder {
            env,
            db,
            now,
            dice: Dice(0x5eed_d3e0),
            spend: BTreeMap::new(),
        };
        s.everything()?;
        let rows = db.exec(
            "SELECT tbl, COUNT(*) FROM demo_rows GROUP BY tbl ORDER BY tbl",
            &[],
        )?;
        let mut counts = BTreeMap::new();
        for r in rows.rows {
            counts.insert(r.text(0)?, r.i64(1)?);
        }
        Ok(Outcome::Seeded(counts))
    })
}

/// Spend per (day, model, role): calls, tokens in, tokens out, cost,
/// passed, failed.
type Spend = BTreeMap<(i64, &'static str, &'static str), [i64; 6]>;

struct Seeder<'a> {
    env: &'a Env,
    db: &'a dyn Db,
    now: i64,
    dice: Dice,
    spend: Spend,
}

impl Seeder<'_> {
    fn everything(&mut self) -> Result<()> {
        tags::remember_sequence(self.db, "job_attempts")?;
        for c in content::CLIENTS {
            self.client(c)?;
        }
        let mut k = 0;
        for c in content::CLIENTS {
            for i in 0..c.jobs {
                self.job(c.id, k, i)?;
                k += 1;
            }
        }
        for i in 0..content::DEFAULT_JOBS {
            self.job(DEFAULT_TENANT, k, i)?;
            k += 1;
        }
        self.spend_rows()?;
        for (n, inc) in content::INCIDENTS.iter().enumerate() {
            self.incident(n, inc)?;
        }
        for p in content::PARTNERS {
            self.partner(p)?;
        }
        self.analytics(DEFAULT_TENANT, content::DEFAULT_VISITORS)?;
        for c in content::CLIENTS {
            self.analytics(c.id, c.visitors)?;
        }
        crate::db::meta::set(self.db, MARKER, &self.now.to_string())?;
        tags::created(self.db, table("app_meta")?, &[Value::from(MARKER)])
    }

    fn client(&mut self, c: &Client) -> Result<()> {
        let id = TenantId::parse(c.id)?;
        let t = table("tenants")?;
        if tags::exists(self.db, t, &[Value::from(c.id)])? {
            return Err(Error::conflict(
                "tenant_exists",
                format!(
                    "tenant `{}` exists and is not demo data: rename it to seed the demo",
                    c.id
                ),
            ));
        }
        tenants::create(
            self.env,
            &id,
            &tenants::Settings {
                name: Some(c.name.into()),
                plan: Some(c.plan.into()),
                locale: Some(c.locale.into()),
                currency: Some(c.currency.into()),
                ..Default::default()
            },
        )?;
        tags::created(self.db, t, &[Value::from(c.id)])
    }

    /// The `i`-th job of `tenant` (`k`-th overall): its state follows `i`,
    /// so every client shows every outcome.
    fn job(&mut self, tenant: &str, k: usize, i: usize) -> Result<()> {
        let work = &content::WORK[k % content::WORK.len()];
        let status = match i % 10 {
            7 => "failed",
            8 => "dead",
            9 => "cancelled",
            _ => "completed",
        };
        let priority = [2, 1, 2, 3, 0, 2, 1, 2, 3, 2][i % 10];
        let source = ["api", "notion", "partner", "operator", "api"][k % 5];
        let created = self.now - self.dice.next(DAYS * DAY_MS - 3_600_000) - 3_600_000;
        let id = new_id("job_", created, self.env.ids.as_ref())?;
        // Grades per round (passed, score): one or two rounds to pass, three
        // failed rounds for a job that never passed QA.
        let grading: Vec<(bool, f64)> = match status {
            "completed" if i.is_multiple_of(3) => {
                vec![(false, 71.5), (true, 86.0 + (k % 9) as f64)]
            }
            "completed" => vec![(true, 84.0 + (k % 13) as f64)],
            "failed" => vec![(false, 62.0), (false, 70.5), (false, 74.25)],
            _ => Vec::new(),
        };
        let mut at = created + 1_000 + self.dice.next(20_000);
        let mut rounds = Vec::new();
        for (n, (passed, score)) in grading.iter().enumerate() {
            let r = self.round(n as i64 + 1, *passed, *score, at);
            at = r.finished + 500;
            rounds.push(r);
        }
        let finished = match status {
            "cancelled" => created + 30_000 + self.dice.next(600_000),
            "dead" => created + DEAD_CALLS * 40_000,
            _ => at,
        };
        let job = Job {
            id: &id,
            tenant,
            work,
            status,
            priority,
            source,
            created,
            finished,
        };
        self.tag_counts(tenant, status, work.job_type, priority)?;
        self.insert_job(&job, &rounds)?;
        for r in &rounds {
            self.insert_round(&job, r)?;
        }
        if status == "dead" {
            for n in 0..DEAD_CALLS {
                self.insert_failed_call(&job, n + 1, created + n * 40_000)?;
            }
        }
        Ok(())
    }

    /// One graded round starting at `at`, its spend counted.
    fn round(&mut self, number: i64, passed: bool, score: f64, at: i64) -> Round {
        let prices = PriceTable::builtin();
        let (work_in, work_out) = (600 + self.dice.next(900), 250 + self.dice.next(650));
        let (qa_in, qa_out) = (800 + self.dice.next(300), 80 + self.dice.next(70));
        let (latency, qa_latency) = (4_000 + self.dice.next(9_000), 900 + self.dice.next(1_800));
        let r = Round {
            number,
            passed,
            score,
            work_in,
            work_out,
            qa_in,
            qa_out,
            work_cost: prices.cost(WORK_MODEL, work_in, work_out),
            qa_cost: prices.cost(QA_MODEL, qa_in, qa_out),
            latency,
            qa_latency,
            started: at,
            finished: at + latency + qa_latency,
        };
        let day = day_of(at);
        self.add_spend(
            day,
            WORK_MODEL,
            "work",
            [1, work_in, work_out, r.work_cost, 0, 0],
        );
        self.add_spend(
            day,
            QA_MODEL,
            "qa",
            [1, qa_in, qa_out, r.qa_cost, passed as i64, !passed as i64],
        );
        r
    }

    fn insert_job(&mut self, j: &Job, rounds: &[Round]) -> Result<()> {
        let sum = |f: fn(&Round) -> i64| rounds.iter().map(f).sum::<i64>();
        let ran = j.status != "cancelled";
        let last = rounds.last();
        let best = rounds.iter().map(|r| r.score).reduce(f64::max);
        let started = rounds.first().map(|r| r.started);
        let attempts = match j.status {
            "dead" => DEAD_CALLS,
            "cancelled" => 0,
            _ => 1,
        };
        self.db.exec(
            "INSERT INTO jobs (id, tenant_id, source, type, priority, status, attempts, max_attempts,
                run_at, title, brief, input, output, provider, model, qa_model, prompt_template_id,
                prompt_version, tokens_in, tokens_out, qa_tokens_in, qa_tokens_out, cost_micros,
                qa_cost_micros, latency_ms, qa_score, qa_passed, qa_scores, simulated, build_sha,
                build_dirty, last_error, dead_reason, created_at, updated_at, started_at, finished_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 3, ?8, ?9, ?10, '{\"context\":{}}', ?11, ?12, ?13,
                ?14, ?15, 1, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, 0, ?26, ?27, ?28, ?29,
                ?8, ?30, ?31, ?30)",
            &[
                Value::from(j.id),
                Value::from(j.tenant),
                Value::from(j.source),
                Value::from(j.work.job_type),
                Value::from(j.priority),
                Value::from(j.status),
                Value::from(attempts),
                Value::from(j.created),
                Value::from(j.work.title),
                Value::from(j.work.brief),
                Value::from((!rounds.is_empty()).then_some(j.work.output)),
                Value::from(ran.then_some("openai")),
                Value::from(ran.then_some(WORK_MODEL)),
                Value::from(ran.then_some(QA_MODEL)),
                Value::from(format!("pt_{}_v1", j.work.job_type)),
                Value::from(sum(|r| r.work_in)),
                Value::from(sum(|r| r.work_out)),
                Value::from(sum(|r| r.qa_in)),
                Value::from(sum(|r| r.qa_out)),
                Value::from(sum(|r| r.work_cost + r.qa_cost)),
                Value::from(sum(|r| r.qa_cost)),
                Value::from(last.zip(started).map(|(l, s)| l.finished - s)),
                Value::from(best),
                Value::from(last.map(|r| r.passed)),
                Value::from(last.map(|r| grades(r.score).to_string())),
                Value::from(build_info::GIT_SHA),
                Value::from(build_info::DIRTY),
                Value::from(match j.status {
                    "dead" => Some(content::PROVIDER_ERROR),
                    "failed" => Some(content::QA_NEVER_PASSED),
                    _ => None,
                }),
                Value::from((j.status == "dead").then_some(content::PROVIDER_ERROR)),
                Value::from(j.finished),
                Value::from(started),
            ],
        )?;
        tags::created(self.db, table("jobs")?, &[Value::from(j.id)])
    }

    fn insert_round(&mut self, j: &Job, r: &Round) -> Result<()> {
        self.db.exec(
            "INSERT INTO job_attempts (job_id, tenant_id, claim, round, worker, status, provider, model,
                qa_model, simulated, prompt_template_id, prompt_version, grader_version, price_version,
                tokens_in, tokens_out, qa_tokens_in, qa_tokens_out, cost_micros, qa_cost_micros,
                latency_ms, qa_latency_ms, qa_score, qa_passed, qa_scores, feedback, output, build_sha,
                started_at, finished_at)
             VALUES (?1, ?2, 1, ?3, 'demo-worker', ?4, 'openai', ?5, ?6, 0, ?7, 1, 'v1', ?8, ?9, ?10,
                ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
            &[
                Value::from(j.id),
                Value::from(j.tenant),
                Value::from(r.number),
                Value::from(if r.passed { "passed" } else { "qa_failed" }),
                Value::from(WORK_MODEL),
                Value::from(QA_MODEL),
                Value::from(format!("pt_{}_v1", j.work.job_type)),
                Value::from(crate::ai::pricing::DEFAULT_VERSION),
                Value::from(r.work_in),
                Value::from(r.work_out),
                Value::from(r.qa_in),
                Value::from(r.qa_out),
                Value::from(r.work_cost + r.qa_cost),
                Value::from(r.qa_cost),
                Value::from(r.latency),
                Value::from(r.qa_latency),
                Value::from(r.score),
                Value::from(r.passed),
                Value::from(grades(r.score).to_string()),
                Value::from((r.number > 1).then_some(content::FEEDBACK)),
                Value::from(j.work.output),
                Value::from(build_info::GIT_SHA),
                Value::from(r.started),
                Value::from(r.finished),
            ],
        )?;
        Ok(())
    }

    /// A provider call of a dead job that failed (claim `claim`, at `at`).
    fn insert_failed_call(&mut self, j: &Job, claim: i64, at: i64) -> Result<()> {
        self.db.exec(
            "INSERT INTO job_attempts (job_id, tenant_id, claim, round, worker, status, provider,
                model, qa_model, prompt_template_id, prompt_version, error, build_sha, started_at,
                finished_at, latency_ms)
             VALUES (?1, ?2, ?3, 1, 'demo-worker', 'failed', 'openai', ?4, ?5, ?6, 1, ?7, ?8, ?9, ?10, 30000)",
            params![
                j.id,
                j.tenant,
                claim,
                WORK_MODEL,
                QA_MODEL,
                format!("pt_{}_v1", j.work.job_type),
                content::PROVIDER_ERROR,
                build_info::GIT_SHA,
                at,
                at + 30_000
            ],
        )?;
        Ok(())
    }

    /// Tag the `job_counts` and `queue_tenants` rows the jobs triggers are
    /// about to create, so removal deletes them again.
    fn tag_counts(
        &mut self,
        tenant: &str,
        status: &str,
        job_type: &str,
        priority: i64,
    ) -> Result<()> {
        let counts = table("job_counts")?;
        let key = [
            Value::from(tenant),
            Value::from(status),
            Value::from(job_type),
            Value::from(priority),
        ];
        if !tags::exists(self.db, counts, &key)? {
            tags::created(self.db, counts, &key)?;
        }
        let queue = table("queue_tenants")?;
        let key = [Value::from(tenant)];
        if !tags::exists(self.db, queue, &key)? {
            tags::created(self.db, queue, &key)?;
        }
        Ok(())
    }

    fn add_spend(&mut self, day: i64, model: &'static str, role: &'static str, add: [i64; 6]) {
        let row = self.spend.entry((day, model, role)).or_default();
        for (r, a) in row.iter_mut().zip(add) {
            *r += a;
        }
    }

    fn spend_rows(&mut self) -> Result<()> {
        let t = table("llm_usage_days")?;
        for ((day, model, role), amounts) in std::mem::take(&mut self.spend) {
            let key = [Value::from(day), Value::from(model), Value::from(role)];
            tags::add(self.db, t, &key, &amounts)?;
        }
        Ok(())
    }

    fn incident(&mut self, n: usize, inc: &content::Incident) -> Result<()> {
        let created = self.now - inc.hours_ago * 3_600_000;
        let last_seen = created + inc.repeats * 300_000;
        let id = new_id("inc_", created, self.env.ids.as_ref())?;
        let acknowledged = (inc.status != "open").then_some(created + 600_000);
        let resolved = (inc.status == "resolved").then_some(last_seen + 1_800_000);
        self.db.exec(
            "INSERT INTO incidents (id, severity, source, message, links, fingerprint, status,
                repeat_count, created_at, last_seen_at, acknowledged_at, acknowledged_by,
                resolved_at, resolved_by, resolution_note, build_sha)
             VALUES (?1, ?2, ?3, ?4, '[]', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            &[
                Value::from(id.as_str()),
                Value::from(inc.severity),
                Value::from(inc.source),
                Value::from(inc.message),
                Value::from(format!("demo:{n}")),
                Value::from(inc.status),
                Value::from(inc.repeats),
                Value::from(created),
                Value::from(last_seen),
                Value::from(acknowledged),
                Value::from(acknowledged.map(|_| "ops@demo.example")),
                Value::from(resolved),
                Value::from(resolved.map(|_| "ops@demo.example")),
                Value::from(inc.note),
                Value::from(build_info::GIT_SHA),
            ],
        )?;
        tags::created(self.db, table("incidents")?, &[Value::from(id.as_str())])
    }

    fn partner(&mut self, p: &content::Partner) -> Result<()> {
        let scopes: Vec<String> = p.scopes.iter().map(|s| s.to_string()).collect();
        // The secret is thrown away: nobody can call with a demo key.
        let (key, _secret) = api_keys::create(
            self.env,
            &TenantId::parse(p.tenant)?,
            p.name,
            &scopes,
            p.daily,
            p.monthly,
            "demo",
        )?;
        let date = crate::time::date(self.now);
        for (period, count) in [
            (format!("d:{date}"), p.used_today),
            (format!("m:{}", &date[..7]), p.used_month),
        ] {
            self.db.exec(
                "INSERT INTO api_key_usage (key_id, period, count) VALUES (?1, ?2, ?3)",
                params![key.id.as_str(), period, count],
            )?;
        }
        self.db.exec(
            "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
            params![key.id.as_str(), self.now - 420_000],
        )?;
        tags::created(self.db, table("api_keys")?, &[Value::from(key.id.as_str())])
    }

    /// `visitors` a day (give or take) over [`ANALYTICS_DAYS`], as the
    /// rollup would have stored them.
    fn analytics(&mut self, tenant: &str, visitors: i64) -> Result<()> {
        let today = day_of(self.now);
        for d in today - ANALYTICS_DAYS + 1..=today {
            let weekend = (d + 3).rem_euclid(7) >= 5; // 1970-01-01 was a Thursday
            let base = if weekend { visitors / 3 } else { visitors };
            let who = (base + self.dice.next(3) - 1).max(0);
            if who == 0 {
                continue;
            }
            // Every visitor opens a few views; fewer take actions.
            let views = who * 6 + self.dice.next(who + 1);
            let mut events = views;
            self.analytics_event(tenant, d, "page.view", views)?;
            for (rank, action) in content::ACTIONS.iter().enumerate() {
                let n = (who / (rank as i64 + 1)) + self.dice.next(2);
                if n > 0 {
                    events += n;
                    self.analytics_event(tenant, d, action, n)?;
                }
            }
            tags::add(
                self.db,
                table("analytics_days")?,
                &[Value::from(tenant), Value::from(d)],
                &[who, events],
            )?;
        }
        Ok(())
    }

    fn analytics_event(&mut self, tenant: &str, day: i64, name: &str, n: i64) -> Result<()> {
        tags::add(
            self.db,
            table("analytics_day_events")?,
            &[Value::from(tenant), Value::from(day), Value::from(name)],
            &[n],
        )
    }
}

/// Four grades around `score`, as the grader stores them.
fn grades(score: f64) -> serde_json::Value {
    let s = score.round() as i64;
    json!({
        "clarity": { "score": (s + 3).min(100), "reason": "Clear structure and plain wording." },
        "accuracy": { "score": s, "reason": "Facts match the brief." },
        "completeness": { "score": (s - 4).max(0), "reason": "Covers what the brief asks for." },
        "professional_tone": { "score": (s + 1).min(100), "reason": "Courteous and professional." }
    })
}
