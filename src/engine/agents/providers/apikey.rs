//! What the API-key providers (Anthropic Messages, OpenAI Responses, Gemini) share: finding
//! the key, the base URL and the model; the availability check; posting a request and turning
//! its reply into a [`Reply`] through a protocol [`Decoder`].
//!
//! Invariants: the key is registered with the redactor the moment it is read and never
//! appears in `Debug` output, error text or labels; a provider with no key can be built (so
//! `clk providers` can say what to set) but refuses to dispatch with an `Auth` error before any
//! network traffic. The whole-dispatch timeout and cancel are applied by [`http::guard`] in each
//! provider's `dispatch`; everything here waits for bytes under the silence limit.

use std::time::Duration;

use super::http::{self, HttpVendor};
use super::{Availability, ErrorKind, OutputSink, ProviderError, Reply, Request};
use crate::engine::ground::config::{EnvLookup, ProviderSettings};

pub use http::Decoder;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `check` only opens a connection: `clk providers` must answer within a second.
const CHECK_CONNECT: Duration = Duration::from_millis(300);

/// One vendor's fixed facts.
#[derive(Debug, Clone, Copy)]
pub struct Vendor {
    /// For messages: "the Anthropic API".
    pub api: &'static str,
    /// Environment variables that hold the key, first found wins.
    pub key_vars: &'static [&'static str],
    /// The vendor's own base-URL variable (its SDKs and CLI honour it too).
    pub base_var: &'static str,
    pub default_base: &'static str,
    pub default_model: &'static str,
}

/// The resolved settings of one API-key provider, shared by the three protocols.
pub struct ApiTarget {
    /// Name, model and base URL (as resolved; each protocol appends its paths).
    pub endpoint: http::Endpoint,
    /// Ask for a streamed reply (the `stream` setting, default true).
    pub stream: bool,
    pub client: reqwest::Client,
    key: String,
    /// What to set when the key is missing or refused, e.g. "ANTHROPIC_API_KEY or
    /// CLK_CLAUDE_API_KEY".
    key_hint: String,
    api: &'static str,
}

// By hand, so the key never reaches a log through `{:?}`.
impl std::fmt::Debug for ApiTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiTarget")
            .field("endpoint", &self.endpoint)
            .field("stream", &self.stream)
            .field("key", &if self.key.is_empty() { "none" } else { "set" })
            .finish_non_exhaustive()
    }
}

impl ApiTarget {
    /// Resolve key, base URL and model: settings (providers.json, then `CLK_<NAME>_<FIELD>`)
    /// win over the vendor's own variables, which win over the built-in defaults.
    pub fn new(
        name: &str,
        settings: &ProviderSettings,
        env: EnvLookup<'_>,
        vendor: &Vendor,
    ) -> Result<ApiTarget, String> {
        let clk_var = format!("CLK_{}_API_KEY", super::env_name(name));
        let non_empty =
            |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let key = non_empty(settings.api_key.clone())
            .or_else(|| vendor.key_vars.iter().find_map(|var| non_empty(env(var))))
            .unwrap_or_default();
        crate::engine::ground::redact::register(&key);
        let base = non_empty(settings.endpoint.clone())
            .or_else(|| non_empty(env(vendor.base_var)))
            .unwrap_or_else(|| vendor.default_base.to_string());
        let base = http::base_url(name, &base)?;
        let model =
            non_empty(settings.model.clone()).unwrap_or_else(|| vendor.default_model.to_string());
        let stream = settings.stream.unwrap_or(true);
        let client = http::client(CONNECT_TIMEOUT).map_err(|e| format!("{name}: {e}"))?;
        Ok(ApiTarget {
            endpoint: http::Endpoint {
                name: name.to_string(),
                model,
                base,
            },
            stream,
            client,
            key,
            key_hint: format!("{} or {clk_var}", vendor.key_vars.join(" or ")),
            api: vendor.api,
        })
    }

