//! Filing finished jobs to Google Drive, per tenant, against the Drive
//! mock: a tenant's admin turns it on (a malformed folder and a tenant the
//! platform does not allow are refused); a completed job of that tenant is
//! filed once into its folder, another tenant's (off) never; uploads that
//! fail twice are retried to one file, attempts recorded; an upload whose
//! answer was lost is found again instead of made twice; a revoked grant
//! fails the filing at once with a clear error and no secret, listed for
//! operators, and an operator's retry files it once the grant is back.

use anyhow::Result;
use echopilot_e2e::check;
use echopilot_e2e::mock::{self, DriveFile};
use echopilot_e2e::scenario::{expect_status, App, Env, Scenario};
use serde_json::{json, Value};

use crate::auth::kit::*;
use crate::support::{self, work};

pub const SCENARIOS: &[Scenario] = &[Scenario::configured(
    "finished_jobs_are_filed_to_drive_once_into_their_tenants_folder",
    filing,
)];

const A: &str = "filing-a";
const B: &str = "filing-b";
const FOLDER_A: &str = "folder-of-tenant-a";

/// Enqueue a job in `tenant` (as the platform's admin); its id.
fn job_in(app: &App, tenant: &str, brief: &str) -> Result<String> {
    let resp = call(
        app,
        "POST",
        &format!("/api/queue/enqueue?tenant_id={tenant}"),
        &Cred::Dashboard,
        Some(&json!({ "brief": brief, "title": format!("Filed {brief}") })),
    )?;
    text(&expect_status(&resp, 201)?, "/data/job/id")
}

/// The job's detail.
fn job(app: &App, id: &str) -> Result<Value> {
    support::job(app, id)
}

/// Tick the worker until job `id`'s filing is no longer pending (bounded).
fn settled(app: &App, id: &str) -> Result<Value> {
    for _ in 0..12 {
        work(app)?;
        let j = job(app, id)?;
        let f = &j["drive_filing"];
        if j["status"] == "completed" && f.is_object() && f["status"] != "pending" {
            return Ok(f.clone());
        }
    }
    anyhow::bail!("the filing of {id} did not settle: {}", job(app, id)?)
}

/// The Drive files holding job `id`.
fn files_of(drive: &mock::Drive, id: &str) -> Vec<DriveFile> {
    drive
        .files()
        .into_iter()
        .filter(|f| f.app_properties.get("echopilot_job").map(String::as_str) == Some(id))
        .collect()
}

