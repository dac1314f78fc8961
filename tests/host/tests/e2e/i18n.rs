//! Error messages in the caller's language end to end: the built
//! components answer in the best language of `Accept-Language` (q-values
//! honoured, English otherwise), with the message of the repository's
//! catalogue for the code, the specifics in `detail`, and
//! `Content-Language` saying which language it is.

use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::scenario::{Env, Scenario};
use serde_json::Value;

pub const SCENARIOS: &[Scenario] = &[Scenario::new(
    "i18n_errors_speak_the_language_asked_for",
    errors_in_language,
)];

/// The catalogue's message for `code` in `lang`.
fn catalogue(env: &Env, lang: &str, code: &str) -> Result<String> {
    let path = env.root().join("static/i18n").join(format!("{lang}.json"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    doc["errors"][code]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("{} has no errors.{code}", path.display()))
}

fn errors_in_language(env: &Env) -> Result<()> {
    let app = env.app()?;
    for (header, lang) in [
        ("ur-PK,ur;q=0.9,en;q=0.5", "ur"),
        ("fr-FR, es;q=0.8, en;q=0.3", "es"),
        ("de", "en"),
        ("es;q=0, ur;q=0.2", "ur"),
    ] {
        // A guard refusal (no credential) on an operator route.
        let resp = app
            .post("/api/queue/enqueue")
            .header("Accept-Language", header)
            .json(&serde_json::json!({}))
            .send()?;
        check!(resp.status == 401, "{header}: {}", resp.text());
        check!(
            resp.header("content-language") == Some(lang),
            "{header}: Content-Language {:?}",
            resp.header("content-language")
        );
        let body = resp.json()?;
        let want = catalogue(env, lang, "unauthorized")?;
        check!(
            body["error"]["message"] == want.as_str(),
            "{header}: {body}"
        );
        check!(
            body["error"]["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "the specifics stay in detail: {body}"
        );
    }
    // A handler's refusal with a value filled in: 405 names the methods.
    let resp = app
        .request("DELETE", "/api/version")
        .header("Accept-Language", "es")
        .send()?;
    check!(resp.status == 405, "{}", resp.text());
    let message = resp.json()?["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let template = catalogue(env, "es", "method_not_allowed")?;
    check!(
        message == template.replace("{allow}", "GET, HEAD"),
        "{message}"
    );
    // Without Accept-Language: English.
    let resp = app
        .post("/api/queue/enqueue")
        .json(&serde_json::json!({}))
        .send()?;
    check!(
        resp.header("content-language") == Some("en"),
        "{:?}",
        resp.headers
    );
    Ok(())
}
