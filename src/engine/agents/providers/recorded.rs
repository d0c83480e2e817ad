//! Every JSON reply grammar against its recorded stream, as one table: split at any size or
//! cut in two anywhere, each decodes to the same text, usage and model; cut before its final
//! marker, each ends early; and the failures each protocol reports inside a 200 reply are
//! classified.

use std::sync::{Arc, Mutex};

use super::anthropic::{self, MessagesDecoder};
use super::gemini::{self, GeminiDecoder};
use super::http::{self, Decoder};
use super::openwebui::wire::ChatDecoder;
use super::responses::{self, ResponsesDecoder};
use super::{ErrorKind, OutputSink, ProviderError};

/// Anthropic Messages as the real API sends it (with a ping and cache counts).
const ANTHROPIC: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",",
    "\"role\":\"assistant\",\"model\":\"claude-x-1\",\"content\":[],\"stop_reason\":null,",
    "\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":30,",
    "\"cache_creation_input_tokens\":2,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: ping\ndata: {\"type\": \"ping\"}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"héllo\\nwo\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"rld ✓\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":7}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

/// Gemini chunks as Google sends them: CRLF framing, usage on every chunk, thinking counted.
const GEMINI: &str = concat!(
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"héllo\\nwo\"}],",
    "\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,",
    "\"totalTokenCount\": 9},\"modelVersion\": \"gemini-x\",\"responseId\": \"r1\"}\r\n\r\n",
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"thinking\", \"thought\": true},",
    "{\"text\": \"rld ✓\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],",
    "\"usageMetadata\": {\"promptTokenCount\": 9,\"candidatesTokenCount\": 3,",
    "\"thoughtsTokenCount\": 4,\"cachedContentTokenCount\": 2,\"totalTokenCount\": 16},",
    "\"modelVersion\": \"gemini-x\",\"responseId\": \"r1\"}\r\n\r\n",
);

/// OpenAI Responses as the real API sends it (trimmed of fields clk ignores).
const RESPONSES: &str = concat!(
    "event: response.created\n",
    "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",",
    "\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"gpt-x-2025\",\"output\":[],\"usage\":null}}\n\n",
    "event: response.output_item.added\n",
    "data: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,",
    "\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}\n\n",
    "event: response.output_text.delta\n",
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":2,\"item_id\":\"msg_1\",",
    "\"output_index\":0,\"content_index\":0,\"delta\":\"héllo\\nwo\"}\n\n",
    "event: response.output_text.delta\n",
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":3,\"item_id\":\"msg_1\",",
    "\"output_index\":0,\"content_index\":0,\"delta\":\"rld ✓\"}\n\n",
    "event: response.output_text.done\n",
    "data: {\"type\":\"response.output_text.done\",\"sequence_number\":4,\"text\":\"héllo\\nworld ✓\"}\n\n",
    "event: response.completed\n",
    "data: {\"type\":\"response.completed\",\"sequence_number\":5,\"response\":{\"id\":\"resp_1\",",
    "\"status\":\"completed\",\"model\":\"gpt-x-2025\",\"output\":[{\"type\":\"message\",\"role\":\"assistant\",",
    "\"content\":[{\"type\":\"output_text\",\"text\":\"héllo\\nworld ✓\",\"annotations\":[]}]}],",
    "\"usage\":{\"input_tokens\":50,\"input_tokens_details\":{\"cached_tokens\":40},",
    "\"output_tokens\":6,\"output_tokens_details\":{\"reasoning_tokens\":2},\"total_tokens\":56}}}\n\n",
);

/// Chat completions with `include_usage`: the usage chunk comes after the finish, then [DONE].
const CHAT: &str = concat!(
    "data: {\"model\":\"gpt-c\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"héllo\\nwo\"},\"finish_reason\":null}]}\n\n",
    "data: {\"model\":\"gpt-c\",\"choices\":[{\"delta\":{\"content\":\"rld ✓\"},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"model\":\"gpt-c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,",
    "\"prompt_tokens_details\":{\"cached_tokens\":5}}}\n\n",
    "data: [DONE]\n\n",
);