    /// The key, for the request header. Never format it into text.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// "claude at https://api.anthropic.com", for messages.
    pub fn label(&self) -> String {
        self.endpoint.label()
    }

    /// The path part of the base URL ("" for a bare host).
    pub fn base_path(&self) -> &str {
        let after_scheme = self.endpoint.base.split_once("://").map_or("", |(_, r)| r);
        after_scheme.find('/').map_or("", |i| &after_scheme[i..])
    }

    fn no_key(&self) -> String {
        format!(
            "{}: no API key for {}; set {}",
            self.endpoint.name, self.api, self.key_hint
        )
    }

    /// An `Auth` error naming what to set when there is no key.
    pub fn require_key(&self) -> Result<(), ProviderError> {
        if self.key.is_empty() {
            Err(ProviderError::new(ErrorKind::Auth, self.no_key()))
        } else {
            Ok(())
        }
    }

    /// Usable when a key is set and the endpoint accepts a connection.
    pub async fn availability(&self) -> Availability {
        if self.key.is_empty() {
            return Availability::no(self.no_key());
        }
        match http::tcp_reachable(&self.endpoint.base, CHECK_CONNECT).await {
            Ok(()) => Availability::ok(),
            Err(e) => Availability::no(format!("{}: {e}", self.label())),
        }
    }

    /// Send `rb` (already carrying URL, key header and JSON body) and read the reply with
    /// `dec`. `usage_source` names the numbers when the protocol reported them.
    pub async fn call(
        &self,
        req: &Request,
        out: &OutputSink,
        rb: reqwest::RequestBuilder,
        dec: &mut dyn Decoder,
    ) -> Result<Reply, ProviderError> {
        let label = self.label();
        self.require_key()?;
        let refused_key = format!("check {}", self.key_hint);
        let hints = http::Hints {
            unreachable: "is the endpoint right?",
            refused_key: &refused_key,
            missing_model: "",
        };
        let resp = http::send(req, &label, rb, &hints).await?;
        http::read_reply(resp, req, &label, out, dec, &self.endpoint.model).await
    }
}

/// An API-key vendor: its resolved target and how it asks for one reply. Everything else of
/// an HTTP provider ([`HttpVendor`], and so [`super::Provider`]) follows from these two.
pub trait ApiVendor: Send + Sync {
    fn target(&self) -> &ApiTarget;

    /// The request for one prompt (URL, key header, JSON body) and the decoder of its reply.
    fn request(&self, req: &Request) -> (reqwest::RequestBuilder, Box<dyn Decoder>);
}

impl<T: ApiVendor> HttpVendor for T {
    fn endpoint(&self) -> &http::Endpoint {
        &self.target().endpoint
    }

    async fn call(&self, req: &Request, out: &OutputSink) -> Result<Reply, ProviderError> {
        let (rb, mut dec) = self.request(req);
        self.target().call(req, out, rb, dec.as_mut()).await
    }

    async fn availability(&self) -> Availability {
        self.target().availability().await
    }
}

