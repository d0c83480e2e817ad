//! Reading reply bodies under the silence limit: NDJSON lines (Ollama), server-sent events
//! (OpenAI-compatible), and whole bodies.
//!
//! Invariants: every wait for bytes goes through [`idle`]; a transport error in the middle of
//! a body is a retryable "stream ended early"; bytes are joined before they are decoded, so a
//! UTF-8 character or a frame split between network reads arrives whole; a streamed reply
//! larger than [`MAX_STREAM_BYTES`] (the shell provider's cap) is refused and the stream is
//! closed at the cap, so a server cannot fill clk's memory.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use eventsource_stream::{Event, EventStream, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};

use super::{describe_error, ended_early, excerpt, idle};
use crate::engine::agents::providers::{ErrorKind, ProviderError};

/// Read at most `limit` bytes of a (usually error) body; a failure just ends the text.
pub async fn read_some(
    mut resp: reqwest::Response,
    limit: usize,
    idle_limit: Option<Duration>,
) -> String {
    let mut buf = Vec::new();
    while buf.len() < limit {
        match idle(idle_limit, "", resp.chunk()).await {
            Ok(Ok(Some(chunk))) => buf.extend_from_slice(&chunk),
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break,
        }
    }
    buf.truncate(limit);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The whole body, under the silence limit; a cut body is a retryable early end, and one
/// larger than `max` bytes is not a reply this protocol sends.
pub async fn read_all(
    mut resp: reqwest::Response,
    idle_limit: Option<Duration>,
    label: &str,
    max: usize,
) -> Result<Vec<u8>, ProviderError> {
    let mut buf = Vec::new();
    while let Some(chunk) = idle(idle_limit, label, resp.chunk())
        .await?
        .map_err(|e| ended_early(label, &describe_error(&e)))?
    {
        buf.extend_from_slice(&chunk);
        if buf.len() > max {
            return Err(ProviderError::new(
                ErrorKind::BadReply,
                format!("{label}: reply larger than {} MiB", max >> 20),
            ));
        }
    }
    Ok(buf)
}

/// Most bytes one streamed reply may send, framing included; the stream is closed there.
pub const MAX_STREAM_BYTES: usize = 8 << 20;

fn too_large(label: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::BadReply,
        format!(
            "{label}: streamed reply larger than {} MiB; the stream was closed and the reply \
             not used",
            MAX_STREAM_BYTES >> 20
        ),
    )
}

/// Longest NDJSON line accepted; a server sending more without a newline is not speaking NDJSON.
const MAX_LINE_BYTES: usize = 16 << 20;

/// Newline-delimited JSON lines out of a byte stream, under the silence limit.
pub struct NdjsonLines<S> {
    inner: Pin<Box<S>>,
    buf: Vec<u8>,
    /// Bytes received so far.
    total: usize,
    ended: bool,
    idle: Option<Duration>,
    label: String,
}

impl<S, B> NdjsonLines<S>
where
    S: Stream<Item = Result<B, reqwest::Error>>,
    B: AsRef<[u8]>,
{
    pub fn new(stream: S, idle: Option<Duration>, label: &str) -> Self {
        NdjsonLines {
            inner: Box::pin(stream),
            buf: Vec::new(),
            total: 0,
            ended: false,
            idle,
            label: label.to_string(),
        }
    }

    /// True once the byte stream ended: a line returned now had no closing newline.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The next non-empty line, or None when the stream ended. Bytes are split only at `\n`,
    /// so a UTF-8 character cut between network reads is whole again here.
    pub async fn next_line(&mut self) -> Result<Option<String>, ProviderError> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let text = String::from_utf8_lossy(&line);
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                return Ok(Some(text.to_string()));
            }
            if self.ended {
                let rest = std::mem::take(&mut self.buf);
                let text = String::from_utf8_lossy(&rest).trim().to_string();
                return Ok((!text.is_empty()).then_some(text));
            }
            if self.buf.len() > MAX_LINE_BYTES {
                return Err(ProviderError::new(
                    ErrorKind::BadReply,
                    format!("{}: a reply line longer than 16 MiB", self.label),
                ));
            }
            match idle(self.idle, &self.label, self.inner.next()).await? {
                Some(Ok(chunk)) => {
                    self.total += chunk.as_ref().len();
                    if self.total > MAX_STREAM_BYTES {
                        return Err(too_large(&self.label));
                    }
                    self.buf.extend_from_slice(chunk.as_ref())
                }
                Some(Err(e)) => return Err(ended_early(&self.label, &describe_error(&e))),
                None => self.ended = true,
            }
        }
    }
}

/// Server-sent events out of a byte stream, under the silence limit.
pub struct SseEvents<S: Stream> {
    inner: Pin<Box<EventStream<Capped<S>>>>,
    /// Bytes the server sent so far; past the cap the byte stream ends.
    total: Arc<AtomicUsize>,
    idle: Option<Duration>,
    label: String,
}

/// Counts the bytes of each item that passes.
type Counter<I> = Box<dyn FnMut(&I) + Send>;
/// Lets items through while the count is within the cap.
type Within<I> = Box<dyn FnMut(&I) -> std::future::Ready<bool> + Send>;
/// A byte stream that ends after [`MAX_STREAM_BYTES`], counting what passed.
type Capped<S> = futures_util::stream::TakeWhile<
    futures_util::stream::Inspect<S, Counter<<S as Stream>::Item>>,
    std::future::Ready<bool>,
    Within<<S as Stream>::Item>,
