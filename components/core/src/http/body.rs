//! Strict request bodies: the right media type, valid UTF-8 JSON, and (with
//! `#[serde(deny_unknown_fields)]` on the target type) no unknown fields.

use super::Request;
use crate::error::{Error, Kind, Result};

/// Parse `req`'s body as JSON into `T`.
///
/// 415 unless the content type is `application/json` (parameters such as
/// `charset=utf-8` allowed); 400 `invalid_json` with serde's explanation
/// (line, column, the unknown field) otherwise.
pub fn json<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T> {
    require_json_content_type(req)?;
    if req.body.is_empty() {
        return Err(Error::bad_request(
            "empty_body",
            "the request body is empty; send a JSON object",
        ));
    }
    serde_json::from_slice(&req.body).map_err(|e| {
        Error::bad_request(
            "invalid_json",
            format!("the request body is not valid JSON for this endpoint: {e}"),
        )
    })
}

/// 415 unless the request declares a JSON body.
pub fn require_json_content_type(req: &Request) -> Result<()> {
    let ct = req.header("content-type").unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(Error::new(
            Kind::UnsupportedMediaType,
            "unsupported_media_type",
            format!(
                "expected Content-Type: application/json, got `{}`",
                if ct.is_empty() { "(none)" } else { ct }
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Brief {
        text: String,
    }

    fn req(ct: Option<&str>, body: &str) -> Request {
        let mut r = Request::new(Method::Post, "/x").with_body(body.as_bytes().to_vec());
        if let Some(ct) = ct {
            r = r.with_header("content-type", ct);
        }
        r
    }

    #[test]
    fn accepts_json_with_charset() {
        let b: Brief = json(&req(
            Some("application/json; charset=utf-8"),
            r#"{"text":"hi"}"#,
        ))
        .unwrap();
        assert_eq!(b.text, "hi");
    }

    #[test]
    fn refuses_wrong_media_type_empty_body_unknown_fields_and_garbage() {
        assert_eq!(
            json::<Brief>(&req(Some("text/plain"), "{}"))
                .unwrap_err()
                .status(),
            415
        );
        assert_eq!(json::<Brief>(&req(None, "{}")).unwrap_err().status(), 415);
        assert_eq!(
            json::<Brief>(&req(Some("application/json"), ""))
                .unwrap_err()
                .code,
            "empty_body"
        );
        let e = json::<Brief>(&req(Some("application/json"), r#"{"text":"a","txet":"b"}"#))
            .unwrap_err();
        assert_eq!((e.status(), e.code), (400, "invalid_json"));
        assert!(e.message.contains("txet"));
        assert_eq!(
            json::<Brief>(&req(Some("application/json"), "{nope"))
                .unwrap_err()
                .status(),
            400
        );
    }
}
