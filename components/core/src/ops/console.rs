//! The operator console: an allow-list of commands, dry-run by default.
//!
//! `GET /api/ops/commands` lists them; `POST /api/ops/command`
//! `{"command", "args"?, "confirm"?}` describes what a command would do
//! (`confirm` absent or false) or does it (`confirm: true`). Admins only;
//! every call, dry run or not, is in the audit chain with its arguments and
//! outcome. Anything not on the list is 422 `unknown_command`.

use crate::app::Ctx;
use crate::audit::{self, Change, Who};
use crate::error::{Error, Result};
use crate::events::{self, Filter, Level};
use crate::http::{Request, Response};
use crate::jobs::model::Status;
use crate::jobs::queue::{self, Pause};
use crate::jobs::store;
use crate::tenancy::Scope;
use crate::{backup, payments, slo};
use futures::future::LocalBoxFuture;
use serde::Deserialize;
use serde_json::{json, Value};

/// Dead jobs one `retry_dead_jobs` call puts back, at most.
pub const RETRY_DEAD_MAX: usize = 200;

/// One command of the allow-list.
pub struct Command {
    /// Its name in requests.
    pub name: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Its arguments, for people.
    pub args: &'static str,
    run: Run,
}

/// A command's body: most are plain functions; those that call out (to
/// Stripe) return a future.
#[derive(Clone, Copy)]
enum Run {
    Sync(fn(&Ctx, &Value, bool) -> Result<Value>),
    Async(for<'a> fn(&'a Ctx<'a>, &'a Value, bool) -> LocalBoxFuture<'a, Result<Value>>),
}

/// The allow-list.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "pause_queue",
        summary: "Stop workers claiming jobs (arrivals wait; expired leases are still recovered).",
        args: "reason?: string",
        run: Run::Sync(pause),
    },
    Command {
        name: "resume_queue",
        summary: "Let workers claim jobs again.",
        args: "none",
        run: Run::Sync(resume),
    },
    Command {
        name: "retry_dead_jobs",
        summary: "Put dead jobs back in the queue with fresh attempts (up to 200 per call, oldest first).",
        args: "limit?: 1..200",
        run: Run::Sync(retry_dead),
    },
    Command {
        name: "rebaseline_slo",
        summary: "Start every SLO window now (earlier errors stop counting).",
        args: "reason?: string",
        run: Run::Sync(rebaseline),
    },
    Command {
        name: "clear_deploy_gate",
        summary: "Lower the deploy gate.",
        args: "reason?: string",
        run: Run::Sync(clear_gate),
    },
    Command {
        name: "run_daily_report",
        summary: "Store a day's report and submit its LLM summary (emailed when done); once per day.",
        args: "date?: YYYY-MM-DD (yesterday)",
        run: Run::Sync(daily_report),
    },
    Command {
        name: "run_backup",
        summary: "Take a backup of the database now, keep the newest backup_keep, and verify it.",
        args: "none",
        run: Run::Sync(run_backup),
    },
    Command {
        name: "verify_backup",
        summary: "Read a stored backup back and check its SHA-256, rows per table and ending.",
        args: "id?: string (the latest)",
        run: Run::Sync(verify_backup),
    },
    Command {
        name: "run_drill",
        summary: "Ask cron-dr for a DR drill: the latest backup restored into scratch, compared and timed, within a minute (a failure pages).",
        args: "none",
        run: Run::Sync(run_drill),
    },
    Command {
        name: "reconcile_payments",
        summary: "Compare Stripe's charges with the payments ledger; with confirm, bring the ledger in line.",
        args: "days?: 1..90 (3)",
        run: Run::Async(reconcile_payments),
    },
    Command {
        name: "remove_demo_data",
        summary: "Remove every demo row (switch demo_mode off first), leaving no trace.",
        args: "none",
        run: Run::Sync(remove_demo_data),
    },
    Command {
        name: "tail_logs",
        summary: "The latest events (read-only; runs even without confirm).",
        args: "level?: debug|info|warn|error, component?: string, limit?: 1..200",
        run: Run::Sync(tail_logs),
    },
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandRequest {
    command: String,
    #[serde(default)]
    args: Value,
    #[serde(default)]
    confirm: bool,
}

fn arg_str(args: &Value, name: &str, max: usize) -> Result<Option<String>> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.trim().to_string())),
        Some(_) => Err(Error::unprocessable(
            "invalid_args",
            format!("`args.{name}` must be a string of at most {max} characters"),
        )),
    }
}

fn arg_limit(args: &Value, default: usize, max: usize) -> Result<usize> {
    match args.get("limit") {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .map(|n| n as usize)
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                Error::unprocessable(
                    "invalid_args",
                    format!("`args.limit` must be an integer from 1 to {max}"),
                )
            }),
    }
}

