//! The mock server's HTTP/1.1: reading one request and writing one scripted answer.
//!
//! Deliberately minimal and byte-exact: one request per connection, `Connection: close`, a
//! Content-Length or chunked or close-delimited body, written in the pieces the script asks
//! for, so tests can cut, split and stall replies where they want.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::render::{self, Call, Protocol, Rendered};
use super::{Framing, Recorded, Reply};

/// What to send, decided under the lock, written without it.
pub struct Plan {
    pub reply: Reply,
    pub protocol: Option<Protocol>,
    /// The request path (Gemini names the model there).
    pub path: String,
    pub body: Option<Value>,
    pub framing: Framing,
    pub write_size: Option<usize>,
}

/// Read one request: request line, headers, and a Content-Length body. None on garbage.
pub async fn read_request(sock: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    body.truncate(len);
    let body = String::from_utf8_lossy(&body).into_owned();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    Some(Recorded {
        protocol: Protocol::from_request(&method, &path, &query),
        json: serde_json::from_str(&body).ok(),
        method,
        path,
        query,
        headers,
        body,
        at: Instant::now(),
    })
}

pub async fn respond(sock: &mut TcpStream, plan: Plan) -> std::io::Result<()> {
    let mut pause = 0;
    let mut reply = plan.reply;
    let reply = loop {
        match reply {
            Reply::Delay { ms, then } => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                reply = *then;
            }
            Reply::Paced { pause_ms, then } => {
                pause = pause_ms;
                reply = *then;
            }
            other => break other,
        }
    };
    let w = Writer {
        framing: plan.framing,
        write_size: plan.write_size,
        pause: Duration::from_millis(pause),
    };
    let protocol = plan.protocol.unwrap_or(Protocol::OpenAiChat);
    let call = Call {
        protocol,
        body: plan.body.as_ref(),
        path: &plan.path,
    };
    match reply {
        // Both were unwrapped by the loop above.
        Reply::Delay { .. } | Reply::Paced { .. } => Ok(()),
        Reply::Stall => std::future::pending().await,
        Reply::StallAfterHeaders => {
            let ct = protocol.content_type(true);
            sock.write_all(head(200, ct, plan.framing, None, &[]).as_bytes())
                .await?;
            sock.flush().await?;
            std::future::pending().await
        }
        Reply::StatusRetryAfter {
            code,
            body,
            retry_after,
        } => {
            let body = match plan.protocol {
                Some(p) if p.wraps_errors() && serde_json::from_str::<Value>(&body).is_err() => {
                    render::error_body(p, code, &body)
                }
                Some(_) | None => body,
            };
            let extra = [("Retry-After", retry_after.as_str())];
            w.whole(
                sock,
                code,
                "application/json",
                body.as_bytes(),
                &extra,
                None,
            )
            .await
        }
        Reply::Status { code, body } => {
            let body = match plan.protocol {
                Some(p) if p.wraps_errors() && serde_json::from_str::<Value>(&body).is_err() => {
                    render::error_body(p, code, &body)
                }
                Some(_) | None => body,
            };
            let ct = if serde_json::from_str::<Value>(&body).is_ok() {
                "application/json"
            } else {
                "text/plain"
            };
            let extra: &[(&str, &str)] = if code == 429 || code == 503 {
                &[("Retry-After", "1")]
            } else {
                &[]
            };
            w.whole(sock, code, ct, body.as_bytes(), extra, None).await
        }
        Reply::Raw {
            code,
            content_type,
            body,
        } => {
            w.whole(sock, code, &content_type, body.as_bytes(), &[], None)
                .await
        }
        Reply::Text {
            text,
            usage,
            chunk_size,
        } => {
            let r = render::text(&call, &text, usage, chunk_size);
            w.rendered(sock, &r, None).await
        }
        Reply::Tools { text, calls } => {
            let r = render::tools(&call, &text, &calls);
            w.rendered(sock, &r, None).await
        }
        Reply::CutAfter { text, bytes } => {
            let r = render::text(&call, &text, None, 4);
            w.rendered(sock, &r, Some(bytes)).await
        }
        Reply::FailMidStream {
            text,
            code,
            message,
        } => {
            let r = render::fail_mid_stream(&call, &text, code, &message);
            if r.stream {
                w.rendered(sock, &r, None).await
            } else {
                let body = r.frames.concat();
                w.whole(sock, code, r.content_type, &body, &[], None).await
            }
        }
    }
}

/// The status line and headers. `length` None means a streamed body framed by `framing`.
fn head(
    code: u16,
    ct: &str,
    framing: Framing,
    length: Option<usize>,
    extra: &[(&str, &str)],
) -> String {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    };
    let mut h = format!("HTTP/1.1 {code} {reason}\r\nContent-Type: {ct}\r\nConnection: close\r\n");
    match (length, framing) {
        (Some(n), _) => h.push_str(&format!("Content-Length: {n}\r\n")),
        (None, Framing::Chunked) => h.push_str("Transfer-Encoding: chunked\r\n"),
        (None, Framing::Close) => h.push_str("Cache-Control: no-cache\r\n"),
    }
    for (n, v) in extra {
        h.push_str(&format!("{n}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h
}

struct Writer {
    framing: Framing,
    write_size: Option<usize>,
    pause: Duration,
}

impl Writer {
    async fn rendered(
        &self,
        sock: &mut TcpStream,
        r: &Rendered,
        cut: Option<usize>,
    ) -> std::io::Result<()> {
        if !r.stream {
            return self
                .whole(sock, 200, r.content_type, &r.frames.concat(), &[], cut)
                .await;
        }
        sock.write_all(head(200, r.content_type, self.framing, None, &[]).as_bytes())
            .await?;
        let chunked = self.framing == Framing::Chunked;
        self.body(sock, self.pieces(&r.frames, cut), chunked)
            .await?;
        if cut.is_none() && chunked {
            sock.write_all(b"0\r\n\r\n").await?;
        }
        sock.shutdown().await
    }

    /// A body with Content-Length; with `cut`, only that many bytes of it, then close.
    async fn whole(
        &self,
        sock: &mut TcpStream,
        code: u16,
        ct: &str,
        body: &[u8],
        extra: &[(&str, &str)],
        cut: Option<usize>,
    ) -> std::io::Result<()> {
        sock.write_all(head(code, ct, self.framing, Some(body.len()), extra).as_bytes())
            .await?;
        self.body(sock, self.pieces(&[body.to_vec()], cut), false)
            .await?;
        sock.shutdown().await
    }

    /// Frames as written: re-split by `write_size`, then cut to `cut` bytes in total.
    fn pieces(&self, frames: &[Vec<u8>], cut: Option<usize>) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = match self.write_size {
            Some(n) => frames.concat().chunks(n).map(<[u8]>::to_vec).collect(),
            None => frames.to_vec(),
        };
        if let Some(mut left) = cut {
            out.retain_mut(|p| {
                let keep = left > 0;
                p.truncate(left);
                left -= p.len();
                keep
            });
        }
        out
    }

    async fn body(
        &self,
        sock: &mut TcpStream,
        pieces: Vec<Vec<u8>>,
        chunked: bool,
    ) -> std::io::Result<()> {
        for p in pieces.iter().filter(|p| !p.is_empty()) {
            if chunked {
                let mut framed = format!("{:x}\r\n", p.len()).into_bytes();
                framed.extend_from_slice(p);
                framed.extend_from_slice(b"\r\n");
                sock.write_all(&framed).await?;
            } else {
                sock.write_all(p).await?;
            }
            sock.flush().await?;
            if self.pause.is_zero() {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(self.pause).await;
            }
        }
        Ok(())
    }
}
