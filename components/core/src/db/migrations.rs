//! The schema, as numbered migrations. Append only: a released migration is
//! never edited or removed (a checksum test guards the released ones), and
//! every statement is idempotent (`IF NOT EXISTS`, `INSERT OR IGNORE`).

/// One schema version.
pub struct Migration {
    /// Strictly increasing from 1.
    pub version: i64,
    /// What it adds, for people.
    pub name: &'static str,
    /// One statement per entry (the SQL port runs one statement per call).
    pub statements: &'static [&'static str],
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    FOUNDATION,
    JOBS,
    IDENTITY,
    AUDIT_ANCHORS,
    TELEMETRY,
    INCIDENTS,
    SLO,
    COSTS,
    SCALE,
    REPORTS,
    LEAN_SAMPLES,
    BACKUPS,
    PAYMENTS,
    SECURITY,
    ANALYTICS_AND_DEMO,
    MONEY,
    WORKFLOWS,
    SECRET_FINGERPRINTS,
    WORKFLOW_NOTION_TRIGGERS,
    COMPLIANCE,
    PRIVACY,
    DISASTER_RECOVERY,
    OFFSITE_BACKUPS,
    DRIVE_FILING,
];

const FOUNDATION: Migration = Migration {
    version: 1,
    name: "foundation: metadata, scheduler runs, heartbeats",
    statements: &[
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at INTEGER NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS app_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )",
        "INSERT OR IGNORE INTO app_meta (key, value)
            VALUES ('initialized_at', CAST(strftime('%s', 'now') AS INTEGER) * 1000)",
        "CREATE TABLE IF NOT EXISTS scheduler_runs (
            job TEXT NOT NULL,
            slot INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
            owner TEXT NOT NULL,
            trigger TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            lease_expires_at INTEGER NOT NULL,
            started_at INTEGER NOT NULL,
            finished_at INTEGER,
            summary TEXT,
            error TEXT,
            PRIMARY KEY (job, slot)
        )",
        "CREATE INDEX IF NOT EXISTS scheduler_runs_by_status
            ON scheduler_runs (job, status, lease_expires_at)",
        "CREATE INDEX IF NOT EXISTS scheduler_runs_by_start ON scheduler_runs (started_at)",
        "CREATE TABLE IF NOT EXISTS heartbeats (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
            slot INTEGER NOT NULL,
            trigger TEXT NOT NULL,
            git_sha TEXT NOT NULL,
            dirty INTEGER NOT NULL,
            missed_slots INTEGER NOT NULL DEFAULT 0
        )",
        "CREATE INDEX IF NOT EXISTS heartbeats_by_time ON heartbeats (at)",
    ],
};

