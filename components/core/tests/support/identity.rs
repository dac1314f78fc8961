//! Identity helpers: an app with users, tokens and tenants.

use super::{call, post_json, DASH_KEY};
use echopilot_core::http::{Method, Request};
use echopilot_core::identity::api::APP as AUTH;
use echopilot_core::ports::Env;
use serde_json::{json, Value};

/// The `jwt_secret` of identity tests.
pub const SECRET: &str = "a-jwt-secret-that-is-long-enough-0123456789";
/// Variables with sign-in, the first admin and the machine secrets.
pub const VARS: &[(&str, &str)] = &[
    ("jwt_secret", SECRET),
    ("admin_email", "admin@example.com"),
    ("admin_password", "correct horse battery staple"),
    ("dashboard_key", DASH_KEY),
    ("cron_token", "cron-token-for-native-tests-0123456789"),
];

/// Sign in: the status and the body.
pub fn login(env: &Env, email: &str, password: &str) -> (u16, Value) {
    let (resp, body) = call(
        &AUTH,
        env,
        post_json(
            "/api/auth/login",
            &json!({"email": email, "password": password}),
        ),
    );
    (resp.status, body)
}

/// The first admin's access token.
pub fn admin_token(env: &Env) -> String {
    let (status, body) = login(env, "admin@example.com", "correct horse battery staple");
    assert_eq!(status, 200, "{body}");
    body["data"]["access_token"].as_str().unwrap().to_string()
}

/// `Authorization: Bearer <token>`.
pub fn bearer(req: Request, token: &str) -> Request {
    req.with_header("authorization", &format!("Bearer {token}"))
}

/// A GET.
pub fn get(path: &str) -> Request {
    Request::new(Method::Get, path)
}

/// Create a user and sign it in: its access token.
pub fn make_user(env: &Env, admin: &str, email: &str, role: &str, tenant: &str) -> String {
    let (resp, body) = call(
        &AUTH,
        env,
        bearer(
            post_json(
                "/api/users",
                &json!({
                    "email": email, "password": "a long enough password", "role": role, "tenant_id": tenant
                }),
            ),
            admin,
        ),
    );
    assert_eq!(resp.status, 201, "{body}");
    let (status, body) = login(env, email, "a long enough password");
    assert_eq!(status, 200, "{body}");
    body["data"]["access_token"].as_str().unwrap().to_string()
}

/// Create tenant `id`.
pub fn make_tenant(env: &Env, admin: &str, id: &str) {
    let (resp, body) = call(
        &AUTH,
        env,
        bearer(
            post_json(
                "/api/tenant/create",
                &json!({"id": id, "name": id, "plan": "pro"}),
            ),
            admin,
        ),
    );
    assert_eq!(resp.status, 201, "{body}");
}
