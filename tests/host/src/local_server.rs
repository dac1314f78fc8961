//! A test server run as a child process on a free loopback port (moto's S3
//! server, redis-server): its own temporary folder, waited for with a bound
//! until it answers, stopped when dropped.

use anyhow::{bail, ensure, Context, Result};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server process, killed (and reaped) when dropped.
pub struct LocalServer {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl LocalServer {
    /// Run `program` on a free loopback port in a new temporary folder
    /// (`echopilot-{name}-…`); `configure` adds its arguments, given the
    /// port and the folder. Its stdout goes to `{name}.log` there.
    pub fn spawn(
        name: &str,
        program: &Path,
        configure: impl FnOnce(&mut Command, u16, &Path) -> Result<()>,
    ) -> Result<LocalServer> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("echopilot-{name}-"))
            .tempdir()?;
        let addr = crate::spin_up::free_loopback_port()?;
        let mut cmd = Command::new(program);
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(
                dir.path().join(format!("{name}.log")),
            )?)
            .process_group(0);
        configure(&mut cmd, addr.port(), dir.path())?;
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot run {}", program.display()))?;
        Ok(LocalServer {
            child,
            addr,
            _dir: dir,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Poll `ready` every `every` until it holds, at most `within`; fails
    /// when the process exits first or the time is up (the process is then
    /// stopped with `self`).
    pub fn wait_until(
        mut self,
        name: &str,
        within: Duration,
        every: Duration,
        mut ready: impl FnMut(SocketAddr) -> bool,
    ) -> Result<LocalServer> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{name} exited at start ({status})");
            }
            if ready(self.addr) {
                return Ok(self);
            }
            ensure!(
                Instant::now() < deadline,
                "{name} did not answer on {}",
                self.addr
            );
            std::thread::sleep(every);
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
