use super::*;
use crate::adapters::native::{self, ScriptedHttp};
use crate::ports::OutboundResponse;
use std::sync::Arc;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn bucket() -> Bucket {
    Bucket {
        endpoint: "http://127.0.0.1:9000".into(),
        name: "backups".into(),
        region: "eu-west-1".into(),
        credentials: Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: SECRET.into(),
        },
    }
}

fn resp(status: u16, body: &str) -> OutboundResponse {
    OutboundResponse {
        status,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    }
}

fn header<'a>(req: &'a OutboundRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_put_is_path_style_signs_its_body_and_says_its_length() {
    let req = bucket().sign(
        &Unsigned {
            method: "PUT",
            key: "echopilot/a b+c.sql.gz",
            query: Vec::new(),
            headers: vec![("x-amz-meta-sha256", "abc".into())],
            body: b"hello".to_vec(),
        },
        1_440_938_160_000,
    );
    assert_eq!(
        req.url,
        "http://127.0.0.1:9000/backups/echopilot/a%20b%2Bc.sql.gz"
    );
    assert_eq!(
        header(&req, "x-amz-content-sha256"),
        Some(sigv4::payload_hash(b"hello").as_str())
    );
    assert_eq!(header(&req, "x-amz-date"), Some("20150830T123600Z"));
    assert_eq!(header(&req, "host"), None, "set by the HTTP client");
    let auth = header(&req, "authorization").unwrap();
    assert!(
        auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20150830/eu-west-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-meta-sha256, Signature="
        ),
        "{auth}"
    );
    assert!(!auth.contains(SECRET));
    let length = req
        .wire_headers()
        .into_iter()
        .find(|(k, _)| k == "content-length");
    assert_eq!(length, Some(("content-length".into(), "5".into())));
}

#[test]
fn a_listing_sends_its_query_sorted_and_encoded() {
    let req = bucket().sign(
        &Unsigned {
            method: "GET",
            key: "",
            query: vec![
                ("list-type", "2"),
                ("prefix", "echopilot/"),
                (
                    "continuation-token",
                    "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
                ),
            ],
            headers: Vec::new(),
            body: Vec::new(),
        },
        0,
    );
    assert_eq!(
        req.url,
        "http://127.0.0.1:9000/backups?continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2Fwm36Hy4vbOwM%3D&list-type=2&prefix=echopilot%2F"
    );
}

/// A ListObjectsV2 answer as S3 sends it (from S3's API reference).
const LISTING: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>backups</Name>
  <Prefix>echopilot/</Prefix>
  <KeyCount>2</KeyCount>
  <MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents>
    <Key>echopilot/a&amp;b.sql.gz</Key>
    <LastModified>2027-01-15T00:30:02.000Z</LastModified>
    <ETag>&quot;599bab3ed2c697f1d26842727561fd94&quot;</ETag>
    <Size>857</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>echopilot/b.sql.gz</Key>
    <LastModified>2027-01-16T00:30:02.000Z</LastModified>
    <Size>1024</Size>
  </Contents>
</ListBucketResult>"#;

#[test]
fn a_listing_is_read_with_its_continuation() {
    let page = parse_list(LISTING);
    assert_eq!(page.objects.len(), 2);
    assert_eq!(page.objects[0].key, "echopilot/a&b.sql.gz");
    assert_eq!(page.objects[0].size, 857);
    assert_eq!(page.objects[1].last_modified, "2027-01-16T00:30:02.000Z");
    assert_eq!(
        page.next.as_deref(),
        Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
    );
    let last = parse_list(&LISTING.replace("<IsTruncated>true", "<IsTruncated>false"));
    assert_eq!(last.next, None);
}

/// S3's answer to a wrong secret key (recorded from AWS; it echoes the
/// access key id and what it signed).
const SIGNATURE_MISMATCH: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>AKIAIOSFODNN7EXAMPLE</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256
20150830T123600Z
20150830/eu-west-1/s3/aws4_request
0123</StringToSign><SignatureProvided>f0e8</SignatureProvided><RequestId>4442587FB7D0A2F9</RequestId></Error>"#;

#[test]
fn errors_are_typed_by_s3s_code_and_never_carry_the_key() {
    let mut env = native::memory_env(&[]);
    let http = Arc::new(ScriptedHttp::new(|r| {
        Ok(if r.method == "PUT" {
            resp(403, SIGNATURE_MISMATCH)
        } else if r.url.contains("/missing") {
            resp(
                404,
                "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>missing</Key></Error>",
            )
        } else {
            resp(503, "")
        })
    }));
    env.http = Box::new(http.clone());
    let b = bucket();
    let put = futures::executor::block_on(b.put(&env, "k", b"x".to_vec(), "application/gzip", &[]))
        .unwrap_err();
    assert!(
        matches!(&put, StoreError::Service { status: 403, code, .. } if code == "SignatureDoesNotMatch")
    );
    let shown = put.to_string();
    assert!(
        shown.contains("403 SignatureDoesNotMatch: The request signature"),
        "{shown}"
    );
    assert!(!shown.contains("AKIAIOSFODNN7EXAMPLE") && !shown.contains(SECRET));
    let missing = futures::executor::block_on(b.get(&env, "missing")).unwrap_err();
    assert!(missing.is_missing_key(), "{missing}");
    let down = futures::executor::block_on(b.delete(&env, "other")).unwrap_err();
    assert_eq!(down.to_string(), "the object store answered 503 HTTP503");
    let sent = http.sent();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].body, b"x");
}

#[test]
fn a_store_out_of_reach_says_which_variable_to_check() {
    let mut env = native::memory_env(&[]);
    env.http = Box::new(ScriptedHttp::deny_all());
    let e = futures::executor::block_on(bucket().get(&env, "k")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the object store did not answer: http://127.0.0.1:9000 is not in the component's allowed_outbound_hosts"
    );
}

#[test]
fn list_all_follows_continuation_tokens() {
    let mut env = native::memory_env(&[]);
    env.http = Box::new(ScriptedHttp::new(|r| {
        Ok(if r.url.contains("continuation-token") {
            resp(
                200,
                "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>c</Key><Size>1</Size></Contents></ListBucketResult>",
            )
        } else {
            resp(200, LISTING)
        })
    }));
    let all = futures::executor::block_on(bucket().list_all(&env, "echopilot/", 5)).unwrap();
    let keys: Vec<&str> = all.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["echopilot/a&b.sql.gz", "echopilot/b.sql.gz", "c"]);
    let bounded = futures::executor::block_on(bucket().list_all(&env, "echopilot/", 1));
    assert!(bounded.is_err());
}