fn only(args: &Value, allowed: &[&str]) -> Result<()> {
    match args {
        Value::Null => Ok(()),
        Value::Object(m) => match m.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(Error::unprocessable(
                "invalid_args",
                format!("unknown argument `{k}`; this command takes {allowed:?}"),
            )),
            None => Ok(()),
        },
        _ => Err(Error::unprocessable(
            "invalid_args",
            "`args` must be an object",
        )),
    }
}

fn pause(ctx: &Ctx, args: &Value, confirm: bool) -> Result<Value> {
    only(args, &["reason"])?;
    let reason = arg_str(args, "reason", 500)?;
    let current = queue::paused(ctx.env)?;
    if !confirm {
        return Ok(json!({ "would": "pause the queue", "currently_paused": current }));
    }
    let p = Pause {
        by: ctx.principal.actor(),
        at: crate::time::rfc3339(ctx.env.clock.now_ms()),
        reason,
    };
    queue::set_paused(ctx.env, Some(&p))?;
    Ok(json!({ "paused": p }))
}

fn resume(ctx: &Ctx, args: &Value, confirm: bool) -> Result<Value> {
    only(args, &[])?;
    let current = queue::paused(ctx.env)?;
    if !confirm {
        return Ok(json!({ "would": "resume the queue", "currently_paused": current }));
    }
    queue::set_paused(ctx.env, None)?;
    Ok(json!({ "resumed": true, "was_paused": current }))
}

fn retry_dead(ctx: &Ctx, args: &Value, confirm: bool) -> Result<Value> {
    only(args, &["limit"])?;
    let limit = arg_limit(args, RETRY_DEAD_MAX, RETRY_DEAD_MAX)?;
    let filter = store::Filter {
        status: Some(Status::Dead),
        ..Default::default()
    };
    let page = store::list(ctx.env, &Scope::All, &filter, None, limit)?;
    let ids: Vec<String> = page.jobs.iter().map(|j| j.id.clone()).collect();
    if !confirm {
        return Ok(
            json!({ "would": "retry these dead jobs", "jobs": ids, "more": page.next_cursor.is_some() }),
        );
    }
    let mut retried = Vec::new();
    for id in &ids {
        // A job another operator retried meanwhile is skipped, not an error.
        if store::retry(ctx.env, &Scope::All, id).is_ok() {
            retried.push(id.clone());
        }
    }
    Ok(json!({ "retried": retried, "more": page.next_cursor.is_some() }))
}

fn rebaseline(ctx: &Ctx, args: &Value, confirm: bool) -> Result<Value> {
    only(args, &["reason"])?;
    arg_str(args, "reason", 500)?;
    if !confirm {
        let r = slo::report(ctx.env)?;
        return Ok(
            json!({ "would": "start every SLO window now", "burn_alert": r.burn_alert, "breaches": r.breaches }),
        );
    }
    slo::budget::rebaseline(ctx.env, ctx.env.clock.now_ms())?;
    Ok(json!({ "rebaselined_at": crate::time::rfc3339(ctx.env.clock.now_ms()) }))
}

fn clear_gate(ctx: &Ctx, args: &Value, confirm: bool) -> Result<Value> {
    only(args, &["reason"])?;
    arg_str(args, "reason", 500)?;
    let gate = slo::gate::state(ctx.env.db.as_ref())?;
    if !confirm {
        return Ok(json!({ "would": "lower the deploy gate", "gate": gate }));
    }
    slo::gate::clear(ctx.env, &ctx.principal.actor(), ctx.env.clock.now_ms())?;
    Ok(json!({ "gate": slo::gate::state(ctx.env.db.as_ref())? }))
}

fn daily_report(ctx: &Ctx, args: &Value, confirm: bool) -> Result<Value> {
    only(args, &["date"])?;
    let today = crate::time::day_of(ctx.env.clock.now_ms());
    let day = match arg_str(args, "date", 10)? {
        None => today - 1,
        Some(d) => crate::time::parse_day(&d)
            .ok_or_else(|| Error::unprocessable("invalid_args", "`args.date` is YYYY-MM-DD"))?,
    };
    if day > today {
        return Err(Error::unprocessable(
            "invalid_args",
            "`args.date` is in the future",
        ));
    }
    if !confirm {
        let stored = crate::reports::stored(ctx.env, day)?;
        return Ok(
            json!({ "would": "store the report and submit its summary job", "date": crate::time::date(day * crate::time::DAY_MS), "already_stored": stored.is_some() }),
        );
    }
    Ok(json!({ "report": crate::reports::generate(ctx.env, day)? }))
}

fn run_backup(ctx: &Ctx, args: &Value, confirm: bool) -> Result<Value> {
    only(args, &[])?;
    if !confirm {
        return Ok(
            json!({ "would": "take, store and verify a backup", "plan": backup::plan(ctx.env)? }),
        );
    }
    let (manifest, verification) =
        backup::backup_and_verify(ctx.env, &ctx.principal.actor(), "console")?;
    Ok(json!({ "backup": manifest, "verification": verification }))
}