const JOBS: Migration = Migration {
    version: 2,
    name: "jobs: queue, attempts, counters, prompt templates, prices, QA consistency",
    statements: &[
        "CREATE TABLE IF NOT EXISTS jobs (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('api', 'partner', 'notion', 'workflow', 'operator')),
            type TEXT NOT NULL CHECK (type IN ('ai_task', 'report_gen', 'data_sync')),
            priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),
            status TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'dead', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL,
            run_at INTEGER NOT NULL,
            lease_owner TEXT,
            lease_expires_at INTEGER,
            title TEXT,
            brief TEXT NOT NULL,
            email TEXT,
            input TEXT NOT NULL,
            idempotency_key TEXT,
            request_hash TEXT,
            external_ref TEXT,
            output TEXT,
            provider TEXT,
            model TEXT,
            qa_model TEXT,
            prompt_template_id TEXT,
            prompt_version INTEGER,
            tokens_in INTEGER NOT NULL DEFAULT 0,
            tokens_out INTEGER NOT NULL DEFAULT 0,
            qa_tokens_in INTEGER NOT NULL DEFAULT 0,
            qa_tokens_out INTEGER NOT NULL DEFAULT 0,
            cost_micros INTEGER NOT NULL DEFAULT 0,
            qa_cost_micros INTEGER NOT NULL DEFAULT 0,
            latency_ms INTEGER,
            qa_score REAL,
            qa_passed INTEGER,
            qa_scores TEXT,
            simulated INTEGER NOT NULL DEFAULT 0,
            build_sha TEXT NOT NULL,
            build_dirty INTEGER NOT NULL,
            last_error TEXT,
            dead_reason TEXT,
            sync_state TEXT CHECK (sync_state IN ('pending', 'done', 'failed')),
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            started_at INTEGER,
            finished_at INTEGER
        )",
        "CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency
            ON jobs (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (tenant_id, priority, run_at, id) WHERE status = 'queued'",
        "CREATE INDEX IF NOT EXISTS jobs_queued_since ON jobs (created_at) WHERE status = 'queued'",
        "CREATE INDEX IF NOT EXISTS jobs_leases ON jobs (lease_expires_at) WHERE status = 'processing'",
        "CREATE INDEX IF NOT EXISTS jobs_by_tenant ON jobs (tenant_id, id)",
        "CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, id)",
        "CREATE INDEX IF NOT EXISTS jobs_by_email ON jobs (tenant_id, email, id) WHERE email IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS jobs_sync_pending ON jobs (source, finished_at) WHERE sync_state = 'pending'",
        "CREATE TABLE IF NOT EXISTS job_attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL,
            tenant_id TEXT NOT NULL,
            claim INTEGER NOT NULL,
            round INTEGER NOT NULL,
            worker TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('running', 'passed', 'qa_failed', 'failed', 'abandoned', 'snoozed', 'cancelled')),
            provider TEXT,
            model TEXT,
            qa_model TEXT,
            simulated INTEGER NOT NULL DEFAULT 0,
            prompt_template_id TEXT,
            prompt_version INTEGER,
            grader_version TEXT,
            price_version TEXT,
            tokens_in INTEGER NOT NULL DEFAULT 0,
            tokens_out INTEGER NOT NULL DEFAULT 0,
            qa_tokens_in INTEGER NOT NULL DEFAULT 0,
            qa_tokens_out INTEGER NOT NULL DEFAULT 0,
            cost_micros INTEGER NOT NULL DEFAULT 0,
            qa_cost_micros INTEGER NOT NULL DEFAULT 0,
            latency_ms INTEGER,
            qa_latency_ms INTEGER,
            qa_score REAL,
            qa_passed INTEGER,
            qa_scores TEXT,
            feedback TEXT,
            output TEXT,
            error TEXT,
            build_sha TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            finished_at INTEGER
        )",
        "CREATE INDEX IF NOT EXISTS job_attempts_by_job ON job_attempts (job_id, id)",
        "CREATE INDEX IF NOT EXISTS job_attempts_by_template ON job_attempts (prompt_template_id, started_at)",
        "CREATE INDEX IF NOT EXISTS job_attempts_by_start ON job_attempts (started_at)",
        // Exact counts by (tenant, status, type, priority), kept by triggers so
        // queue status and metrics never count the jobs table.
        "CREATE TABLE IF NOT EXISTS job_counts (
            tenant_id TEXT NOT NULL,
            status TEXT NOT NULL,
            type TEXT NOT NULL,
            priority INTEGER NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (tenant_id, status, type, priority)
        )",
        // Fairness: the tenant served longest ago goes first within a priority.
        "CREATE TABLE IF NOT EXISTS queue_tenants (
            tenant_id TEXT PRIMARY KEY,
            last_claim_seq INTEGER NOT NULL DEFAULT 0
        )",
        "CREATE TRIGGER IF NOT EXISTS jobs_count_insert AFTER INSERT ON jobs BEGIN
            INSERT INTO job_counts (tenant_id, status, type, priority, n)
                VALUES (NEW.tenant_id, NEW.status, NEW.type, NEW.priority, 1)
                ON CONFLICT (tenant_id, status, type, priority) DO UPDATE SET n = n + 1;
            INSERT OR IGNORE INTO queue_tenants (tenant_id, last_claim_seq) VALUES (NEW.tenant_id, 0);
        END",
        "CREATE TRIGGER IF NOT EXISTS jobs_count_update AFTER UPDATE OF status, type, priority, tenant_id ON jobs
        WHEN OLD.status IS NOT NEW.status OR OLD.type IS NOT NEW.type
          OR OLD.priority IS NOT NEW.priority OR OLD.tenant_id IS NOT NEW.tenant_id
        BEGIN
            UPDATE job_counts SET n = n - 1
                WHERE tenant_id = OLD.tenant_id AND status = OLD.status AND type = OLD.type AND priority = OLD.priority;
            INSERT INTO job_counts (tenant_id, status, type, priority, n)
                VALUES (NEW.tenant_id, NEW.status, NEW.type, NEW.priority, 1)
                ON CONFLICT (tenant_id, status, type, priority) DO UPDATE SET n = n + 1;
        END",
        "CREATE TRIGGER IF NOT EXISTS jobs_count_delete AFTER DELETE ON jobs BEGIN
            UPDATE job_counts SET n = n - 1
                WHERE tenant_id = OLD.tenant_id AND status = OLD.status AND type = OLD.type AND priority = OLD.priority;
        END",
        "CREATE TRIGGER IF NOT EXISTS jobs_claimed AFTER UPDATE OF status ON jobs
        WHEN OLD.status = 'queued' AND NEW.status = 'processing'
        BEGIN
            UPDATE queue_tenants
                SET last_claim_seq = (SELECT COALESCE(MAX(last_claim_seq), 0) + 1 FROM queue_tenants)
                WHERE tenant_id = NEW.tenant_id;
        END",
        "CREATE TABLE IF NOT EXISTS prompt_templates (
            id TEXT PRIMARY KEY,
            job_type TEXT NOT NULL,
            version INTEGER NOT NULL,
            system_prompt TEXT NOT NULL,
            user_template TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 0,
            notes TEXT,
            created_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            UNIQUE (job_type, version)
        )",
        "CREATE INDEX IF NOT EXISTS prompt_templates_active ON prompt_templates (job_type) WHERE active = 1",
        "INSERT OR IGNORE INTO prompt_templates (id, job_type, version, system_prompt, user_template, active, notes, created_by, created_at)
         VALUES ('pt_ai_task_v1', 'ai_task', 1,
            'You are EchoPilot, a senior professional writer and analyst. Produce finished, accurate, well-structured work that fully answers the brief. Write in clear, professional English. Do not mention that you are an AI.',
            'Brief:\n{{brief}}\n\nTitle: {{title}}\n\nDeliver the complete piece of work now.{{feedback}}',
            1, 'initial template', 'migration', CAST(strftime('%s', 'now') AS INTEGER) * 1000)",
        "INSERT OR IGNORE INTO prompt_templates (id, job_type, version, system_prompt, user_template, active, notes, created_by, created_at)
         VALUES ('pt_report_gen_v1', 'report_gen', 1,
            'You are EchoPilot, a business analyst. Write concise, factual reports with a one-paragraph executive summary first, then sections with headings, then recommended next steps. Never invent figures that are not in the brief.',
            'Write a report.\n\nBrief and data:\n{{brief}}\n\nTitle: {{title}}{{feedback}}',
            1, 'initial template', 'migration', CAST(strftime('%s', 'now') AS INTEGER) * 1000)",
        "INSERT OR IGNORE INTO prompt_templates (id, job_type, version, system_prompt, user_template, active, notes, created_by, created_at)
         VALUES ('pt_data_sync_v1', 'data_sync', 1,
            'You are EchoPilot, a data clerk. Turn unstructured text into one structured JSON object with clear, snake_case field names. Answer with the JSON object only.',
            'Extract a structured record from this text so it can be synced to a database:\n{{brief}}\n\nRecord name: {{title}}{{feedback}}',
            1, 'initial template', 'migration', CAST(strftime('%s', 'now') AS INTEGER) * 1000)",
        "CREATE TABLE IF NOT EXISTS model_prices (
            version TEXT NOT NULL,
            model TEXT NOT NULL,
            input_per_mtok_micros INTEGER NOT NULL,
            output_per_mtok_micros INTEGER NOT NULL,
            PRIMARY KEY (version, model)
        )",
        "CREATE TABLE IF NOT EXISTS qa_consistency (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL,
            attempt_id INTEGER NOT NULL,
            tenant_id TEXT NOT NULL,
            criterion TEXT NOT NULL,
            score_a INTEGER NOT NULL,
            score_b INTEGER NOT NULL,
            threshold INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS qa_consistency_by_time ON qa_consistency (created_at)",
        "CREATE TABLE IF NOT EXISTS integration_status (
            name TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            detail TEXT,
            updated_at INTEGER NOT NULL
        )",
    ],
};

/// The schema version this build expects.
pub fn latest() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

const IDENTITY: Migration = Migration {
    version: 3,
    name: "identity: tenants, users, signing keys, refresh tokens, API keys, rate limits, audit chain",
    statements: &[
        "CREATE TABLE IF NOT EXISTS tenants (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            plan TEXT NOT NULL DEFAULT 'free',
            locale TEXT NOT NULL DEFAULT 'en',
            currency TEXT NOT NULL DEFAULT 'USD',
            limits TEXT NOT NULL DEFAULT '{}',
            active INTEGER NOT NULL DEFAULT 1,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )",
        "INSERT OR IGNORE INTO tenants (id, name, plan, created_at, updated_at)
            VALUES ('default', 'Default', 'enterprise', CAST(strftime('%s', 'now') AS INTEGER) * 1000,
                    CAST(strftime('%s', 'now') AS INTEGER) * 1000)",
        "CREATE TABLE IF NOT EXISTS users (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            email TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'analyst', 'partner', 'viewer')),
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            last_login_at INTEGER
        )",
        "CREATE INDEX IF NOT EXISTS users_by_tenant ON users (tenant_id, id)",
        "CREATE TABLE IF NOT EXISTS jwt_keys (
            kid TEXT PRIMARY KEY,
            active INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            retired_at INTEGER
        )",
        "CREATE UNIQUE INDEX IF NOT EXISTS jwt_keys_one_active ON jwt_keys (active) WHERE active = 1",
        "CREATE TABLE IF NOT EXISTS refresh_tokens (
            jti TEXT PRIMARY KEY,
            family TEXT NOT NULL,
            user_id TEXT NOT NULL,
            tenant_id TEXT NOT NULL,
            issued_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            used_at INTEGER,
            revoked_at INTEGER
        )",
        "CREATE INDEX IF NOT EXISTS refresh_tokens_by_family ON refresh_tokens (family)",
        "CREATE INDEX IF NOT EXISTS refresh_tokens_by_expiry ON refresh_tokens (expires_at)",
        "CREATE TABLE IF NOT EXISTS api_keys (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            name TEXT NOT NULL,
            prefix TEXT NOT NULL UNIQUE,
            secret_hash TEXT NOT NULL,
            scopes TEXT NOT NULL,
            daily_quota INTEGER NOT NULL,
            monthly_quota INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            last_used_at INTEGER,
            revoked_at INTEGER
        )",
        "CREATE INDEX IF NOT EXISTS api_keys_by_tenant ON api_keys (tenant_id, id)",
        "CREATE TABLE IF NOT EXISTS api_key_usage (
            key_id TEXT NOT NULL,
            period TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (key_id, period)
        )",
        "CREATE TABLE IF NOT EXISTS rate_buckets (
            key TEXT PRIMARY KEY,
            tokens REAL NOT NULL,
            updated_ms INTEGER NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS rate_buckets_by_age ON rate_buckets (updated_ms)",
        "CREATE TABLE IF NOT EXISTS audit_log (
            seq INTEGER PRIMARY KEY,
            ts INTEGER NOT NULL,
            tenant_id TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT,
            detail TEXT NOT NULL,
            request_id TEXT,
            build_sha TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE
        )",
        "CREATE INDEX IF NOT EXISTS audit_log_by_action ON audit_log (action, seq)",
        "CREATE INDEX IF NOT EXISTS audit_log_by_tenant ON audit_log (tenant_id, seq)",
    ],
};