/// An error a protocol reported inside a 200 reply (an error event or object), classified
/// from its HTTP-like code or its type name.
pub fn reported_error(label: &str, code: Option<u64>, kind: &str, message: &str) -> ProviderError {
    let lower = kind.to_ascii_lowercase();
    let by_code = code
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..600).contains(c))
        .map(|c| http::classify_status(c, message));
    let by_name = if [
        "rate_limit",
        "overloaded",
        "server_error",
        "api_error",
        "unavailable",
        "resource_exhausted",
        "internal",
    ]
    .iter()
    .any(|w| lower.contains(w))
    {
        ErrorKind::Retryable
    } else if [
        "authentication",
        "permission",
        "unauthenticated",
        "invalid_api_key",
    ]
    .iter()
    .any(|w| lower.contains(w))
    {
        ErrorKind::Auth
    } else if lower.contains("not_found") {
        ErrorKind::NotFound
    } else {
        ErrorKind::Fatal
    };
    let what = if kind.is_empty() {
        http::excerpt(message)
    } else {
        format!("{}: {}", kind, http::excerpt(message))
    };
    ProviderError::new(by_code.unwrap_or(by_name), format!("{label}: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VENDOR: Vendor = Vendor {
        api: "the Test API",
        key_vars: &["TEST_API_KEY", "OTHER_KEY"],
        base_var: "TEST_BASE_URL",
        default_base: "https://api.test.example",
        default_model: "test-1",
    };

    #[test]
    fn settings_win_over_vendor_variables_which_win_over_defaults() {
        let env = |k: &str| match k {
            "OTHER_KEY" => Some("other-key-123456".to_string()),
            "TEST_BASE_URL" => Some("http://127.0.0.1:9/".to_string()),
            _ => None,
        };
        let t = ApiTarget::new("vend", &ProviderSettings::default(), &env, &VENDOR).unwrap();
        assert_eq!(
            (t.key(), t.endpoint.base.as_str(), t.endpoint.model.as_str()),
            ("other-key-123456", "http://127.0.0.1:9", "test-1")
        );
        assert_eq!(t.base_path(), "");
        let s = ProviderSettings {
            api_key: Some("file-key-123456".into()),
            endpoint: Some("http://h:1/v1".into()),
            model: Some("m2".into()),
            ..Default::default()
        };
        let t = ApiTarget::new("vend", &s, &env, &VENDOR).unwrap();
        assert_eq!(
            (t.key(), t.endpoint.base.as_str(), t.endpoint.model.as_str()),
            ("file-key-123456", "http://h:1/v1", "m2")
        );
        assert_eq!(t.base_path(), "/v1");
        let t = ApiTarget::new("vend", &ProviderSettings::default(), &|_| None, &VENDOR).unwrap();
        assert_eq!(t.endpoint.base, "https://api.test.example");
        assert!(t.stream);
    }

    #[test]
    fn the_key_stays_out_of_debug_and_messages() {
        let env = |k: &str| (k == "TEST_API_KEY").then(|| "sekrit-key-98765".to_string());
        let t = ApiTarget::new("vend", &ProviderSettings::default(), &env, &VENDOR).unwrap();
        assert!(!format!("{t:?}").contains("sekrit"));
        let e = reported_error("l", None, "x", "bad key sekrit-key-98765");
        assert!(!e.message.contains("sekrit-key"), "{}", e.message);
    }

    #[tokio::test]
    async fn no_key_is_unusable_and_names_the_variables() {
        let t = ApiTarget::new("vend", &ProviderSettings::default(), &|_| None, &VENDOR).unwrap();
        let a = t.availability().await;
        assert!(!a.usable);
        assert_eq!(
            a.reason,
            "vend: no API key for the Test API; set TEST_API_KEY or OTHER_KEY or CLK_VEND_API_KEY"
        );
    }

    #[test]
    fn reported_errors_are_classified_by_code_then_type() {
        let k = |code, kind| reported_error("l", code, kind, "m").kind;
        assert_eq!(k(None, "overloaded_error"), ErrorKind::Retryable);
        assert_eq!(k(None, "rate_limit_error"), ErrorKind::Retryable);
        assert_eq!(k(None, "authentication_error"), ErrorKind::Auth);
        assert_eq!(k(None, "not_found_error"), ErrorKind::NotFound);
        assert_eq!(k(None, "invalid_request_error"), ErrorKind::Fatal);
        assert_eq!(k(Some(503), "UNAVAILABLE"), ErrorKind::Retryable);
        assert_eq!(k(Some(400), "INVALID_ARGUMENT"), ErrorKind::Fatal);
        let e = reported_error("claude at u", None, "overloaded_error", "Overloaded");
        assert_eq!(e.message, "claude at u: overloaded_error: Overloaded");
    }
}
