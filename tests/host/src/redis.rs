//! Debian's `redis-server` on a loopback port, for the scale-out scenarios
//! (key-value on Redis through a runtime-config file), and a minimal RESP
//! client to look inside it.

use crate::local_server::LocalServer;
use anyhow::{bail, ensure, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// A running `redis-server`, stopped when dropped. Nothing is persisted.
pub struct RedisServer {
    server: LocalServer,
}

/// A RESP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resp {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$n` (`None` for the null bulk string).
    Bulk(Option<Vec<u8>>),
    /// `*n` (`None` for the null array).
    Array(Option<Vec<Resp>>),
}

impl RedisServer {
    /// Start `redis-server` (from `PATH`) on a free loopback port and wait
    /// (bounded) until it answers `PING`.
    pub fn start() -> Result<RedisServer> {
        let server = LocalServer::spawn("redis", Path::new("redis-server"), |cmd, port, dir| {
            cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--protected-mode",
                    "yes",
                ])
                .arg("--dir")
                .arg(dir)
                .stderr(Stdio::inherit());
            Ok(())
        })
        .context(
            "cannot run `redis-server` (Debian's redis-server package; tests/run.sh installs it)",
        )?
        .wait_until(
            "redis-server",
            Duration::from_secs(20),
            Duration::from_millis(50),
            |addr| command(addr, &["PING"]).ok() == Some(Resp::Simple("PONG".into())),
        )?;
        Ok(RedisServer { server })
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.server.addr())
    }

    /// Send one command, read its reply.
    pub fn command(&self, args: &[&str]) -> Result<Resp> {
        command(self.server.addr(), args)
    }

    /// Every key matching `pattern` (`KEYS`), sorted.
    pub fn keys(&self, pattern: &str) -> Result<Vec<String>> {
        match self.command(&["KEYS", pattern])? {
            Resp::Array(Some(items)) => {
                let mut keys: Vec<String> = items
                    .into_iter()
                    .filter_map(|i| match i {
                        Resp::Bulk(Some(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
                        _ => None,
                    })
                    .collect();
                keys.sort();
                Ok(keys)
            }
            other => bail!("KEYS answered {other:?}"),
        }
    }
}

/// Send one command to the server at `addr`, read its reply.
fn command(addr: SocketAddr, args: &[&str]) -> Result<Resp> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut req = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        req.extend_from_slice(a.as_bytes());
        req.extend_from_slice(b"\r\n");
    }
    s.write_all(&req)?;
    read_resp(&mut BufReader::new(s))
}

fn read_resp(r: &mut impl BufRead) -> Result<Resp> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let line = line.trim_end_matches("\r\n");
    ensure!(!line.is_empty(), "connection closed");
    let (kind, rest) = line.split_at(1);
    Ok(match kind {
        "+" => Resp::Simple(rest.to_string()),
        "-" => Resp::Error(rest.to_string()),
        ":" => Resp::Integer(rest.parse()?),
        "$" => {
            let n: i64 = rest.parse()?;
            if n < 0 {
                Resp::Bulk(None)
            } else {
                let mut buf = vec![0u8; n as usize + 2];
                r.read_exact(&mut buf)?;
                buf.truncate(n as usize);
                Resp::Bulk(Some(buf))
            }
        }
        "*" => {
            let n: i64 = rest.parse()?;
            if n < 0 {
                Resp::Array(None)
            } else {
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(read_resp(r)?);
                }
                Resp::Array(Some(items))
            }
        }
        _ => bail!("not a RESP reply: {line:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_resp_replies() {
        let mut r = BufReader::new(&b"*3\r\n$3\r\nfoo\r\n:7\r\n$-1\r\n"[..]);
        assert_eq!(
            read_resp(&mut r).unwrap(),
            Resp::Array(Some(vec![
                Resp::Bulk(Some(b"foo".to_vec())),
                Resp::Integer(7),
                Resp::Bulk(None)
            ]))
        );
        let mut r = BufReader::new(&b"-ERR unknown\r\n"[..]);
        assert_eq!(
            read_resp(&mut r).unwrap(),
            Resp::Error("ERR unknown".into())
        );
    }
}