const AUDIT_ANCHORS: Migration = Migration {
    version: 4,
    name: "audit anchors: the chain's head, recorded every minute",
    statements: &["CREATE TABLE IF NOT EXISTS audit_anchors (
            seq INTEGER PRIMARY KEY,
            hash TEXT NOT NULL,
            anchored_at INTEGER NOT NULL
        )"],
};

const TELEMETRY: Migration = Migration {
    version: 5,
    name: "telemetry: request samples, minute rollups, totals, LLM usage by day, event log",
    statements: &[
        // One row per request, appended after the response is sent; folded
        // into the rollups below and pruned by `telemetry::compact`.
        "CREATE TABLE IF NOT EXISTS request_samples (
            id INTEGER PRIMARY KEY,
            at_ms INTEGER NOT NULL,
            component TEXT NOT NULL,
            route TEXT NOT NULL,
            method TEXT NOT NULL,
            status INTEGER NOT NULL,
            latency_us INTEGER NOT NULL,
            tenant_id TEXT NOT NULL,
            request_id TEXT NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS request_samples_by_request ON request_samples (request_id)",
        // Per-minute histograms (bucket counts b0..b11, not cumulative),
        // kept 30 days.
        "CREATE TABLE IF NOT EXISTS request_minutes (
            minute INTEGER NOT NULL,
            component TEXT NOT NULL,
            route TEXT NOT NULL,
            method TEXT NOT NULL,
            status INTEGER NOT NULL,
            tenant_id TEXT NOT NULL,
            n INTEGER NOT NULL,
            sum_us INTEGER NOT NULL,
            max_us INTEGER NOT NULL,
            b0 INTEGER NOT NULL, b1 INTEGER NOT NULL, b2 INTEGER NOT NULL, b3 INTEGER NOT NULL,
            b4 INTEGER NOT NULL, b5 INTEGER NOT NULL, b6 INTEGER NOT NULL, b7 INTEGER NOT NULL,
            b8 INTEGER NOT NULL, b9 INTEGER NOT NULL, b10 INTEGER NOT NULL, b11 INTEGER NOT NULL,
            PRIMARY KEY (minute, component, route, method, status, tenant_id)
        ) WITHOUT ROWID",
        // Since-start totals for Prometheus counters (never pruned, so they
        // only go up).
        "CREATE TABLE IF NOT EXISTS request_totals (
            component TEXT NOT NULL,
            route TEXT NOT NULL,
            method TEXT NOT NULL,
            status INTEGER NOT NULL,
            n INTEGER NOT NULL,
            sum_us INTEGER NOT NULL,
            b0 INTEGER NOT NULL, b1 INTEGER NOT NULL, b2 INTEGER NOT NULL, b3 INTEGER NOT NULL,
            b4 INTEGER NOT NULL, b5 INTEGER NOT NULL, b6 INTEGER NOT NULL, b7 INTEGER NOT NULL,
            b8 INTEGER NOT NULL, b9 INTEGER NOT NULL, b10 INTEGER NOT NULL, b11 INTEGER NOT NULL,
            PRIMARY KEY (component, route, method, status)
        ) WITHOUT ROWID",
        // LLM calls by UTC day and model, written with each finished attempt
        // (work and grading separately), for spend, metrics and guardrails.
        "CREATE TABLE IF NOT EXISTS llm_usage_days (
            day INTEGER NOT NULL,
            model TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('work', 'qa')),
            calls INTEGER NOT NULL,
            tokens_in INTEGER NOT NULL,
            tokens_out INTEGER NOT NULL,
            cost_micros INTEGER NOT NULL,
            qa_passed INTEGER NOT NULL,
            qa_failed INTEGER NOT NULL,
            PRIMARY KEY (day, model, role)
        ) WITHOUT ROWID",
        // The structured event log behind GET /api/logs.
        "CREATE TABLE IF NOT EXISTS event_log (
            id INTEGER PRIMARY KEY,
            at_ms INTEGER NOT NULL,
            level TEXT NOT NULL,
            component TEXT NOT NULL,
            area TEXT NOT NULL,
            message TEXT NOT NULL,
            request_id TEXT,
            tenant_id TEXT,
            fields TEXT NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS event_log_by_request ON event_log (request_id) WHERE request_id IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS event_log_by_time ON event_log (at_ms)",
    ],
};

const INCIDENTS: Migration = Migration {
    version: 6,
    name: "incidents: incidents, their delivery outbox, silences",
    statements: &[
        // Platform-wide (operator-level): no tenant column.
        "CREATE TABLE IF NOT EXISTS incidents (
            id TEXT PRIMARY KEY,
            severity TEXT NOT NULL CHECK (severity IN ('CRITICAL', 'WARNING', 'INFO')),
            source TEXT NOT NULL,
            message TEXT NOT NULL,
            links TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
            repeat_count INTEGER NOT NULL DEFAULT 0,
            silence_id TEXT,
            digest_state TEXT CHECK (digest_state IN ('pending', 'digested')),
            digested_at INTEGER,
            created_at INTEGER NOT NULL,
            last_seen_at INTEGER NOT NULL,
            acknowledged_at INTEGER,
            acknowledged_by TEXT,
            resolved_at INTEGER,
            resolved_by TEXT,
            resolution_note TEXT,
            build_sha TEXT NOT NULL
        )",
        // Dedup lookups and the count of unresolved incidents.
        "CREATE INDEX IF NOT EXISTS incidents_unresolved
            ON incidents (fingerprint, last_seen_at) WHERE status <> 'resolved'",
        "CREATE INDEX IF NOT EXISTS incidents_by_last_seen ON incidents (last_seen_at)",
        "CREATE INDEX IF NOT EXISTS incidents_digest_pending ON incidents (id) WHERE digest_state = 'pending'",
        // The outbox: one row per message and channel.
        "CREATE TABLE IF NOT EXISTS incident_deliveries (
            id TEXT PRIMARY KEY,
            incident_id TEXT,
            channel TEXT NOT NULL CHECK (channel IN ('telegram', 'email')),
            payload TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER,
            lease_owner TEXT,
            lease_expires_at INTEGER,
            last_error TEXT,
            last_status_code INTEGER,
            sent_at INTEGER,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS incident_deliveries_due
            ON incident_deliveries (next_attempt_at) WHERE status = 'pending'",
        "CREATE INDEX IF NOT EXISTS incident_deliveries_by_incident
            ON incident_deliveries (incident_id) WHERE incident_id IS NOT NULL",
        "CREATE TABLE IF NOT EXISTS incident_silences (
            id TEXT PRIMARY KEY,
            matcher TEXT NOT NULL CHECK (matcher IN ('source', 'fingerprint')),
            value TEXT NOT NULL,
            comment TEXT NOT NULL,
            author TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            removed_at INTEGER,
            removed_by TEXT
        )",
        "CREATE INDEX IF NOT EXISTS incident_silences_live
            ON incident_silences (value, expires_at) WHERE removed_at IS NULL",
    ],
};