/// One grammar's recorded stream and what its decoder must make of it.
struct Recorded {
    decoder: fn() -> Box<dyn Decoder>,
    stream: &'static str,
    /// Input, output and cached input tokens.
    usage: (u64, u64, u64),
    source: &'static str,
    model: &'static str,
    /// Where the event that finishes the reply begins.
    final_at: &'static str,
    /// What a stream cut there says is missing.
    missing: &'static str,
}

const RECORDED: [Recorded; 4] = [
    Recorded {
        decoder: || Box::new(MessagesDecoder::new("t")),
        stream: ANTHROPIC,
        usage: (42, 7, 30),
        source: anthropic::USAGE_SOURCE,
        model: "claude-x-1",
        final_at: "event: message_stop",
        missing: "no message_stop",
    },
    Recorded {
        decoder: || Box::new(GeminiDecoder::new("t")),
        stream: GEMINI,
        usage: (9, 7, 2),
        source: gemini::USAGE_SOURCE,
        model: "gemini-x",
        final_at: "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"thinking\"",
        missing: "no finishReason",
    },
    Recorded {
        decoder: || Box::new(ResponsesDecoder::new("t")),
        stream: RESPONSES,
        usage: (50, 6, 40),
        source: responses::USAGE_SOURCE,
        model: "gpt-x-2025",
        final_at: "event: response.completed",
        missing: "no response.completed",
    },
    Recorded {
        decoder: || Box::new(ChatDecoder::new("t")),
        stream: CHAT,
        usage: (9, 2, 5),
        source: "openai-usage",
        model: "gpt-c",
        final_at: "data: {\"model\":\"gpt-c\",\"choices\":[{\"delta\":{\"content\":\"rld",
        missing: "no [DONE] and no finish_reason",
    },
];

/// Decode an SSE reply delivered as exactly these pieces; returns the text and the lines the
/// sink saw.
async fn decode(
    pieces: Vec<&[u8]>,
    dec: &mut dyn Decoder,
) -> Result<(String, Vec<String>), ProviderError> {
    let pieces: Vec<Result<Vec<u8>, reqwest::Error>> =
        pieces.into_iter().map(|c| Ok(c.to_vec())).collect();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let out = OutputSink::new(move |_, l| s2.lock().unwrap().push(l.to_string()));
    let events = http::SseEvents::new(futures_util::stream::iter(pieces), None, "t");
    let text = http::read_sse(events, "t", &out, dec).await?;
    let lines = seen.lock().unwrap().clone();
    Ok((text, lines))
}

/// Decode `text` delivered in pieces of `split` bytes, so frames and UTF-8 characters are cut.
async fn decode_split(
    text: &str,
    split: usize,
    dec: &mut dyn Decoder,
) -> Result<(String, Vec<String>), ProviderError> {
    decode(text.as_bytes().chunks(split.max(1)).collect(), dec).await
}

#[tokio::test]
async fn every_stream_split_at_any_size_decodes_the_same() {
    for r in &RECORDED {
        for split in [1, 2, 3, 5, 7, 11, r.stream.len()] {
            let mut dec = (r.decoder)();
            let (text, lines) = decode_split(r.stream, split, dec.as_mut()).await.unwrap();
            assert_eq!(text, "héllo\nworld ✓", "{} split {split}", r.model);
            assert_eq!(lines, ["héllo", "world ✓"], "{}", r.model);
            let facts = dec.facts();
            let u = facts.usage.as_ref().unwrap();
            let counts = (u.input_tokens, u.output_tokens, u.cached_input_tokens);
            assert_eq!(counts, r.usage, "{}", r.model);
            assert_eq!(u.source, r.source);
            assert_eq!(facts.model.as_deref(), Some(r.model));
        }
    }
}

