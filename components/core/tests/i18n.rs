//! Error messages in the caller's language, through the whole pipeline:
//! refusals before routing, after the guard, from the body limit and from
//! handlers all speak the language `Accept-Language` asks for, keep their
//! specifics in `detail`, and say which language they are in.

mod support;

use echopilot_core::adapters::native;
use echopilot_core::health;
use echopilot_core::http::{Method, Request};
use echopilot_core::i18n::{self, Lang};
use serde_json::json;
use support::{call, DASH_KEY};

fn error_in(lang: &str, req: Request) -> (u16, Option<String>, serde_json::Value) {
    let env = native::memory_env(&[("dashboard_key", DASH_KEY)]);
    let req = req.with_header("accept-language", lang);
    let (resp, body) = call(&health::APP, &env, req);
    let content_language = resp.header("content-language").map(str::to_string);
    (resp.status, content_language, body["error"].clone())
}

#[test]
fn refusals_speak_the_callers_language_and_keep_their_specifics() {
    let (status, lang, error) = error_in("ur-PK, en;q=0.5", Request::new(Method::Get, "/nope"));
    assert_eq!((status, lang.as_deref()), (404, Some("ur")));
    assert_eq!(error["code"], "not_found");
    assert_eq!(
        error["message"],
        i18n::message(Lang::Ur, "not_found").unwrap()
    );
    assert!(error["detail"].as_str().unwrap().contains("/nope"));

    // A guard refusal (no credential), in Spanish.
    let (status, lang, error) = error_in(
        "es",
        Request::new(Method::Post, "/api/internal/cron/heartbeat"),
    );
    assert_eq!((status, lang.as_deref()), (401, Some("es")));
    assert_eq!(
        error["message"],
        i18n::message(Lang::Es, "unauthorized").unwrap()
    );
}

#[test]
fn values_are_filled_into_the_message() {
    // 405 names the allowed methods in every language.
    for (header, lang) in [("es", Lang::Es), ("ur", Lang::Ur), ("en", Lang::En)] {
        let (status, _, error) = error_in(header, Request::new(Method::Delete, "/health"));
        assert_eq!(status, 405);
        let m = error["message"].as_str().unwrap();
        assert!(m.contains("GET, HEAD") && !m.contains('{'), "{lang:?}: {m}");
    }
}

#[test]
fn unknown_or_absent_languages_get_english() {
    for header in ["de-DE, fr;q=0.9", "", "es;q=0"] {
        let (_, lang, error) = error_in(header, Request::new(Method::Get, "/nope"));
        assert_eq!(lang.as_deref(), Some("en"), "{header}");
        assert_eq!(
            error["message"],
            i18n::message(Lang::En, "not_found").unwrap()
        );
    }
    let env = native::memory_env(&[]);
    let (resp, body) = call(&health::APP, &env, Request::new(Method::Get, "/nope"));
    assert_eq!(resp.header("content-language"), Some("en"));
    assert_eq!(resp.header("vary"), Some("Accept-Language"));
    assert_eq!(body["error"]["code"], json!("not_found"));
}
