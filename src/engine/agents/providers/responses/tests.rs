//! The Responses grammar fed byte by byte, its failure events, and URL resolution.

use super::*;
use crate::engine::agents::providers::apikey::{decode_sse_bytewise, decode_sse_pieces};

/// A stream as the real API sends it (trimmed of fields clk ignores).
const STREAM: &str = concat!(
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

#[tokio::test]
async fn a_stream_split_at_every_byte_decodes_the_same() {
    for split in [1, 2, 3, 11, STREAM.len()] {
        let mut dec = ResponsesDecoder::new("t");
        let (text, lines) = decode_sse_bytewise(STREAM.as_bytes(), split, &mut dec)
            .await
            .unwrap();
        assert_eq!(text, "héllo\nworld ✓", "split {split}");
        assert_eq!(lines, ["héllo", "world ✓"]);
        let u = dec.usage().unwrap();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.cached_input_tokens),
            (50, 6, 40)
        );
        assert_eq!(u.source, USAGE_SOURCE);
        assert_eq!(dec.model().as_deref(), Some("gpt-x-2025"));
    }
}

#[tokio::test]
async fn a_completed_response_without_deltas_still_gives_its_text() {
    let only_done = &STREAM[STREAM.find("event: response.completed").unwrap()..];
    let mut dec = ResponsesDecoder::new("t");
    let (text, _) = decode_sse_bytewise(only_done.as_bytes(), 4, &mut dec)
        .await
        .unwrap();
    assert_eq!(text, "héllo\nworld ✓");
}

#[tokio::test]
async fn a_stream_without_completion_ended_early() {
    let cut = &STREAM[..STREAM.find("event: response.completed").unwrap()];
    let mut dec = ResponsesDecoder::new("t");
    let e = decode_sse_bytewise(cut.as_bytes(), 7, &mut dec)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Retryable);
    assert_eq!(e.message, "t: stream ended early (no response.completed)");
}

#[tokio::test]
async fn failed_responses_and_error_events_are_classified() {
    let cases = [
        (
            "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"boom\"}}}\n\n",
            ErrorKind::Retryable,
            "t: server_error: boom",
        ),
        (
            "event: error\ndata: {\"type\":\"error\",\"code\":\"invalid_prompt\",\"message\":\"bad\"}\n\n",
            ErrorKind::Fatal,
            "t: invalid_prompt: bad",
        ),
        (
            "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow\"}\n\n",
            ErrorKind::Retryable,
            "t: rate_limit_exceeded: slow",
        ),
    ];
    for (s, kind, msg) in cases {
        let mut dec = ResponsesDecoder::new("t");
        let e = decode_sse_bytewise(s.as_bytes(), 1, &mut dec)
            .await
            .unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (kind, msg));
    }
}

#[test]
fn urls_follow_the_base_in_any_form() {
    let url = |base: &str| {
        let s = ProviderSettings {
            endpoint: Some(base.into()),
            ..Default::default()
        };
        ResponsesProvider::with_env("codex", &s, &|_| None)
            .unwrap()
            .url()
            .to_string()
    };
    assert_eq!(url("http://h:1"), "http://h:1/v1/responses");
    assert_eq!(url("http://h:1/v1/"), "http://h:1/v1/responses");
    assert_eq!(url("http://h:1/v1/responses"), "http://h:1/v1/responses");
    assert_eq!(
        url("http://h:1/openai/v1"),
        "http://h:1/openai/v1/responses"
    );
    let env = |k: &str| (k == "OPENAI_BASE_URL").then(|| "http://o:2/v1".to_string());
    let p = ResponsesProvider::with_env("codex", &ProviderSettings::default(), &env).unwrap();
    assert_eq!(p.url(), "http://o:2/v1/responses");
    let chat = OpenAiChatProvider::with_env("codex", &ProviderSettings::default(), &env).unwrap();
    assert_eq!(chat.chat_url(), "http://o:2/v1/chat/completions");
}

#[tokio::test]
async fn a_stream_cut_in_two_at_every_byte_decodes_the_same() {
    let bytes = STREAM.as_bytes();
    for k in 1..bytes.len() {
        let mut dec = ResponsesDecoder::new("t");
        let (text, _) = decode_sse_pieces(vec![&bytes[..k], &bytes[k..]], &mut dec)
            .await
            .unwrap_or_else(|e| panic!("cut at {k}: {e}"));
        assert_eq!(text, "héllo\nworld ✓", "cut at {k}");
        assert!(dec.usage().is_some(), "cut at {k}");
    }
}
