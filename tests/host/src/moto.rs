//! moto's S3 server (`moto_server` from tests/requirements.txt, installed
//! in `target/pyenv` by tests/run.sh) on a loopback port: a real S3
//! implementation for the off-machine backup scenarios, and a client that
//! looks inside it directly (signed with core's SigV4, as the app signs).

use crate::client::{Client, Response};
use crate::local_server::LocalServer;
use anyhow::{ensure, Context, Result};
use echopilot_core::objectstore::{self, Bucket, Unsigned};
use echopilot_core::sigv4::Credentials;
use std::path::Path;
use std::time::Duration;

/// The access key the scenarios configure (moto accepts any key; requests
/// are signed anyway, as against a real store).
pub const ACCESS_KEY_ID: &str = "AKIAECHOPILOTE2ETEST";
/// Its secret (40 characters, like AWS's).
pub const SECRET_ACCESS_KEY: &str = "e2eS3cretKeyForMotoOnly0123456789abcdefX";
/// The region the scenarios sign for.
pub const REGION: &str = "eu-west-1";

/// A running `moto_server`, stopped when dropped. Nothing is persisted.
pub struct MotoServer {
    server: LocalServer,
}

impl MotoServer {
    /// Start `target/pyenv/bin/moto_server` on a free loopback port and
    /// wait (bounded) until it answers. `Ok(None)` with a message on stderr
    /// when moto is not installed, except under `CI=true`, where that fails.
    pub fn start(root: &Path) -> Result<Option<MotoServer>> {
        let program = root.join("target/pyenv/bin/moto_server");
        if !program.exists() {
            let why = format!(
                "{} is missing: tests/run.sh installs moto[server] from tests/requirements.txt",
                program.display()
            );
            ensure!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("skipped: {why}");
            return Ok(None);
        }
        let server = LocalServer::spawn("moto", &program, |cmd, port, dir| {
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .current_dir(dir)
                .stderr(std::fs::File::create(dir.join("moto.err"))?);
            Ok(())
        })?
        .wait_until(
            "moto_server",
            Duration::from_secs(60),
            Duration::from_millis(100),
            |addr| {
                Client::new(format!("http://{addr}"))
                    .with_timeout(Duration::from_secs(2))
                    .get("/")
                    .send()
                    .is_ok_and(|r| r.status == 200)
            },
        )?;
        Ok(Some(MotoServer { server }))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The app's variables for shipping to `bucket` here, keeping `keep`.
    pub fn variables(&self, bucket: &str, keep: &str) -> Vec<(&'static str, String)> {
        vec![
            ("backup_s3_endpoint", self.endpoint()),
            ("backup_s3_bucket", bucket.to_string()),
            ("backup_s3_region", REGION.to_string()),
            ("backup_s3_access_key_id", ACCESS_KEY_ID.to_string()),
            ("backup_s3_secret_access_key", SECRET_ACCESS_KEY.to_string()),
            ("backup_s3_keep", keep.to_string()),
        ]
    }

    fn bucket(&self, name: &str) -> Bucket {
        Bucket {
            endpoint: self.endpoint(),
            name: name.to_string(),
            region: REGION.to_string(),
            credentials: Credentials {
                access_key_id: ACCESS_KEY_ID.to_string(),
                secret_access_key: SECRET_ACCESS_KEY.to_string(),
            },
        }
    }

    /// Send a signed request to moto directly.
    fn send(&self, bucket: &str, req: Unsigned<'_>) -> Result<Response> {
        let out = self.bucket(bucket).sign(&req, now_ms());
        let target = out
            .url
            .strip_prefix(&self.endpoint())
            .context("a URL of this server")?
            .to_string();
        let client = Client::new(self.endpoint());
        let mut builder = client.request(&out.method, &target);
        for (k, v) in out.wire_headers() {
            builder = builder.header(&k, &v);
        }
        builder.body(out.body).send()
    }

    fn ok(&self, what: &str, resp: Response) -> Result<Response> {
        ensure!(
            (200..300).contains(&resp.status),
            "moto: {what} answered {}: {}",
            resp.status,
            resp.text()
        );
        Ok(resp)
    }

    /// CreateBucket in [`REGION`] (outside us-east-1, S3 wants the region
    /// named in the body).
    pub fn create_bucket(&self, bucket: &str) -> Result<()> {
        let req = Unsigned {
            method: "PUT",
            key: "",
            query: Vec::new(),
            headers: Vec::new(),
            body: format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{REGION}</LocationConstraint></CreateBucketConfiguration>"
            )
            .into_bytes(),
        };
        self.ok("CreateBucket", self.send(bucket, req)?)?;
        Ok(())
    }

    /// Every key under `prefix`, in key order (one ListObjectsV2 page: the
    /// scenarios hold a handful).
    pub fn keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>> {
        let req = Unsigned {
            method: "GET",
            key: "",
            query: vec![("list-type", "2"), ("prefix", prefix)],
            headers: Vec::new(),
            body: Vec::new(),
        };
        let resp = self.ok("ListObjectsV2", self.send(bucket, req)?)?;
        let page = objectstore::parse_list(&resp.text());
        ensure!(page.next.is_none(), "more than one page under {prefix}");
        Ok(page.objects.into_iter().map(|o| o.key).collect())
    }

    /// GetObject.
    pub fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>> {
        let req = Unsigned {
            method: "GET",
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        Ok(self.ok("GetObject", self.send(bucket, req)?)?.body)
    }

    /// PutObject (to overwrite what the app shipped).
    pub fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<()> {
        let req = Unsigned {
            method: "PUT",
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body,
        };
        self.ok("PutObject", self.send(bucket, req)?)?;
        Ok(())
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
