//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`), as S3 reads it: the
//! `Authorization` header of one request, signed with an access key.
//!
//! Written here rather than taken from a crate: the maintained signer
//! (`aws-sigv4`) pulls in the AWS SDK's runtime crates (`aws-smithy-*`,
//! `http`, `time`, `tracing`), far beyond what one header needs and a real
//! cost in every component's wasm size. This is the algorithm of AWS's
//! documentation, on the `sha2`/`hmac` crates the workspace already has,
//! tested against AWS's published test suite and S3's worked examples.
//!
//! The canonical request follows S3's rules, which differ from the generic
//! ones in two places: the path is encoded once (not twice) and never
//! normalized (`a//b` and `./` are distinct keys), and the payload line is
//! the `x-amz-content-sha256` header's value: the body's SHA-256, or
//! `UNSIGNED-PAYLOAD`.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt;

/// The algorithm's name, first in the `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload line of a request whose body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// An access key. `Debug` shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AKIA…`
    pub access_key_id: String,
    /// The secret (40 characters at AWS).
    pub secret_access_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .finish()
    }
}

/// What a request is signed for: a region and a service (`s3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope<'a> {
    /// `us-east-1`, `eu-west-1`, …
    pub region: &'a str,
    /// `s3`
    pub service: &'a str,
}

/// The parts of a request the signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// `GET`, `PUT`, …
    pub method: &'a str,
    /// The path as the application means it, not encoded (`/bucket/a b`).
    pub path: &'a str,
    /// Query parameters, not encoded, in any order.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign (names in any case), `host` and `x-amz-date` among
    /// them.
    pub headers: &'a [(&'a str, &'a str)],
    /// The payload line: the body's SHA-256 in hex, or [`UNSIGNED_PAYLOAD`].
    pub payload: &'a str,
}

/// A signed request: the header to send, and the intermediate strings
/// (for tests, and for comparing with S3's `SignatureDoesNotMatch` answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The canonical request.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The `Authorization` header's value.
    pub authorization: String,
}

/// `ms` since the epoch as SigV4's timestamp: `20150830T123600Z`.
pub fn amz_date(ms: i64) -> String {
    let t = crate::time::rfc3339(ms);
    // 2015-08-30T12:36:00.000Z
    format!(
        "{}{}{}T{}{}{}Z",
        &t[0..4],
        &t[5..7],
        &t[8..10],
        &t[11..13],
        &t[14..16],
        &t[17..19]
    )
}

/// The SHA-256 of `body` in lowercase hex: the signed payload line.
pub fn payload_hash(body: &[u8]) -> String {
    crate::hex(&Sha256::digest(body))
}