>;

impl<S, B> SseEvents<S>
where
    S: Stream<Item = Result<B, reqwest::Error>>,
    B: AsRef<[u8]>,
{
    pub fn new(stream: S, idle: Option<Duration>, label: &str) -> Self {
        let total = Arc::new(AtomicUsize::new(0));
        let (seen, check) = (total.clone(), total.clone());
        let count: Counter<S::Item> = Box::new(move |item: &S::Item| {
            if let Ok(b) = item {
                seen.fetch_add(b.as_ref().len(), Ordering::Relaxed);
            }
        });
        let within: Within<S::Item> = Box::new(move |_| {
            std::future::ready(check.load(Ordering::Relaxed) <= MAX_STREAM_BYTES)
        });
        SseEvents {
            inner: Box::pin(stream.inspect(count).take_while(within).eventsource()),
            total,
            idle,
            label: label.to_string(),
        }
    }

    /// The next event, or None when the stream ended.
    pub async fn next_event(&mut self) -> Result<Option<Event>, ProviderError> {
        let next = idle(self.idle, &self.label, self.inner.next()).await?;
        if self.total.load(Ordering::Relaxed) > MAX_STREAM_BYTES {
            return Err(too_large(&self.label));
        }
        match next {
            None => Ok(None),
            Some(Ok(ev)) => Ok(Some(ev)),
            Some(Err(EventStreamError::Transport(e))) => {
                Err(ended_early(&self.label, &describe_error(&e)))
            }
            Some(Err(EventStreamError::Utf8(e))) => Err(ProviderError::new(
                ErrorKind::BadReply,
                format!("{}: event stream is not UTF-8: {e}", self.label),
            )),
            Some(Err(EventStreamError::Parser(e))) => Err(ProviderError::new(
                ErrorKind::BadReply,
                format!(
                    "{}: not an event stream: {}",
                    self.label,
                    excerpt(&e.to_string())
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&[u8]]) -> impl Stream<Item = Result<Vec<u8>, reqwest::Error>> + use<> {
        let owned: Vec<Result<Vec<u8>, reqwest::Error>> =
            parts.iter().map(|p| Ok(p.to_vec())).collect();
        futures_util::stream::iter(owned)
    }

    #[tokio::test]
    async fn ndjson_lines_survive_any_chunking() {
        let mut r = NdjsonLines::new(
            chunks(&[b"{\"a\":\"\xc3", b"\xa9\"}\n\n{\"b\"", b":1}\r\n{\"c\":2}"]),
            None,
            "t",
        );
        assert_eq!(r.next_line().await.unwrap().unwrap(), "{\"a\":\"é\"}");
        assert_eq!(r.next_line().await.unwrap().unwrap(), "{\"b\":1}");
        assert_eq!(r.next_line().await.unwrap().unwrap(), "{\"c\":2}");
        assert_eq!(r.next_line().await.unwrap(), None);
    }

    #[tokio::test]
    async fn sse_frames_split_across_reads_are_joined() {
        let mut r = SseEvents::new(
            chunks(&[b"data: {\"x\"", b":1}\n", b"\ndata: [DONE]\n\n"]),
            None,
            "t",
        );
        assert_eq!(r.next_event().await.unwrap().unwrap().data, "{\"x\":1}");
        assert_eq!(r.next_event().await.unwrap().unwrap().data, "[DONE]");
        assert!(r.next_event().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_stream_past_the_cap_is_refused_and_closed() {
        let big = vec![b'x'; 1 << 20];
        let frame = [b"data: ".as_slice(), &big, b"\n\n"].concat();
        let parts: Vec<&[u8]> = std::iter::repeat_n(frame.as_slice(), 20).collect();
        let mut r = SseEvents::new(chunks(&parts), None, "t");
        let mut events = 0;
        let err = loop {
            match r.next_event().await {
                Ok(Some(_)) => events += 1,
                Ok(None) => panic!("the stream ended without an error"),
                Err(e) => break e,
            }
        };
        assert!(events <= 8, "{events}");
        assert_eq!(err.kind, ErrorKind::BadReply);
        assert!(err.message.contains("larger than 8 MiB"), "{}", err.message);

        let line = [big.as_slice(), b"\n"].concat();
        let parts: Vec<&[u8]> = std::iter::repeat_n(line.as_slice(), 20).collect();
        let mut r = NdjsonLines::new(chunks(&parts), None, "t");
        let err = loop {
            match r.next_line().await {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the stream ended without an error"),
                Err(e) => break e,
            }
        };
        assert!(err.message.contains("larger than 8 MiB"), "{}", err.message);
    }

    #[tokio::test]
    async fn silence_longer_than_the_idle_limit_is_a_timeout() {
        let pending = futures_util::stream::pending::<Result<Vec<u8>, reqwest::Error>>();
        let mut r = NdjsonLines::new(pending, Some(Duration::from_millis(20)), "t");
        let e = r.next_line().await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert_eq!(e.message, "t: no output for 20 ms");
    }
}
