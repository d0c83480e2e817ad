//! What every config file's loader shares: the error said so a person knows what to fix, and
//! where environment variables come from.

/// A source of environment variables, so tests can pass their own.
pub type EnvLookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// The process environment as an [`EnvLookup`].
pub fn process_env(name: &str) -> Option<String> {
    if name.starts_with("CLK_") {
        // Settings ask for a `CLK_*` override of each of their hundreds of keys; clk never
        // changes its own environment, so those are read from one copy taken at first use.
        return CLK_VARS.get(name).cloned();
    }
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The `CLK_*` variables of the process that are set and not empty.
static CLK_VARS: std::sync::LazyLock<std::collections::HashMap<String, String>> =
    std::sync::LazyLock::new(|| {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, v)| k.starts_with("CLK_") && !v.is_empty())
            .collect()
    });

/// Where a project reads its `CLK_*` overrides, kept with the project so that every reload of
/// its config (each cycle, each engine command) reads the same source: the process
/// environment in the program, a fixed set or nothing in tests, so a developer's variables
/// cannot change what a test sees.
#[derive(Clone)]
pub struct Env(std::sync::Arc<Lookup>);

/// What an [`Env`] asks for a variable.
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

impl Env {
    /// The process environment (empty values count as unset).
    pub fn process() -> Env {
        Env(std::sync::Arc::new(process_env))
    }

    /// No variables at all.
    pub fn none() -> Env {
        Env(std::sync::Arc::new(|_: &str| None))
    }

    /// Exactly these variables.
    pub fn fixed<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Env {
        let map: std::collections::BTreeMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Env(std::sync::Arc::new(move |name: &str| {
            map.get(name).cloned()
        }))
    }

    /// This source with `name` set to `value`.
    pub fn with(&self, name: &str, value: &str) -> Env {
        let (inner, name, value) = (self.0.clone(), name.to_string(), value.to_string());
        Env(std::sync::Arc::new(move |n: &str| {
            if n == name {
                Some(value.clone())
            } else {
                inner(n)
            }
        }))
    }

    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }
}

impl std::fmt::Debug for Env {
    // The values may hold keys: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env(..)")
    }
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