/// `s` percent-encoded as SigV4 wants: every byte but RFC 3986's
/// unreserved characters as `%XX` (upper case), and `/` kept when
/// `keep_slash` (paths).
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The canonical query string: each name and value encoded, sorted by name
/// then value, joined with `&` (a parameter without a value has `=`).
pub fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Canonical headers (`name:value\n` each, sorted, names lower case,
/// values trimmed with inner runs of spaces collapsed, repeated names
/// joined with `,`) and the signed-headers list.
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut named: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.trim().to_ascii_lowercase(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    // A stable sort keeps repeated headers in the order they were given.
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let mut lines = String::new();
    let mut names: Vec<&str> = Vec::new();
    for (name, value) in &named {
        if names.last() == Some(&name.as_str()) {
            lines.pop(); // the previous line's `\n`
            lines.push(',');
        } else {
            names.push(name);
            lines.push_str(name);
            lines.push(':');
        }
        lines.push_str(value);
        lines.push('\n');
    }
    (lines, names.join(";"))
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Sign `req` at `amz_date` (`20150830T123600Z`, the request's
/// `x-amz-date` header) with `creds` for `scope`.
pub fn sign(creds: &Credentials, scope: &Scope<'_>, req: &Request<'_>, amz_date: &str) -> Signed {
    let (headers, signed_headers) = canonical_headers(req.headers);
    let canonical_request = format!(
        "{}\n{}\n{}\n{headers}\n{signed_headers}\n{}",
        req.method,
        uri_encode(req.path, true),
        canonical_query(req.query),
        req.payload
    );
    let day = &amz_date[..amz_date.len().min(8)];
    let credential_scope = format!("{day}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{credential_scope}\n{}",
        payload_hash(canonical_request.as_bytes())
    );
    let key = [day, scope.region, scope.service, "aws4_request"]
        .iter()
        .fold(
            format!("AWS4{}", creds.secret_access_key).into_bytes(),
            |key, part| hmac(&key, part),
        );
    let signature = crate::hex(&hmac(&key, &string_to_sign));
    Signed {
        authorization: format!(
            "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
            creds.access_key_id
        ),
        canonical_request,
        string_to_sign,
    }
}

#[cfg(test)]
mod tests {
    //! Expected values from AWS's published SigV4 test suite
    //! (<https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html>,
    //! `aws-sig-v4-test-suite`: the `.req`, `.creq`, `.sts` and `.authz`
    //! files of each case; the suite is not vendored) and from S3's worked
    //! examples (<https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>).
    use super::*;

    const SUITE_DATE: &str = "20150830T123600Z";
    type Query<'a> = &'a [(&'a str, &'a str)];
    const SUITE_HOST: &str = "example.amazonaws.com";

    fn suite_creds() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        }
    }

    const SUITE_SCOPE: Scope<'static> = Scope {
        region: "us-east-1",
        service: "service",
    };

    /// The generic suite signs the body's hash without sending it as a
    /// header: `payload` is the hash of `body`.
    fn suite(
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        extra: &[(&str, &str)],
        body: &str,
    ) -> Signed {
        let mut headers = vec![("Host", SUITE_HOST), ("X-Amz-Date", SUITE_DATE)];
        headers.extend_from_slice(extra);
        let payload = payload_hash(body.as_bytes());
        sign(
            &suite_creds(),
            &SUITE_SCOPE,
            &Request {
                method,
                path,
                query,
                headers: &headers,
                payload: &payload,
            },
            SUITE_DATE,
        )
    }

    fn suite_authz(signed_headers: &str, signature: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed_headers}, Signature={signature}"
        )
    }

    #[test]
    fn get_vanilla() {
        let s = suite("GET", "/", &[], &[], "");
        assert_eq!(
            s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            s.authorization,
            suite_authz(
                "host;x-amz-date",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            )
        );
    }

    #[test]
    fn get_vanilla_query_order_key() {
        // Same name twice: sorted by value (`V` before `v`).
        let s = suite(
            "GET",
            "/",
            &[("Param1", "value2"), ("Param1", "Value1")],
            &[],
            "",
        );
        assert_eq!(
            s.canonical_request,
            "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89"
        );
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        let s = suite(
            "GET",
            "/",
            &[("Param2", "value2"), ("Param1", "value1")],
            &[],
            "",
        );
        assert!(s
            .canonical_request
            .contains("\nParam1=value1&Param2=value2\n"));
        assert_eq!(
            s.authorization,
            suite_authz(
                "host;x-amz-date",
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
            )
        );
    }

    #[test]
    fn suite_cases_signed_with_host_and_date_only() {
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        // (case, method, path, query, a line of the canonical request, signature)
        type Case<'a> = (&'a str, &'a str, &'a str, Query<'a>, &'a str, &'a str);
        let cases: &[Case] = &[
            (
                "get-vanilla-query-unreserved",
                "GET",
                "/",
                &[(unreserved, unreserved)],
                "\n-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~",
                "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
            ),
            (
                "get-vanilla-utf8-query",
                "GET",
                "/",
                &[("\u{1234}", "bar")],
                "\n%E1%88%B4=bar\n",
                "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
            ),
            (
                "get-utf8",
                "GET",
                "/\u{1234}",
                &[],
                "GET\n/%E1%88%B4\n",
                "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
            ),
            (
                "get-space",
                "GET",
                "/example space/",
                &[],
                "GET\n/example%20space/\n",
                "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
            ),
            (
                "post-vanilla",
                "POST",
                "/",
                &[],
                "POST\n/\n\n",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            ),
        ];
        for (case, method, path, query, line, signature) in cases {
            let s = suite(method, path, query, &[], "");
            assert!(
                s.canonical_request.contains(line),
                "{case}: {}",
                s.canonical_request
            );
            assert_eq!(
                s.authorization,
                suite_authz("host;x-amz-date", signature),
                "{case}"
            );
        }
    }

    #[test]
    fn post_x_www_form_urlencoded() {
        let s = suite(
            "POST",
            "/",
            &[],
            &[("Content-Type", "application/x-www-form-urlencoded")],
            "Param1=value1",
        );
        assert_eq!(
            s.canonical_request,
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        );
        assert_eq!(
            s.authorization,
            suite_authz(
                "content-type;host;x-amz-date",
                "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
            )
        );
    }

    #[test]
    fn header_values_are_trimmed_and_repeated_names_joined() {
        let s = suite(
            "GET",
            "/",
            &[],
            &[
                ("My-Header1", "  value1   with  spaces "),
                ("my-header1", "b"),
            ],
            "",
        );
        assert!(s
            .canonical_request
            .contains("\nmy-header1:value1 with spaces,b\n"));
        assert!(s
            .canonical_request
            .contains("\nhost;my-header1;x-amz-date\n"));
    }

    // S3's worked examples: access key AKIAIOSFODNN7EXAMPLE, 24 May 2013.
    fn s3_creds() -> Credentials {
        Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        }
    }

    const S3_SCOPE: Scope<'static> = Scope {
        region: "us-east-1",
        service: "s3",
    };
    const S3_DATE: &str = "20130524T000000Z";

    /// Sign as S3's examples do: their key, region and date.
    fn s3(
        method: &str,
        path: &str,
        query: Query,
        headers: &[(&str, &str)],
        payload: &str,
    ) -> Signed {
        sign(
            &s3_creds(),
            &S3_SCOPE,
            &Request {
                method,
                path,
                query,
                headers,
                payload,
            },
            S3_DATE,
        )
    }
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn s3_get_object() {
        let headers = [
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY),
            ("x-amz-date", S3_DATE),
        ];
        let s = s3("GET", "/test.txt", &[], &headers, EMPTY);
        assert_eq!(
            s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        assert!(s.authorization.ends_with(
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        ));
    }

    #[test]
    fn s3_put_object_signs_the_body_and_encodes_the_key_once() {
        let body = b"Welcome to Amazon S3.";
        let payload = payload_hash(body);
        let headers = [
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", S3_DATE),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", &payload),
        ];
        let s = s3("PUT", "/test$file.text", &[], &headers, &payload);
        assert!(s
            .canonical_request
            .starts_with("PUT\n/test%24file.text\n\n"));
        assert!(s.authorization.ends_with(
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        ));
    }

    #[test]
    fn s3_list_objects_sorts_the_query() {
        let headers = [
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-content-sha256", EMPTY),
            ("x-amz-date", S3_DATE),
        ];
        let s = s3(
            "GET",
            "/",
            &[("prefix", "J"), ("max-keys", "2")],
            &headers,
            EMPTY,
        );
        assert!(s.canonical_request.contains("\nmax-keys=2&prefix=J\n"));
        assert!(s.authorization.ends_with(
            "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        ));
    }

    #[test]
    fn an_unsigned_payload_is_named_in_the_canonical_request() {
        let headers = [
            ("host", "127.0.0.1:9000"),
            ("x-amz-content-sha256", UNSIGNED_PAYLOAD),
            ("x-amz-date", S3_DATE),
        ];
        let s = s3(
            "PUT",
            "/bucket/echopilot/a b+c=d.sql.gz",
            &[],
            &headers,
            UNSIGNED_PAYLOAD,
        );
        assert!(s
            .canonical_request
            .starts_with("PUT\n/bucket/echopilot/a%20b%2Bc%3Dd.sql.gz\n\n"));
        assert!(s.canonical_request.ends_with("\nUNSIGNED-PAYLOAD"));
    }

    #[test]
    fn the_timestamp_is_basic_iso8601() {
        assert_eq!(amz_date(1_440_938_160_000), SUITE_DATE);
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let shown = format!("{:?}", suite_creds());
        assert!(shown.contains("AKIDEXAMPLE"));
        assert!(!shown.contains("EXAMPLEKEY"));
    }
}