const SLO: Migration = Migration {
    version: 7,
    name: "SLOs: platform-wide minute totals (requests, job rounds, QA verdicts, latencies), the deploy gate",
    statements: &[
        // Every request but health verdicts, summed per minute by telemetry
        // compaction (b0..b11: request latency buckets); each finished job
        // round adds its outcome, QA verdict and latency (jb0..jb11) as it
        // is recorded. 30 days of windows read at most 43,200 rows.
        "CREATE TABLE IF NOT EXISTS slo_minutes (
            minute INTEGER PRIMARY KEY,
            requests INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            b0 INTEGER NOT NULL DEFAULT 0, b1 INTEGER NOT NULL DEFAULT 0, b2 INTEGER NOT NULL DEFAULT 0,
            b3 INTEGER NOT NULL DEFAULT 0, b4 INTEGER NOT NULL DEFAULT 0, b5 INTEGER NOT NULL DEFAULT 0,
            b6 INTEGER NOT NULL DEFAULT 0, b7 INTEGER NOT NULL DEFAULT 0, b8 INTEGER NOT NULL DEFAULT 0,
            b9 INTEGER NOT NULL DEFAULT 0, b10 INTEGER NOT NULL DEFAULT 0, b11 INTEGER NOT NULL DEFAULT 0,
            qa_passed INTEGER NOT NULL DEFAULT 0,
            qa_failed INTEGER NOT NULL DEFAULT 0,
            jobs INTEGER NOT NULL DEFAULT 0,
            job_errors INTEGER NOT NULL DEFAULT 0,
            jb0 INTEGER NOT NULL DEFAULT 0, jb1 INTEGER NOT NULL DEFAULT 0, jb2 INTEGER NOT NULL DEFAULT 0,
            jb3 INTEGER NOT NULL DEFAULT 0, jb4 INTEGER NOT NULL DEFAULT 0, jb5 INTEGER NOT NULL DEFAULT 0,
            jb6 INTEGER NOT NULL DEFAULT 0, jb7 INTEGER NOT NULL DEFAULT 0, jb8 INTEGER NOT NULL DEFAULT 0,
            jb9 INTEGER NOT NULL DEFAULT 0, jb10 INTEGER NOT NULL DEFAULT 0, jb11 INTEGER NOT NULL DEFAULT 0
        )",
        // The counters of the minute a rebaseline happened in, as they were
        // then: reports subtract them, so what came before the rebaseline
        // in that minute stops counting and what came after still counts.
        "CREATE TABLE IF NOT EXISTS slo_baseline (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            minute INTEGER NOT NULL,
            requests INTEGER NOT NULL, errors INTEGER NOT NULL,
            b0 INTEGER NOT NULL, b1 INTEGER NOT NULL, b2 INTEGER NOT NULL, b3 INTEGER NOT NULL,
            b4 INTEGER NOT NULL, b5 INTEGER NOT NULL, b6 INTEGER NOT NULL, b7 INTEGER NOT NULL,
            b8 INTEGER NOT NULL, b9 INTEGER NOT NULL, b10 INTEGER NOT NULL, b11 INTEGER NOT NULL,
            qa_passed INTEGER NOT NULL, qa_failed INTEGER NOT NULL,
            jobs INTEGER NOT NULL, job_errors INTEGER NOT NULL,
            jb0 INTEGER NOT NULL, jb1 INTEGER NOT NULL, jb2 INTEGER NOT NULL, jb3 INTEGER NOT NULL,
            jb4 INTEGER NOT NULL, jb5 INTEGER NOT NULL, jb6 INTEGER NOT NULL, jb7 INTEGER NOT NULL,
            jb8 INTEGER NOT NULL, jb9 INTEGER NOT NULL, jb10 INTEGER NOT NULL, jb11 INTEGER NOT NULL
        )",
        // One row: up or down, since when, why, and who cleared it.
        "CREATE TABLE IF NOT EXISTS deploy_gate (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            up INTEGER NOT NULL,
            reason TEXT,
            raised_at INTEGER,
            cleared_at INTEGER,
            cleared_by TEXT,
            critical_since INTEGER
        )",
    ],
};

const COSTS: Migration = Migration {
    version: 8,
    name: "costs: daily cap overrides, downgrades of attempts",
    statements: &[
        // Caps set through POST /api/costs/set-cap; a row wins over the
        // `cost_cap_daily_usd` / `model_caps` variables. `model` is '' for
        // the global cap.
        "CREATE TABLE IF NOT EXISTS cost_caps (
            scope TEXT NOT NULL CHECK (scope IN ('global', 'model')),
            model TEXT NOT NULL,
            cap_micros INTEGER NOT NULL CHECK (cap_micros >= 0),
            set_by TEXT NOT NULL,
            set_at INTEGER NOT NULL,
            PRIMARY KEY (scope, model)
        ) WITHOUT ROWID",
        // An attempt whose work ran on a cheaper model than requested
        // because a cost cap was reached: what was asked for, what billed,
        // and why.
        "CREATE TABLE IF NOT EXISTS cost_downgrades (
            attempt_id INTEGER PRIMARY KEY,
            job_id TEXT NOT NULL,
            tenant_id TEXT NOT NULL,
            requested_model TEXT NOT NULL,
            model TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at INTEGER NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS cost_downgrades_by_job ON cost_downgrades (job_id, attempt_id)",
    ],
};

const SCALE: Migration = Migration {
    version: 9,
    name:
        "autoscaling: applied worker changes (the latest row is the state); jobs by creation time",
    statements: &[
        // One row per applied change, newest last: the latest row holds the
        // current workers (none yet: `scale_min`). Dry runs are not stored
        // (the scheduler's run summaries keep them).
        "CREATE TABLE IF NOT EXISTS scale_changes (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            workers INTEGER NOT NULL CHECK (workers >= 1),
            previous INTEGER NOT NULL,
            reason TEXT NOT NULL,
            actor TEXT NOT NULL,
            request_id TEXT
        )",
        // Arrivals per minute (the autoscaler's rate and forecast) read a
        // range of this index instead of scanning the jobs table.
        "CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created_at)",
    ],
};

const REPORTS: Migration = Migration {
    version: 10,
    name: "daily reports: figures, the summary job, delivery",
    statements: &["CREATE TABLE IF NOT EXISTS daily_reports (
            day INTEGER PRIMARY KEY,
            report TEXT NOT NULL,
            summary_job_id TEXT,
            state TEXT NOT NULL CHECK (state IN ('summarizing', 'sent')),
            emailed_at INTEGER,
            delivery_id TEXT,
            created_at INTEGER NOT NULL
        )"],
};

