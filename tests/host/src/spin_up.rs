//! A real `spin up` as a child process, for the real-Spin tier.
//!
//! [`SpinUp::start`] runs whatever `spin` is on `PATH` against the app's
//! manifest, on a free loopback port, with its own state and log
//! directories, and waits (bounded) until it answers. Dropping it stops the
//! whole process group (`spin up` starts one process per trigger type: the
//! HTTP trigger and the trigger-cron plugin).
//!
//! By default it runs a manifest derived from spin.toml without the
//! `[[trigger.cron]]` entries ([`Schedules::Off`]), so scenarios drive jobs
//! themselves through the internal cron routes and no plugin races them;
//! [`Schedules::Plugin`] runs spin.toml unchanged, the cron plugin included.

use anyhow::{bail, ensure, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a start may take (a cold start compiles every component:
/// about 15 s alone, longer while other scenarios compete for the cores).
const READY_WITHIN: Duration = Duration::from_secs(180);
/// How long a stopping `spin up` gets before its group is killed.
const STOP_WITHIN: Duration = Duration::from_secs(3);

/// Who runs the `[[trigger.cron]]` schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedules {
    /// Nobody: the app runs from a manifest without them, and jobs run only
    /// when called through `POST /api/internal/cron/{job}`.
    Off,
    /// The trigger-cron plugin, from spin.toml unchanged.
    Plugin,
}

/// What to start.
#[derive(Debug, Clone)]
pub struct SpinConfig {
    /// The directory holding spin.toml.
    pub app: PathBuf,
    /// Application variables (passed as a `--variable @file.json`).
    pub variables: BTreeMap<String, String>,
    /// `--state-dir` (a fresh one when `None`).
    pub state_dir: Option<PathBuf>,
    /// `--runtime-config-file`.
    pub runtime_config: Option<PathBuf>,
    /// Who runs the schedules.
    pub schedules: Schedules,
}

impl SpinConfig {
    /// Run the app in `app` with no variables, a fresh state directory and
    /// no schedules.
    pub fn new(app: impl AsRef<Path>) -> SpinConfig {
        SpinConfig {
            app: app.as_ref().to_path_buf(),
            variables: BTreeMap::new(),
            state_dir: None,
            runtime_config: None,
            schedules: Schedules::Off,
        }
    }
}

/// The files of one `spin up`: the derived manifest, the variables file,
/// the component logs (`logs/<component>_{stdout,stderr}.txt`) and Spin's
/// own output. Kept alive as long as someone may read the logs.
#[derive(Debug)]
pub struct SpinFiles {
    dir: tempfile::TempDir,
}

impl SpinFiles {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn log_dir(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    /// Everything captured, as `[component stream] line` lines: each
    /// component's log files, then Spin's own stdout and stderr.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.log_dir())
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        for f in files {
            let name = f
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let (component, stream) = name.rsplit_once('_').unwrap_or((&name, ""));
            append_lines(&mut out, &f, component, stream);
        }
        for stream in ["stdout", "stderr"] {
            append_lines(
                &mut out,
                &self.path().join(format!("spin.{stream}")),
                "spin",
                stream,
            );
        }
        out
    }
}

fn append_lines(out: &mut String, file: &Path, component: &str, stream: &str) {
    let Ok(bytes) = std::fs::read(file) else {
        return;
    };
    for line in String::from_utf8_lossy(&bytes).lines() {
        out.push_str(&format!("[{component} {stream}] {line}\n"));
    }
}

/// A running `spin up`.
pub struct SpinUp {
    child: Child,
    addr: SocketAddr,
    state_dir: PathBuf,
    files: Arc<SpinFiles>,
}

impl SpinUp {
    /// Start `spin up` for `config` and wait until it serves
    /// `/.well-known/spin/health`. A port taken between choosing and binding
    /// is retried with another one.
    pub fn start(config: &SpinConfig) -> Result<SpinUp> {
        let files = Arc::new(SpinFiles {
            dir: tempfile::Builder::new()
                .prefix("echopilot-spin-")
                .tempdir()?,
        });
        let manifest = match config.schedules {
            Schedules::Plugin => config.app.join("spin.toml"),
            Schedules::Off => write_manifest_without_schedules(&config.app, files.path())?,
        };
        let vars = files.path().join("variables.json");
        std::fs::write(&vars, serde_json::to_vec(&config.variables)?)?;
        let state_dir = match &config.state_dir {
            Some(d) => d.clone(),
            None => files.path().join("state"),
        };
        std::fs::create_dir_all(&state_dir)
            .with_context(|| format!("creating {}", state_dir.display()))?;
        let mut last_error = None;
        for _ in 0..3 {
            let addr = free_loopback_port()?;
            let mut cmd = Command::new("spin");
            cmd.arg("up")
                .arg("-f")
                .arg(&manifest)
                .arg("--listen")
                .arg(addr.to_string())
                .arg("--state-dir")
                .arg(&state_dir)
                .arg("--log-dir")
                .arg(files.log_dir())
                .arg("--quiet")
                .arg("--variable")
                .arg(format!("@{}", vars.display()));
            if let Some(rc) = &config.runtime_config {
                cmd.arg("--runtime-config-file").arg(rc);
            }
            // Only what this config says reaches the app: no variables,
            // runtime config or log settings from the test's environment.
            for (k, _) in std::env::vars_os() {
                let k = k.to_string_lossy().into_owned();
                if k.starts_with("SPIN_VARIABLE_") || k.starts_with("SPIN_CONFIG_") {
                    cmd.env_remove(&k);
                }
            }
            cmd.env_remove("RUNTIME_CONFIG_FILE")
                .env_remove("SPIN_LOG_DIR")
                .env_remove("SPIN_ALWAYS_BUILD")
                .current_dir(files.path())
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(files.path().join("spin.stdout"))?)
                .stderr(std::fs::File::create(files.path().join("spin.stderr"))?)
                .process_group(0);
            let child = cmd.spawn().context(
                "cannot run `spin` (is Spin on PATH? `.ci/run` installs it from ../shared/spin)",
            )?;
            let mut up = SpinUp {
                child,
                addr,
                state_dir: state_dir.clone(),
                files: files.clone(),
            };
            match up.wait_ready() {
                Ok(()) => return Ok(up),
                Err(e) => {
                    let taken = files.text().contains("already in use");
                    drop(up);
                    if !taken {
                        return Err(e.context(format!("spin up output:\n{}", files.text())));
                    }
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("spin up did not start")))
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("spin up exited before serving ({status})");
            }
            if health(self.addr) {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "spin up did not answer on {} within {READY_WITHIN:?}",
                self.addr
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `--state-dir` (`sqlite_db.db`, `sqlite_key_value.db`).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The captured output (stays readable after this is dropped).
    pub fn files(&self) -> Arc<SpinFiles> {
        self.files.clone()
    }

    /// Everything captured so far.
    pub fn logs(&self) -> String {
        self.files.text()
    }

    fn signal_group(&self, signal: i32) {
        let pgid = self.child.id() as i32;
        // SAFETY: kill(2) with a negative pid signals that process group;
        // the group is the one this child leads (`process_group(0)`).
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

impl Drop for SpinUp {
    fn drop(&mut self) {
        // Ctrl-C first (spin up then stops its trigger processes), then the
        // whole group, whatever is left of it.
        self.signal_group(libc::SIGINT);
        let deadline = Instant::now() + STOP_WITHIN;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.signal_group(libc::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Whether `spin` on `PATH` runs, and its version line.
pub fn version() -> Result<String> {
    let out = Command::new("spin")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .context("`spin` is not on PATH")?;
    ensure!(out.status.success(), "`spin --version` failed");
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Write spin.toml without its `[[trigger.cron]]` entries into `dir`: every
/// component `source` made absolute, `build` sections dropped, and each
/// directory that a `files` mount names linked into `dir` (Spin refuses
/// mounts outside the manifest's directory, so they stay relative). The
/// manifest's path.
pub fn write_manifest_without_schedules(app: &Path, dir: &Path) -> Result<PathBuf> {
    let path = app.join("spin.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut doc: toml::Table = toml::from_str(&text)?;
    let root = std::fs::canonicalize(app)?;
    if let Some(triggers) = doc.get_mut("trigger").and_then(toml::Value::as_table_mut) {
        triggers.remove("cron");
    }
    let mut mounts = BTreeSet::new();
    if let Some(components) = doc.get_mut("component").and_then(toml::Value::as_table_mut) {
        for (id, c) in components.iter_mut() {
            let c = c
                .as_table_mut()
                .with_context(|| format!("component {id} is not a table"))?;
            c.remove("build");
            if let Some(toml::Value::String(s)) = c.get_mut("source") {
                *s = root.join(&*s).display().to_string();
            }
            for f in c
                .get("files")
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
            {
                let source = match f {
                    toml::Value::String(glob) => glob.as_str(),
                    other => other
                        .get("source")
                        .and_then(toml::Value::as_str)
                        .with_context(|| format!("component {id}: a files entry without source"))?,
                };
                let top = Path::new(source)
                    .components()
                    .next()
                    .with_context(|| format!("component {id}: an empty files source"))?;
                mounts.insert(PathBuf::from(top.as_os_str()));
            }
        }
    }
    for top in mounts {
        let target = root.join(&top);
        ensure!(
            target.starts_with(&root) && target.exists(),
            "files mount {} is not a directory of the app",
            top.display()
        );
        std::os::unix::fs::symlink(&target, dir.join(&top))
            .with_context(|| format!("linking {}", target.display()))?;
    }
    let manifest = dir.join("spin.toml");
    std::fs::write(&manifest, toml::to_string(&doc)?)
        .with_context(|| format!("writing {}", manifest.display()))?;
    Ok(manifest)
}

/// A loopback address nobody listens on right now.
pub fn free_loopback_port() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn health(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!(
        "GET /.well-known/spin/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_manifest_drops_schedules_and_anchors_paths() {
        let root = crate::repo_root();
        let dir = tempfile::tempdir().unwrap();
        let path = write_manifest_without_schedules(&root, dir.path()).unwrap();
        let doc: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(doc["trigger"].get("cron").is_none());
        assert!(!doc["trigger"]["http"].as_array().unwrap().is_empty());
        let abs = std::fs::canonicalize(&root).unwrap();
        for (id, c) in doc["component"].as_table().unwrap() {
            let source = c["source"].as_str().unwrap();
            assert!(Path::new(source).starts_with(&abs), "{id}: {source}");
            assert!(c.get("build").is_none(), "{id}");
        }
        // static/ is embedded in its component: nothing is mounted, so
        // nothing is linked beside the derived manifest.
        assert!(doc["component"]["static-files"].get("files").is_none());
        assert!(!dir.path().join("static").exists());
    }
}
