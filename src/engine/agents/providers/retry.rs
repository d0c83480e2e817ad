//! Retrying provider calls: exponential backoff with jitter, for retryable errors only.
//!
//! Each retry is reported through a callback (the dispatcher turns it into a `ProviderRetry`
//! event), so a down endpoint is never minutes of silent waiting. Cancelling stops the wait.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{ErrorKind, ProviderError};
use crate::engine::ground::config::RetryConfig;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// The longest a server's `Retry-After` may make us wait (the provider's time limit).
    pub retry_after_cap: Duration,
}

impl RetryPolicy {
    pub fn from_config(c: &RetryConfig) -> Self {
        RetryPolicy {
            max_retries: c.max_retries,
            backoff_ms: c.backoff_ms,
            max_backoff_ms: c.max_backoff_ms.max(c.backoff_ms),
            retry_after_cap: Duration::from_millis(c.max_backoff_ms.max(c.backoff_ms)),
        }
    }

    /// The same policy, letting a `Retry-After` wait up to `cap` (the provider's time limit).
    pub fn with_retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            backoff_ms: 0,
            max_backoff_ms: 0,
            retry_after_cap: Duration::ZERO,
        }
    }

    /// The pause before retry number `retry` (1-based): backoff·2^(retry−1), capped, then
    /// scaled by a jitter factor between 0.8 and 1.2 derived from `seed`.
    pub fn delay_for(&self, retry: u32, seed: u64) -> Duration {
        let exp = retry.saturating_sub(1).min(20);
        let base = self
            .backoff_ms
            .saturating_mul(1u64 << exp)
            .min(self.max_backoff_ms);
        // splitmix64 of the seed gives an even spread without a random-number crate.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let permille = 800 + (z % 401); // 800..=1200
        Duration::from_millis(base.saturating_mul(permille) / 1000)
    }

    pub fn max_attempts(&self) -> u32 {
        self.max_retries.saturating_add(1)
    }
}

/// A retry that is about to happen.
#[derive(Debug, Clone)]
pub struct RetryNotice<'a> {
    /// The attempt that just failed (1-based).
    pub attempt: u32,
    pub max_attempts: u32,
    pub delay: Duration,
    pub error: &'a ProviderError,
}

/// Run `call` until it succeeds, fails with a non-retryable error, or retries run out.
pub async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    mut on_retry: impl FnMut(RetryNotice<'_>),
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let mut attempt = 1u32;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && attempt <= policy.max_retries => {
                // The server's own `Retry-After` wins over our backoff, up to the cap.
                let delay = match e.retry_after {
                    Some(wait) => wait.min(policy.retry_after_cap),
                    None => policy.delay_for(attempt, seed.wrapping_add(attempt as u64)),
                };
                on_retry(RetryNotice {
                    attempt,
                    max_attempts: policy.max_attempts(),
                    delay,
                    error: &e,
                });
                tokio::select! {
                    _ = cancel.cancelled() => {
                        return Err(ProviderError::new(ErrorKind::Cancelled, "aborted while waiting to retry"));
                    }
                    _ = tokio::time::sleep(delay) => {}
                }
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn policy(max_retries: u32) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            backoff_ms: 10,
            max_backoff_ms: 25,
            retry_after_cap: Duration::from_millis(300),
        }
    }

    #[test]
    fn delays_double_then_cap_within_jitter() {
        let p = policy(5);
        for seed in 0..50 {
            let d1 = p.delay_for(1, seed).as_millis();
            let d2 = p.delay_for(2, seed).as_millis();
            let d5 = p.delay_for(5, seed).as_millis();
            assert!((8..=12).contains(&d1), "{d1}");
            assert!((16..=24).contains(&d2), "{d2}");
            assert!((20..=30).contains(&d5), "{d5}");
        }
    }

    #[tokio::test]
    async fn retryable_errors_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let mut notices = Vec::new();
        let out = with_retries(
            &policy(3),
            &CancellationToken::new(),
            |n| notices.push((n.attempt, n.max_attempts)),
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 2 {
                    Err(ProviderError::new(ErrorKind::Retryable, "HTTP 429"))
                } else {
                    Ok(n)
                }
            },
        )
        .await;
        assert_eq!(out.unwrap(), 2);
        assert_eq!(notices, vec![(1, 4), (2, 4)]);
    }

    #[tokio::test]
    async fn auth_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = with_retries(
            &policy(3),
            &CancellationToken::new(),
            |_| {},
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(ProviderError::new(ErrorKind::Auth, "HTTP 401"))
            },
        )
        .await;
        assert_eq!(out.unwrap_err().kind, ErrorKind::Auth);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn retries_run_out() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = with_retries(
            &policy(2),
            &CancellationToken::new(),
            |_| {},
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(ProviderError::new(ErrorKind::Retryable, "HTTP 503"))
            },
        )
        .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