const LEAN_SAMPLES: Migration = Migration {
    version: 11,
    name: "telemetry: request samples without the request-id index",
    statements: &[
        // Recording a request is then one append to the table's last page;
        // the index cost a second B-tree page per request, measured at
        // about +2 ms p99 under load (docs/PERFORMANCE.md). Looking a
        // request up by id scans the hour of samples kept instead: an
        // operator's query, not a cost every request pays.
        "DROP INDEX IF EXISTS request_samples_by_request",
    ],
};

const BACKUPS: Migration = Migration {
    version: 12,
    name: "backups",
    statements: &[
        // One row per logical backup (a gzip-compressed SQL dump, see
        // `crate::backup`): its manifest, and the result of the last
        // verification. `tables` is a JSON object {table: rows}.
        "CREATE TABLE IF NOT EXISTS backups (
            id TEXT PRIMARY KEY,
            created_at INTEGER NOT NULL,
            finished_at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            trigger TEXT NOT NULL,
            format_version INTEGER NOT NULL,
            schema_version INTEGER NOT NULL,
            tables TEXT NOT NULL,
            rows INTEGER NOT NULL,
            raw_bytes INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            chunks INTEGER NOT NULL,
            verified_at INTEGER,
            verify_status TEXT CHECK (verify_status IN ('ok', 'corrupt')),
            verify_error TEXT
        )",
        // Newest first, for listing and retention.
        "CREATE INDEX IF NOT EXISTS backups_by_created ON backups (created_at, id)",
        // The compressed file in pieces of at most 256 KiB, so no single
        // value approaches SQLite's or a host's value-size limits. A rowid
        // table (not WITHOUT ROWID): large rows belong in rowid tables.
        "CREATE TABLE IF NOT EXISTS backup_chunks (
            backup_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (backup_id, seq)
        )",
    ],
};

const PAYMENTS: Migration = Migration {
    version: 13,
    name: "payments: the ledger of Stripe charges and its reconciliations",
    statements: &[
        // One row per Stripe charge; amounts in the currency's minor units.
        "CREATE TABLE IF NOT EXISTS payments (
            id TEXT PRIMARY KEY,
            tenant_id TEXT,
            customer TEXT,
            payment_intent TEXT,
            amount INTEGER NOT NULL,
            amount_refunded INTEGER NOT NULL DEFAULT 0,
            currency TEXT NOT NULL,
            status TEXT NOT NULL,
            disputed INTEGER NOT NULL DEFAULT 0,
            description TEXT,
            livemode INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('reconcile', 'webhook')),
            updated_at INTEGER NOT NULL
        )",
        // Reconciliation windows and the report's revenue read by range.
        "CREATE INDEX IF NOT EXISTS payments_by_created ON payments (created_at)",
        "CREATE TABLE IF NOT EXISTS payment_reconciliations (
            id TEXT PRIMARY KEY,
            started_at INTEGER NOT NULL,
            window_from INTEGER NOT NULL,
            window_to INTEGER NOT NULL,
            trigger TEXT NOT NULL,
            actor TEXT NOT NULL,
            fetched INTEGER NOT NULL,
            added INTEGER NOT NULL,
            changed INTEGER NOT NULL,
            unchanged INTEGER NOT NULL,
            local_only INTEGER NOT NULL,
            unreadable INTEGER NOT NULL,
            truncated INTEGER NOT NULL,
            detail TEXT NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS payment_reconciliations_by_time
            ON payment_reconciliations (started_at)",
    ],
};

const SECURITY: Migration = Migration {
    version: 14,
    name: "security: sign-in throttles, intake budgets, emails unique per tenant, signed audit anchors",
    statements: &[
        // Failed sign-ins per counter (pair, address, account, device; see
        // `identity::throttle`) and the lock they earned.
        "CREATE TABLE IF NOT EXISTS signin_failures (
            key TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            last_failure_ms INTEGER NOT NULL,
            locked_until_ms INTEGER NOT NULL
        )",
        // Jobs submitted per budget and period (see `jobs::intake`).
        "CREATE TABLE IF NOT EXISTS intake_counts (
            key TEXT NOT NULL,
            period_start_ms INTEGER NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (key, period_start_ms)
        )",
        // Users: an email is unique within its tenant, not across tenants,
        // so creating a user never tells one tenant about another's. SQLite
        // cannot drop a column's UNIQUE, so the table is rebuilt (in the
        // migration's transaction, rows and ids unchanged).
        "CREATE TABLE IF NOT EXISTS users_v14 (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            email TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'analyst', 'partner', 'viewer')),
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            last_login_at INTEGER,
            UNIQUE (tenant_id, email)
        )",
        "INSERT OR IGNORE INTO users_v14
            (id, tenant_id, email, password_hash, role, disabled, created_at, updated_at, last_login_at)
            SELECT id, tenant_id, email, password_hash, role, disabled, created_at, updated_at, last_login_at
            FROM users",
        "DROP TABLE IF EXISTS users",
        "ALTER TABLE users_v14 RENAME TO users",
        "CREATE INDEX IF NOT EXISTS users_by_tenant ON users (tenant_id, id)",
        // Sign-in without a tenant reaches the email's first account.
        "CREATE INDEX IF NOT EXISTS users_by_email ON users (email, created_at, id)",
        // Signed anchors of the audit chain (see `audit::anchors`): each
        // signs (seq, hash, time) and the previous anchor's signature with
        // a key derived from `audit_signing_secret`, which the database
        // does not hold. They replace the unsigned `audit_anchors` of
        // migration 4, which nothing wrote.
        "CREATE TABLE IF NOT EXISTS audit_signed_anchors (
            seq INTEGER PRIMARY KEY,
            hash TEXT NOT NULL,
            anchored_at INTEGER NOT NULL,
            key_id TEXT NOT NULL,
            prev_signature TEXT NOT NULL,
            signature TEXT NOT NULL
        )",
        "DROP TABLE IF EXISTS audit_anchors",
    ],
};

const ANALYTICS_AND_DEMO: Migration = Migration {
    version: 15,
    name: "product analytics (raw events, daily rollups, daily salts); demo-mode row tags",
    statements: &[
        // Raw dashboard events, kept only until their day is final and the
        // daily rollup folds them (see `crate::analytics`). `visitor` is a
        // hash of the client address and user agent with the salt of the
        // event's day; the address and agent themselves are never stored.
        "CREATE TABLE IF NOT EXISTS analytics_events (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            day INTEGER NOT NULL,
            at_ms INTEGER NOT NULL,
            name TEXT NOT NULL,
            view TEXT,
            visitor TEXT NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS analytics_events_by_day
            ON analytics_events (tenant_id, day, visitor)",
        // One random salt per UTC day, deleted once no event can be dated
        // in that day any more, so a visitor hash cannot be recomputed.
        "CREATE TABLE IF NOT EXISTS analytics_salts (
            day INTEGER PRIMARY KEY,
            salt TEXT NOT NULL
        )",
        // Events accepted per tenant and day: the daily cap, counted exactly.
        "CREATE TABLE IF NOT EXISTS analytics_intake (
            tenant_id TEXT NOT NULL,
            day INTEGER NOT NULL,
            events INTEGER NOT NULL,
            PRIMARY KEY (tenant_id, day)
        ) WITHOUT ROWID",
        // The rollup: visitors and events per tenant and day, and events by
        // name.
        "CREATE TABLE IF NOT EXISTS analytics_days (
            tenant_id TEXT NOT NULL,
            day INTEGER NOT NULL,
            visitors INTEGER NOT NULL,
            events INTEGER NOT NULL,
            PRIMARY KEY (tenant_id, day)
        ) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS analytics_day_events (
            tenant_id TEXT NOT NULL,
            day INTEGER NOT NULL,
            name TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (tenant_id, day, name)
        ) WITHOUT ROWID",
        // Every row the demo seeder wrote or added to (see `crate::demo`):
        // the table, the row's key (a JSON array), whether the seeder
        // created the row, and the counters it added to an existing one,
        // so removal restores exactly what was there before.
        "CREATE TABLE IF NOT EXISTS demo_rows (
            tbl TEXT NOT NULL,
            key TEXT NOT NULL,
            created INTEGER NOT NULL,
            added TEXT,
            PRIMARY KEY (tbl, key)
        ) WITHOUT ROWID",
    ],
};

