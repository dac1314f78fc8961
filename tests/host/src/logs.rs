//! Captured output: each guest's stdout and stderr, line by line, and the
//! host's own events (traps, timeouts, refused outbound requests).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// One captured line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The component (or `host`).
    pub component: String,
    /// `stdout`, `stderr` or `host`.
    pub stream: String,
    /// The text, without its newline.
    pub line: String,
}

/// Everything a host captured.
#[derive(Debug, Default)]
pub struct Logs {
    lines: Mutex<Vec<LogLine>>,
}

/// Lines kept per host before the oldest are dropped.
const MAX_LINES: usize = 20_000;

impl Logs {
    fn push(&self, component: &str, stream: &str, line: String) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() >= MAX_LINES {
            lines.drain(..MAX_LINES / 10);
        }
        lines.push(LogLine {
            component: component.to_string(),
            stream: stream.to_string(),
            line,
        });
    }

    /// Record a host event about `component`.
    pub fn host(&self, component: &str, message: &str) {
        self.push(component, "host", message.to_string());
    }

    /// A copy of every line so far.
    pub fn lines(&self) -> Vec<LogLine> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Every line as `[component stream] text`, one per line.
    pub fn text(&self) -> String {
        self.lines()
            .iter()
            .map(|l| format!("[{} {}] {}\n", l.component, l.stream, l.line))
            .collect()
    }
}

/// A guest output stream that appends whole lines to [`Logs`].
#[derive(Clone)]
pub struct LogSink {
    logs: Arc<Logs>,
    component: Arc<str>,
    stream: &'static str,
}

impl LogSink {
    /// A sink for `component`'s `stream`.
    pub fn new(logs: Arc<Logs>, component: &str, stream: &'static str) -> LogSink {
        LogSink {
            logs,
            component: component.into(),
            stream,
        }
    }
}

struct SinkWriter {
    sink: LogSink,
    partial: Vec<u8>,
}

impl SinkWriter {
    fn flush_lines(&mut self, all: bool) {
        while let Some(i) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1])
                .trim_end_matches('\r')
                .to_string();
            self.sink
                .logs
                .push(&self.sink.component, self.sink.stream, text);
        }
        if all && !self.partial.is_empty() {
            let text = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            self.sink
                .logs
                .push(&self.sink.component, self.sink.stream, text);
        }
    }
}

impl Drop for SinkWriter {
    fn drop(&mut self) {
        self.flush_lines(true);
    }
}

impl AsyncWrite for SinkWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.partial.extend_from_slice(buf);
        self.flush_lines(false);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.flush_lines(true);
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for LogSink {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogSink {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(SinkWriter {
            sink: self.clone(),
            partial: Vec::new(),
        })
    }
}