#[tokio::test]
async fn every_stream_cut_in_two_at_every_byte_decodes_the_same() {
    for r in &RECORDED {
        let bytes = r.stream.as_bytes();
        for k in 1..bytes.len() {
            let mut dec = (r.decoder)();
            let (text, _) = decode(vec![&bytes[..k], &bytes[k..]], dec.as_mut())
                .await
                .unwrap_or_else(|e| panic!("{} cut at {k}: {e}", r.model));
            assert_eq!(text, "héllo\nworld ✓", "{} cut at {k}", r.model);
            assert!(dec.facts().usage.is_some(), "{} cut at {k}", r.model);
        }
    }
}

#[tokio::test]
async fn a_stream_without_its_final_marker_ended_early() {
    for r in &RECORDED {
        let cut = &r.stream[..r.stream.find(r.final_at).unwrap()];
        let mut dec = (r.decoder)();
        let e = decode_split(cut, 5, dec.as_mut()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Retryable, "{}", r.model);
        assert_eq!(e.message, format!("t: stream ended early ({})", r.missing));
    }
}

#[tokio::test]
async fn failures_inside_a_reply_are_classified() {
    let anthropic = || -> Box<dyn Decoder> { Box::new(MessagesDecoder::new("t")) };
    let gemini = || -> Box<dyn Decoder> { Box::new(GeminiDecoder::new("t")) };
    let responses = || -> Box<dyn Decoder> { Box::new(ResponsesDecoder::new("t")) };
    let chat = || -> Box<dyn Decoder> { Box::new(ChatDecoder::new("t")) };
    type Case = (
        fn() -> Box<dyn Decoder>,
        &'static str,
        ErrorKind,
        &'static str,
    );
    let cases: [Case; 8] = [
        (
            anthropic,
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
            ErrorKind::Retryable,
            "t: overloaded_error: Overloaded",
        ),
        (
            gemini,
            "data: {\"error\": {\"code\": 503, \"message\": \"overloaded\", \"status\": \"UNAVAILABLE\"}}\r\n\r\n",
            ErrorKind::Retryable,
            "t: UNAVAILABLE: overloaded",
        ),
        (
            gemini,
            "data: {\"promptFeedback\": {\"blockReason\": \"SAFETY\"}}\n\n",
            ErrorKind::Fatal,
            "t: the prompt was blocked (SAFETY)",
        ),
        (
            gemini,
            "data: {\"candidates\": [{\"finishReason\": \"SAFETY\", \"index\": 0}]}\n\n",
            ErrorKind::Fatal,
            "t: the model stopped without an answer (SAFETY)",
        ),
        (
            responses,
            "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"boom\"}}}\n\n",
            ErrorKind::Retryable,
            "t: server_error: boom",
        ),
        (
            responses,
            "event: error\ndata: {\"type\":\"error\",\"code\":\"invalid_prompt\",\"message\":\"bad\"}\n\n",
            ErrorKind::Fatal,
            "t: invalid_prompt: bad",
        ),
        (
            responses,
            "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow\"}\n\n",
            ErrorKind::Retryable,
            "t: rate_limit_exceeded: slow",
        ),
        (
            chat,
            "data: {\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\"}}\n\n",
            ErrorKind::Retryable,
            "t: slow down",
        ),
    ];
    for (decoder, stream, kind, message) in cases {
        for split in [1, 2, stream.len()] {
            let mut dec = decoder();
            let e = decode_split(stream, split, dec.as_mut()).await.unwrap_err();
            assert_eq!(
                (e.kind, e.message.as_str()),
                (kind, message),
                "split {split}"
            );
        }
    }
}

#[tokio::test]
async fn a_completed_response_without_deltas_still_gives_its_text() {
    let only_done = &RESPONSES[RESPONSES.find("event: response.completed").unwrap()..];
    let mut dec = ResponsesDecoder::new("t");
    let (text, _) = decode_split(only_done, 4, &mut dec).await.unwrap();
    assert_eq!(text, "héllo\nworld ✓");
}