const MONEY: Migration = Migration {
    version: 16,
    name: "money: checkout sessions, Stripe events, refunds, receipts and portal access, billing settings and invoices, exchange rates, referrals",
    statements: &[
        // One row per Stripe Checkout Session created for a job. `held`:
        // the tenant's unpaid-jobs policy made the job wait for it.
        "CREATE TABLE IF NOT EXISTS checkout_sessions (
            id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL,
            tenant_id TEXT NOT NULL,
            amount INTEGER NOT NULL CHECK (amount > 0),
            currency TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'expired')),
            held INTEGER NOT NULL DEFAULT 0,
            url TEXT NOT NULL,
            email TEXT,
            payment_intent TEXT,
            last_error TEXT,
            livemode INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            paid_at INTEGER,
            updated_at INTEGER NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS checkout_sessions_by_job ON checkout_sessions (job_id, created_at)",
        "CREATE INDEX IF NOT EXISTS checkout_sessions_open ON checkout_sessions (expires_at) WHERE status = 'open'",
        "CREATE INDEX IF NOT EXISTS checkout_sessions_by_intent
            ON checkout_sessions (payment_intent) WHERE payment_intent IS NOT NULL",
        // Every Stripe event received, once: the primary key is what makes
        // a delivery to two replicas at once apply once (the event's
        // effects are written in the transaction that inserts its row).
        "CREATE TABLE IF NOT EXISTS stripe_events (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            livemode INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            received_at INTEGER NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'ignored', 'unrecognised')),
            detail TEXT NOT NULL,
            request_id TEXT
        )",
        "CREATE INDEX IF NOT EXISTS stripe_events_by_time ON stripe_events (received_at)",
        // Refunds, from the refund route (Stripe's answer) and from
        // `charge.refunded` events; the ledger row's `amount_refunded` is
        // their sum as Stripe reports it.
        "CREATE TABLE IF NOT EXISTS refunds (
            id TEXT PRIMARY KEY,
            charge_id TEXT NOT NULL,
            payment_intent TEXT,
            tenant_id TEXT,
            amount INTEGER NOT NULL,
            currency TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            note TEXT,
            actor TEXT NOT NULL,
            request_id TEXT,
            created_at INTEGER NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS refunds_by_charge ON refunds (charge_id, created_at)",
        // Receipts per customer (lower-case email), one per payment (its
        // payment intent, or charge when there is none).
        "CREATE TABLE IF NOT EXISTS receipts (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            email TEXT NOT NULL,
            payment_key TEXT NOT NULL UNIQUE,
            charge_id TEXT,
            job_id TEXT,
            invoice_id TEXT,
            description TEXT NOT NULL,
            amount INTEGER NOT NULL,
            amount_refunded INTEGER NOT NULL DEFAULT 0,
            currency TEXT NOT NULL,
            livemode INTEGER NOT NULL,
            paid_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS receipts_by_email ON receipts (tenant_id, email, paid_at)",
        "CREATE INDEX IF NOT EXISTS receipts_by_charge ON receipts (charge_id) WHERE charge_id IS NOT NULL",
        // Every customer-portal access (lists and downloads, refused ones
        // too) with the client's address: a security record kept a year,
        // apart from the event log's 14 days.
        "CREATE TABLE IF NOT EXISTS portal_access (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('list', 'download')),
            email TEXT,
            receipt_id TEXT,
            outcome TEXT NOT NULL,
            client_addr TEXT NOT NULL,
            actor TEXT NOT NULL,
            request_id TEXT
        )",
        "CREATE INDEX IF NOT EXISTS portal_access_by_time ON portal_access (at)",
        "CREATE INDEX IF NOT EXISTS portal_access_by_email ON portal_access (email, at)",
        // Per-tenant billing: what happens to unpaid jobs, where invoices go.
        "CREATE TABLE IF NOT EXISTS billing_settings (
            tenant_id TEXT PRIMARY KEY,
            unpaid_jobs TEXT NOT NULL CHECK (unpaid_jobs IN ('run', 'hold')),
            billing_email TEXT,
            stripe_customer TEXT,
            updated_by TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        )",
        // Usage invoices: a draft per tenant and month, sent through Stripe.
        "CREATE TABLE IF NOT EXISTS invoices (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            period TEXT NOT NULL,
            plan TEXT NOT NULL,
            currency TEXT NOT NULL,
            lines TEXT NOT NULL,
            total INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('draft', 'sent', 'paid', 'void')),
            stripe_invoice TEXT,
            hosted_url TEXT,
            created_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            sent_at INTEGER,
            paid_at INTEGER,
            updated_at INTEGER NOT NULL
        )",
        "CREATE UNIQUE INDEX IF NOT EXISTS invoices_one_per_period
            ON invoices (tenant_id, period) WHERE status != 'void'",
        "CREATE INDEX IF NOT EXISTS invoices_by_stripe ON invoices (stripe_invoice) WHERE stripe_invoice IS NOT NULL",
        // Exchange rates set by admins (USD per unit, 10^-9), by day: the
        // history converted figures are checked against.
        "CREATE TABLE IF NOT EXISTS exchange_rates (
            currency TEXT NOT NULL,
            day INTEGER NOT NULL,
            usd_per_unit_e9 INTEGER NOT NULL CHECK (usd_per_unit_e9 > 0),
            set_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (currency, day)
        )",
        // Referrals: codes, signups (one per email and tenant), refusals,
        // commissions (earned per referred payment, reversed after refunds)
        // and payouts.
        "CREATE TABLE IF NOT EXISTS referral_codes (
            code TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            referrer_id TEXT NOT NULL,
            referrer_email TEXT NOT NULL,
            campaign TEXT NOT NULL,
            commission_bps INTEGER NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
            created_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            UNIQUE (tenant_id, referrer_id, campaign)
        )",
        // Clicks counted per code and UTC day (one upsert per click).
        "CREATE TABLE IF NOT EXISTS referral_clicks (
            code TEXT NOT NULL,
            day INTEGER NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (code, day)
        )",
        "CREATE TABLE IF NOT EXISTS referral_signups (
            tenant_id TEXT NOT NULL,
            email TEXT NOT NULL,
            code TEXT NOT NULL,
            client_addr TEXT,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (tenant_id, email)
        )",
        "CREATE INDEX IF NOT EXISTS referral_signups_by_code ON referral_signups (code)",
        "CREATE TABLE IF NOT EXISTS referral_refusals (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            code TEXT NOT NULL,
            email TEXT NOT NULL,
            reason TEXT NOT NULL CHECK (reason IN ('self_referral', 'duplicate_signup')),
            client_addr TEXT,
            at INTEGER NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS referral_refusals_by_code ON referral_refusals (code, at)",
        "CREATE TABLE IF NOT EXISTS referral_commissions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            code TEXT NOT NULL,
            tenant_id TEXT NOT NULL,
            referrer_id TEXT NOT NULL,
            payment_key TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('earned', 'reversal')),
            revenue INTEGER NOT NULL,
            amount INTEGER NOT NULL,
            currency TEXT NOT NULL,
            available_at INTEGER NOT NULL,
            payout_id TEXT,
            created_at INTEGER NOT NULL
        )",
        "CREATE UNIQUE INDEX IF NOT EXISTS referral_commissions_one_earning
            ON referral_commissions (payment_key) WHERE kind = 'earned'",
        "CREATE INDEX IF NOT EXISTS referral_commissions_by_code ON referral_commissions (code, payout_id)",
        "CREATE INDEX IF NOT EXISTS referral_commissions_by_referrer
            ON referral_commissions (tenant_id, referrer_id, payout_id)",
        "CREATE TABLE IF NOT EXISTS referral_payouts (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            referrer_id TEXT NOT NULL,
            amounts TEXT NOT NULL,
            commissions INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            created_at INTEGER NOT NULL
        )",
    ],
};

