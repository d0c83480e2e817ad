//! What every config file's loader shares: the error said so a person knows what to fix, and
//! where environment variables come from.

/// A source of environment variables, so tests can pass their own.
pub type EnvLookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// The process environment as an [`EnvLookup`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A configuration problem, said so a person knows what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{path}: not valid JSON ({detail}); fix the file (clk keeps the version before its last change as {path}.bak)"
    )]
    Parse { path: String, detail: String },
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read {path}: {detail}")]
    Io { path: String, detail: String },
}