fn verify_backup(ctx: &Ctx, args: &Value, confirm: bool) -> Result<Value> {
    only(args, &["id"])?;
    let manifest = match arg_str(args, "id", 80)? {
        Some(id) => backup::get(ctx.env, &id)?,
        None => backup::latest(ctx.env)?
            .ok_or_else(|| Error::not_found("there are no backups yet: run_backup takes one"))?,
    };
    if !confirm {
        return Ok(json!({ "would": "verify this backup", "backup": manifest }));
    }
    Ok(json!({ "verification": backup::verify(ctx.env, &manifest.id)? }))
}

fn run_drill(ctx: &Ctx, args: &Value, confirm: bool) -> Result<Value> {
    only(args, &[])?;
    if !confirm {
        return Ok(json!({
            "would": "ask cron-dr to restore the latest backup into scratch and compare it (within a minute)",
            "backup": backup::latest(ctx.env)?.map(|m| m.id),
            "pending": crate::dr::runs::pending_drill(ctx.env.db.as_ref())?,
        }));
    }
    let (drill, new) = crate::dr::request_drill(ctx.env, &ctx.principal.actor())?;
    Ok(json!({ "drill": drill, "already_requested": !new }))
}

fn reconcile_payments<'a>(
    ctx: &'a Ctx<'a>,
    args: &'a Value,
    confirm: bool,
) -> LocalBoxFuture<'a, Result<Value>> {
    Box::pin(async move {
        only(args, &["days"])?;
        let days = match args.get("days") {
            None | Some(Value::Null) => payments::reconcile::DEFAULT_DAYS,
            Some(v) => v
                .as_i64()
                .ok_or_else(|| Error::unprocessable("invalid_args", "`args.days` is an integer"))
                .and_then(payments::reconcile::check_days)?,
        };
        let actor = ctx.principal.actor();
        let who = payments::Requester {
            trigger: "console",
            actor: &actor,
        };
        let r = payments::reconcile_and_record(ctx.env, days, confirm, &who).await?;
        Ok(if confirm {
            json!({ "reconciliation": r })
        } else {
            json!({ "would": "write these differences to the payments ledger", "reconciliation": r })
        })
    })
}

fn remove_demo_data(ctx: &Ctx, args: &Value, confirm: bool) -> Result<Value> {
    only(args, &[])?;
    if !confirm {
        return Ok(
            json!({ "would": "remove these demo rows", "demo": crate::demo::remove::plan(ctx.env)? }),
        );
    }
    crate::demo::remove::remove(ctx.env)
}

fn tail_logs(ctx: &Ctx, args: &Value, _confirm: bool) -> Result<Value> {
    only(args, &["level", "component", "limit"])?;
    let filter = Filter {
        min_level: arg_str(args, "level", 10)?
            .map(|l| Level::parse(&l))
            .transpose()?,
        component: arg_str(args, "component", 100)?,
        limit: arg_limit(args, 50, 200)?,
        ..Default::default()
    };
    let (list, _) = events::query(ctx.env, &filter)?;
    Ok(json!({ "events": list }))
}

/// `GET /api/ops/commands`: the allow-list.
pub fn list(ctx: &Ctx, _req: &Request) -> Result<Response> {
    ctx.require_platform("operator commands")?;
    let commands: Vec<Value> = COMMANDS
        .iter()
        .map(|c| json!({ "name": c.name, "summary": c.summary, "args": c.args }))
        .collect();
    Ok(Response::ok(
        &json!({ "commands": commands, "dry_run_by_default": true }),
    ))
}

/// `POST /api/ops/command`: dry-run or execute one command; audited.
pub fn run<'a>(ctx: &'a Ctx<'a>, req: &'a Request) -> LocalBoxFuture<'a, Result<Response>> {
    Box::pin(run_command(ctx, req))
}

async fn run_command(ctx: &Ctx<'_>, req: &Request) -> Result<Response> {
    ctx.require_platform("operator commands")?;
    let body: CommandRequest = req.json()?;
    let cmd = COMMANDS.iter().find(|c| c.name == body.command);
    let outcome = match cmd.map(|c| c.run) {
        Some(Run::Sync(f)) => f(ctx, &body.args, body.confirm),
        Some(Run::Async(f)) => f(ctx, &body.args, body.confirm).await,
        None => {
            let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
            Err(Error::unprocessable(
                "unknown_command",
                format!(
                    "`{}` is not an operator command; known: {}",
                    body.command.chars().take(64).collect::<String>(),
                    names.join(", ")
                ),
            ))
        }
    };
    // Refused and unknown commands are recorded too.
    audit::record_business(
        ctx.env,
        &Who::of(ctx),
        "ops.command",
        Change::on(&body.command.chars().take(64).collect::<String>()).detail(json!({
            "args": body.args,
            "confirm": body.confirm,
            "ok": outcome.is_ok(),
            "error": outcome.as_ref().err().map(|e| e.code),
        })),
    )?;
    let result = outcome?;
    Ok(Response::ok(&json!({
        "command": body.command,
        "dry_run": !body.confirm,
        "result": result,
    })))
}