const WORKFLOWS: Migration = Migration {
    version: 17,
    name: "workflows: versioned graphs, durable runs and their steps",
    statements: &[
        // The current version of each workflow; `webhook_secret` is the
        // HMAC key of its signed-webhook trigger (shown once at creation).
        "CREATE TABLE IF NOT EXISTS workflows (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            name TEXT NOT NULL,
            description TEXT,
            version INTEGER NOT NULL,
            graph TEXT NOT NULL,
            webhook_secret TEXT NOT NULL,
            created_by TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS workflows_by_tenant ON workflows (tenant_id, id)",
        // Every saved version, so a run always executes the graph it began with.
        "CREATE TABLE IF NOT EXISTS workflow_versions (
            workflow_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            graph TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (workflow_id, version)
        )",
        "CREATE TABLE IF NOT EXISTS workflow_runs (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            workflow_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
            debug INTEGER NOT NULL,
            trigger TEXT NOT NULL,
            input TEXT NOT NULL,
            restarted_from TEXT,
            restart_node TEXT,
            error TEXT,
            cost_micros INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            finished_at INTEGER
        )",
        "CREATE INDEX IF NOT EXISTS workflow_runs_by_workflow ON workflow_runs (workflow_id, created_at, id)",
        // One row per node per run (UNIQUE: a node runs at most once in a
        // run, however many replicas finish its predecessors at once).
        "CREATE TABLE IF NOT EXISTS workflow_steps (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            tenant_id TEXT NOT NULL,
            node_id TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'succeeded', 'failed', 'skipped', 'cancelled')),
            port TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL,
            run_at INTEGER NOT NULL,
            resume_at INTEGER,
            lease_owner TEXT,
            lease_expires_at INTEGER,
            input TEXT,
            output TEXT,
            error TEXT,
            cost_micros INTEGER NOT NULL DEFAULT 0,
            copied INTEGER NOT NULL DEFAULT 0,
            started_at INTEGER,
            finished_at INTEGER,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            UNIQUE (run_id, node_id)
        )",
        "CREATE INDEX IF NOT EXISTS workflow_steps_ready ON workflow_steps (run_at, id) WHERE status = 'queued'",
        "CREATE INDEX IF NOT EXISTS workflow_steps_leases ON workflow_steps (lease_expires_at) WHERE status = 'processing'",
        // Signed-webhook deliveries seen within the replay window: a
        // signature is accepted once.
        "CREATE TABLE IF NOT EXISTS workflow_webhook_deliveries (
            workflow_id TEXT NOT NULL,
            signature TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            PRIMARY KEY (workflow_id, signature)
        )",
        // Schedule triggers: the slots each workflow fired for.
        "CREATE TABLE IF NOT EXISTS workflow_schedule_slots (
            workflow_id TEXT NOT NULL,
            slot INTEGER NOT NULL,
            run_id TEXT NOT NULL,
            PRIMARY KEY (workflow_id, slot)
        )",
    ],
};

const SECRET_FINGERPRINTS: Migration = Migration {
    version: 18,
    name: "security: the fingerprints of configured secrets, for their age and rotation",
    statements: &[
        // One row per value each secret variable has had: a fingerprint
        // (never the value), when it was first and last seen, and when a
        // rotation reminder was last raised for it.
        "CREATE TABLE IF NOT EXISTS secret_fingerprints (
            name TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            first_seen_at INTEGER NOT NULL,
            last_seen_at INTEGER NOT NULL,
            reminded_at INTEGER,
            PRIMARY KEY (name, fingerprint)
        )",
    ],
};

const WORKFLOW_NOTION_TRIGGERS: Migration = Migration {
    version: 19,
    name: "workflows: new-Notion-page triggers",
    statements: &[
        // Per (workflow, database): pages created from `since_ms` on are
        // new. Set when the poller first sees the trigger (to the save that
        // made it), moved forward as pages are seen.
        "CREATE TABLE IF NOT EXISTS workflow_notion_cursors (
            workflow_id TEXT NOT NULL,
            database_id TEXT NOT NULL,
            since_ms INTEGER NOT NULL,
            polled_at INTEGER,
            PRIMARY KEY (workflow_id, database_id)
        )",
        // The pages each workflow started a run for: inserted in the run's
        // own transaction, so a page starts one run, once.
        "CREATE TABLE IF NOT EXISTS workflow_notion_pages (
            workflow_id TEXT NOT NULL,
            page_id TEXT NOT NULL,
            run_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (workflow_id, page_id)
        )",
    ],
};

const COMPLIANCE: Migration = Migration {
    version: 20,
    name: "compliance: signed compliance events, forwarded through the outbox",
    statements: &[
        // Compliance events received on `POST /api/compliance/webhook`; the
        // sender's event id is the key, so a replayed delivery is refused.
        "CREATE TABLE IF NOT EXISTS compliance_events (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
            source TEXT NOT NULL,
            summary TEXT NOT NULL,
            data TEXT NOT NULL,
            occurred_at INTEGER,
            signed_at INTEGER NOT NULL,
            secret_index INTEGER NOT NULL,
            forwarded INTEGER NOT NULL DEFAULT 0,
            received_at INTEGER NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS compliance_events_recent ON compliance_events (received_at, id)",
        // The outbox gains the `webhook` channel (compliance forwards).
        // SQLite cannot change a CHECK, so the table is rebuilt in the
        // migration's transaction, rows and ids unchanged.
        "CREATE TABLE IF NOT EXISTS incident_deliveries_v19 (
            id TEXT PRIMARY KEY,
            incident_id TEXT,
            channel TEXT NOT NULL CHECK (channel IN ('telegram', 'email', 'webhook')),
            payload TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER,
            lease_owner TEXT,
            lease_expires_at INTEGER,
            last_error TEXT,
            last_status_code INTEGER,
            sent_at INTEGER,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )",
        "INSERT OR IGNORE INTO incident_deliveries_v19
            (id, incident_id, channel, payload, status, attempts, next_attempt_at, lease_owner,
             lease_expires_at, last_error, last_status_code, sent_at, created_at, updated_at)
            SELECT id, incident_id, channel, payload, status, attempts, next_attempt_at, lease_owner,
             lease_expires_at, last_error, last_status_code, sent_at, created_at, updated_at
            FROM incident_deliveries",
        "DROP TABLE IF EXISTS incident_deliveries",
        "ALTER TABLE incident_deliveries_v19 RENAME TO incident_deliveries",
        "CREATE INDEX IF NOT EXISTS incident_deliveries_due
            ON incident_deliveries (next_attempt_at) WHERE status = 'pending'",
        "CREATE INDEX IF NOT EXISTS incident_deliveries_by_incident
            ON incident_deliveries (incident_id) WHERE incident_id IS NOT NULL",
    ],
};