fn filing(env: &Env) -> Result<()> {
    let ai = support::openai()?;
    let drive = mock::drive()?;
    let app = env.app_with(|b| {
        support::ai_vars(identity_vars(b), &ai)
            .variable("drive_client_id", mock::DRIVE_CLIENT_ID)
            .variable("drive_client_secret", mock::DRIVE_CLIENT_SECRET)
            .variable("drive_refresh_token", mock::DRIVE_REFRESH_TOKEN)
            .variable("drive_oauth_base_url", drive.server.url())
            .variable("drive_api_base_url", drive.server.url())
            .variable("drive_filing_retry_base_ms", "10")
            .variable("workflow_integration_tenants", A)
    })?;
    let root = Cred::Dashboard;
    create_tenant(&app, &root, A)?;
    create_tenant(&app, &root, B)?;
    let (_, admin_a) = user_token(&app, &root, "admin@filing-a.test", "admin", A)?;
    let (_, admin_b) = user_token(&app, &root, "admin@filing-b.test", "admin", B)?;
    let (_, op_a) = user_token(&app, &root, "op@filing-a.test", "operator", A)?;
    let (admin_a, admin_b, op_a) = (
        Cred::Bearer(admin_a),
        Cred::Bearer(admin_b),
        Cred::Bearer(op_a),
    );
    let set = |cred: &Cred, body: Value| {
        call(
            &app,
            "PATCH",
            "/api/tenant/settings",
            cred,
            Some(&json!({ "drive_filing": body })),
        )
    };

    // The setting: validated, the tenant's admin's to make, A only.
    let bad = set(
        &admin_a,
        json!({"enabled": true, "folder_id": "not/a/folder"}),
    )?;
    expect_error(&bad, 422, "invalid_folder_id", "a malformed folder")?;
    let bad = set(
        &admin_a,
        json!({"enabled": true, "folder_id": FOLDER_A, "format": "pdf"}),
    )?;
    expect_error(&bad, 422, "invalid_format", "an unknown format")?;
    let resp = set(&op_a, json!({"enabled": true, "folder_id": FOLDER_A}))?;
    check!(resp.status == 403, "an operator may not: {}", resp.text());
    let refused = set(
        &admin_b,
        json!({"enabled": true, "folder_id": "folder-of-b"}),
    )?;
    expect_error(
        &refused,
        403,
        "integration_not_allowed",
        "a tenant the platform does not allow",
    )?;
    let ok = set(
        &admin_a,
        json!({"enabled": true, "folder_id": FOLDER_A, "format": "markdown"}),
    )?;
    let body = expect_status(&ok, 200)?;
    check!(
        body["data"]["drive_filing"]
            == json!({"enabled": true, "folder_id": FOLDER_A, "format": "markdown"}),
        "{body}"
    );
    let info = expect_status(&call(&app, "GET", "/api/tenant/info", &admin_a, None)?, 200)?;
    check!(info["data"]["drive_filing"]["enabled"] == true, "{info}");
    let info_b = expect_status(&call(&app, "GET", "/api/tenant/info", &admin_b, None)?, 200)?;
    check!(
        info_b["data"]["drive_filing"]["enabled"] == false,
        "B is untouched: {info_b}"
    );

    // A completed job of A is filed once into A's folder; B's is not.
    let (a1, b1) = (job_in(&app, A, "alpha one")?, job_in(&app, B, "bravo one")?);
    let filed = settled(&app, &a1)?;
    let done = job(&app, &a1)?;
    check!(
        filed["status"] == "filed" && filed["attempts"] == 1,
        "{filed}"
    );
    let in_a = drive.files_in(FOLDER_A);
    check!(in_a.len() == 1, "one file in A's folder: {in_a:?}");
    let f = &in_a[0];
    check!(
        f.content == done["output"].as_str().unwrap_or("-")
            && f.name == format!("Filed alpha one ({a1}).md")
            && f.mime_type == "text/markdown"
            && f.app_properties.get("echopilot_tenant").map(String::as_str) == Some(A),
        "the file holds the job's output: {f:?} {done}"
    );
    check!(
        filed["file_id"] == f.id.as_str()
            && filed["link"] == format!("https://drive.google.com/file/d/{}/view", f.id),
        "the job's detail links the file: {filed}"
    );
    let b_job = job(&app, &b1)?;
    check!(
        b_job["status"] == "completed" && b_job["drive_filing"].is_null(),
        "B (off) files nothing: {b_job}"
    );
    check!(drive.files().len() == 1, "{:?}", drive.files());
    let filings = expect_status(
        &call(&app, "GET", "/api/queue/drive-filings", &op_a, None)?,
        200,
    )?;
    check!(
        filings["data"]["counts"]["filed"] == 1
            && filings["data"]["filings"][0]["job_id"] == a1.as_str(),
        "{filings}"
    );

    // The upload fails twice (503), then works: one file, three attempts.
    drive.refuse_uploads(2);
    let a2 = job_in(&app, A, "alpha two")?;
    let filed = settled(&app, &a2)?;
    check!(
        filed["status"] == "filed" && filed["attempts"] == 3,
        "{filed}"
    );
    check!(files_of(&drive, &a2).len() == 1, "{:?}", drive.files());

    // The upload lands but its answer is lost: the retry finds the file.
    drive.lose_upload_answers(1);
    let a3 = job_in(&app, A, "alpha three")?;
    let filed = settled(&app, &a3)?;
    let made = files_of(&drive, &a3);
    check!(
        filed["status"] == "filed" && filed["attempts"] == 2 && made.len() == 1,
        "exactly one file after a lost answer: {filed} {made:?}"
    );
    check!(filed["file_id"] == made[0].id.as_str(), "{filed}");

    // A revoked grant: failed at once, a clear error, nothing leaked.
    drive.revoke_grant(true);
    let a4 = job_in(&app, A, "alpha four")?;
    let failed = settled(&app, &a4)?;
    let error = failed["last_error"].as_str().unwrap_or_default();
    check!(
        failed["status"] == "failed" && failed["attempts"] == 1 && error.contains("invalid_grant"),
        "{failed}"
    );
    let everything = job(&app, &a4)?.to_string();
    for secret in [
        mock::DRIVE_REFRESH_TOKEN,
        mock::DRIVE_CLIENT_SECRET,
        "ya29.",
    ] {
        check!(
            !everything.contains(secret),
            "`{secret}` leaked: {everything}"
        );
    }
    let listed = expect_status(
        &call(
            &app,
            "GET",
            "/api/queue/drive-filings?status=failed",
            &op_a,
            None,
        )?,
        200,
    )?;
    check!(
        listed["data"]["filings"].as_array().map_or(0, Vec::len) == 1
            && listed["data"]["filings"][0]["job_id"] == a4.as_str()
            && listed["data"]["counts"]["failed"] == 1,
        "{listed}"
    );
    let bad = call(
        &app,
        "GET",
        "/api/queue/drive-filings?status=lost",
        &op_a,
        None,
    )?;
    expect_error(&bad, 422, "invalid_status", "an unknown status")?;
    // Another tenant's operator sees none of it.
    let (_, op_b) = user_token(&app, &root, "op@filing-b.test", "operator", B)?;
    let op_b = Cred::Bearer(op_b);
    let theirs = expect_status(
        &call(&app, "GET", "/api/queue/drive-filings", &op_b, None)?,
        200,
    )?;
    check!(
        theirs["data"]["filings"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{theirs}"
    );
    let retry = |cred: &Cred, id: &str| {
        call(
            &app,
            "POST",
            &format!("/api/jobs/{id}/drive-filing"),
            cred,
            None,
        )
    };
    expect_error(
        &retry(&op_b, &a4)?,
        404,
        "filing_not_found",
        "B retrying A's filing",
    )?;
    expect_error(
        &retry(&op_a, &a1)?,
        409,
        "filing_not_failed",
        "retrying a filed job",
    )?;

    // The grant restored, an operator's retry files it.
    drive.revoke_grant(false);
    let again = expect_status(&retry(&op_a, &a4)?, 200)?;
    check!(again["data"]["status"] == "pending", "{again}");
    let filed = settled(&app, &a4)?;
    check!(
        filed["status"] == "filed" && files_of(&drive, &a4).len() == 1,
        "{filed}"
    );
    check!(
        drive.files().iter().all(|f| f.parents == [FOLDER_A]),
        "every file in A's folder: {:?}",
        drive.files()
    );
    let uploads = drive.uploads();
    check!(
        uploads.iter().all(|u| u
            .header("content-type")
            .is_some_and(|c| c.starts_with("multipart/related"))),
        "multipart uploads"
    );
    Ok(())
}