const PRIVACY: Migration = Migration {
    version: 21,
    name: "privacy: consent records; indexes for the retention job's batches",
    statements: &[
        // Consents given and withdrawn, append-only (see `privacy::consent`);
        // `email` becomes a placeholder when the subject is erased.
        "CREATE TABLE IF NOT EXISTS privacy_consents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant_id TEXT NOT NULL,
            email TEXT NOT NULL,
            purpose TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('given', 'withdrawn')),
            version TEXT NOT NULL,
            source TEXT NOT NULL,
            actor TEXT NOT NULL,
            request_id TEXT,
            at INTEGER NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS privacy_consents_by_email ON privacy_consents (tenant_id, email, at)",
        // The retention job's batches read the oldest expired rows first
        // (see `privacy::retention::RULES`): without these, each batch
        // would scan its table.
        "CREATE INDEX IF NOT EXISTS jobs_content_by_age ON jobs (updated_at) WHERE brief <> '[erased]'",
        "CREATE INDEX IF NOT EXISTS workflow_runs_finished_by_age ON workflow_runs (updated_at) WHERE status <> 'running'",
        "CREATE INDEX IF NOT EXISTS incident_deliveries_done_by_age ON incident_deliveries (created_at) WHERE status <> 'pending'",
        "CREATE INDEX IF NOT EXISTS receipts_by_paid ON receipts (paid_at)",
        "CREATE INDEX IF NOT EXISTS checkout_sessions_by_created ON checkout_sessions (created_at)",
        "CREATE INDEX IF NOT EXISTS refunds_by_created ON refunds (created_at)",
        // Erasure finds the subject's rows by email.
        "CREATE INDEX IF NOT EXISTS checkout_sessions_by_email ON checkout_sessions (email) WHERE email IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS referral_refusals_by_email ON referral_refusals (email)",
    ],
};

const DISASTER_RECOVERY: Migration = Migration {
    version: 22,
    name: "disaster recovery: content hashes per backed-up table, restore checks and drills",
    statements: &[
        // SHA-256 per table of the rows a backup holds (JSON object), so a
        // restore is compared with the snapshot, not only counted.
        "ALTER TABLE backups ADD COLUMN table_hashes TEXT",
        // Every restore into scratch: a drill (weekly, or asked for from the
        // console: `requested` until cron-dr runs it) or a check of a chosen
        // backup (POST /api/dr/restore). `report` is the comparison, JSON.
        "CREATE TABLE IF NOT EXISTS dr_runs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            trigger TEXT NOT NULL,
            actor TEXT NOT NULL,
            status TEXT NOT NULL,
            backup_id TEXT,
            requested_at INTEGER NOT NULL,
            started_at INTEGER,
            finished_at INTEGER,
            duration_ms INTEGER,
            rows INTEGER,
            tables INTEGER,
            error TEXT,
            report TEXT
        )",
        "CREATE INDEX IF NOT EXISTS dr_runs_by_kind ON dr_runs (kind, requested_at)",
        "CREATE INDEX IF NOT EXISTS dr_runs_by_status ON dr_runs (status, requested_at)",
    ],
};

const OFFSITE_BACKUPS: Migration = Migration {
    version: 23,
    name: "off-machine backups: shipments to an S3-compatible store, and where restores came from",
    statements: &[
        // One row per backup the app tried to ship: where it went, what was
        // sent, when it arrived (NULL until it did), the failed attempts and
        // the last error; `deleted_at` when retention removed it from the
        // store. The catalogue of shipments, like `backups`, is not backed
        // up (see backup::EXCLUDED).
        "CREATE TABLE IF NOT EXISTS backup_offsite (
            backup_id TEXT PRIMARY KEY,
            object_key TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            backup_created_at INTEGER NOT NULL,
            shipped_at INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_attempt_at INTEGER,
            last_error TEXT,
            deleted_at INTEGER
        )",
        "CREATE INDEX IF NOT EXISTS backup_offsite_by_shipped ON backup_offsite (shipped_at)",
        // Which copy a restore check or drill used: the local catalogue, or
        // the off-machine store (and the object's key).
        "ALTER TABLE dr_runs ADD COLUMN source TEXT NOT NULL DEFAULT 'local'",
        "ALTER TABLE dr_runs ADD COLUMN object_key TEXT",
    ],
};

const DRIVE_FILING: Migration = Migration {
    version: 24,
    name: "filing finished jobs to Google Drive: per-tenant settings and the filing outbox",
    statements: &[
        // A tenant's choice (set by its admin): file completed jobs into
        // this folder, in this format. No credential lives here: the
        // platform's Drive grant comes from variables.
        "CREATE TABLE IF NOT EXISTS drive_filing_settings (
            tenant_id TEXT PRIMARY KEY,
            enabled INTEGER NOT NULL DEFAULT 0,
            folder_id TEXT NOT NULL,
            format TEXT NOT NULL CHECK (format IN ('text', 'markdown', 'html')),
            updated_by TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        )",
        // The outbox: one row per job to file, written by the trigger below
        // in the statement (so the transaction) that completes the job, and
        // delivered by the worker tick. `next_attempt_at` doubles as the
        // claim's lease: a claim moves it ahead, so a worker that dies
        // mid-delivery leaves the row due again later.
        "CREATE TABLE IF NOT EXISTS job_filings (
            job_id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            folder_id TEXT NOT NULL,
            format TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'filed', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NOT NULL,
            file_id TEXT,
            file_name TEXT,
            link TEXT,
            last_error TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS job_filings_due ON job_filings (next_attempt_at) WHERE status = 'pending'",
        "CREATE INDEX IF NOT EXISTS job_filings_by_tenant ON job_filings (tenant_id, status, updated_at)",
        // A job becoming `completed` (QA passed) is filed once when its
        // tenant files to Drive; a job completed again after a retry keeps
        // its first filing.
        "CREATE TRIGGER IF NOT EXISTS jobs_file_to_drive AFTER UPDATE OF status ON jobs
         WHEN NEW.status = 'completed' AND OLD.status <> 'completed'
         BEGIN
            INSERT OR IGNORE INTO job_filings
                (job_id, tenant_id, folder_id, format, status, attempts, next_attempt_at, created_at, updated_at)
            SELECT NEW.id, NEW.tenant_id, s.folder_id, s.format, 'pending', 0, NEW.updated_at, NEW.updated_at, NEW.updated_at
            FROM drive_filing_settings s WHERE s.tenant_id = NEW.tenant_id AND s.enabled = 1;
         END",
    ],
};
