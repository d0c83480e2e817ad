//! The environment a sandboxed command sees: an allow-list, never the parent's whole
//! environment.
//!
//! A variable passes when its name is on the list (exact names such as `PATH`, or prefixes
//! such as `LC_` and `NPM_CONFIG_`) and nothing about it looks secret. Secret-looking means a
//! name that says KEY, TOKEN, SECRET, PASS, CREDENTIAL, AUTH, SESSION, COOKIE or PRIVATE, a
//! provider's prefix (`ANTHROPIC_`, `OPENAI_`, `AWS_`...), or a value that redaction would
//! change (a known key, a key-shaped token, a URL with a password). The secret test always
//! wins over the allow-list, so `NPM_CONFIG__AUTH` or `CARGO_REGISTRY_TOKEN` never pass.
//! CLI providers name the few extra variables they need (their own key); those pass as named,
//! and only those.

use std::collections::BTreeMap;

use crate::engine::ground::redact;

/// Names that pass as they are.
const EXACT: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "TZ",
    "USER",
    "LOGNAME",
    "SHELL",
    "TMPDIR",
    "EDITOR",
    "PAGER",
    "CI",
    "GOPATH",
    "GOROOT",
    "GOBIN",
    "GOCACHE",
    "GOMODCACHE",
    "GOFLAGS",
    "GOPROXY",
    "GOPRIVATE",
    "GONOSUMDB",
    "GOTOOLCHAIN",
    "GO111MODULE",
    "CGO_ENABLED",
    "NODE_PATH",
    "NODE_OPTIONS",
    "NODE_ENV",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "JAVA_HOME",
    "MAVEN_OPTS",
    "GRADLE_USER_HOME",
    "CC",
    "CXX",
    "CFLAGS",
    "CXXFLAGS",
    "LDFLAGS",
    "PKG_CONFIG_PATH",
    "MAKEFLAGS",
    // Where tools keep config and caches, and how they reach the network; a proxy URL that
    // carries a password is still refused by the value check.
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
];

/// Name prefixes that pass (compared upper-case, so `npm_config_` matches too).
const PREFIXES: &[&str] = &[
    "LC_",
    "CARGO_",
    "RUSTUP_",
    "RUST_",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "NPM_CONFIG_",
    "PYTHON",
    "PIP_",
    "UV_",
    "POETRY_",
];

/// Words that make a name secret wherever they appear in it.
const SECRET_WORDS: &[&str] = &[
    "KEY",
    "TOKEN",
    "SECRET",
    "PASS",
    "CREDENTIAL",
    "AUTH",
    "SESSION",
    "COOKIE",
    "PRIVATE",
    "SIGNATURE",
];

/// Prefixes of providers and clouds: nothing of theirs passes unless a CLI names it.
const SECRET_PREFIXES: &[&str] = &[
    "ANTHROPIC_",
    "CLAUDE_",
    "OPENAI_",
    "AZURE_",
    "GEMINI_",
    "GOOGLE_",
    "VERTEX",
    "OPENROUTER_",
    "MISTRAL_",
    "GROQ_",
    "DEEPSEEK_",
    "XAI_",
    "COHERE_",
    "TOGETHER_",
    "FIREWORKS_",
    "PERPLEXITY_",
    "REPLICATE_",
    "HF_",
    "HUGGING",
    "AWS_",
    "GITHUB_",
    "GH_",
    "GITLAB_",
    "DOCKER_",
    "KUBE",
    "SSH_",
    "GPG_",
    "DBUS_",
    "XDG_RUNTIME_DIR",
    "TWINE_",
    "PYPI_",
];

/// True when a variable must never reach a command, whatever list it is on.
pub fn is_secret(name: &str, value: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| upper.contains(w))
        || SECRET_PREFIXES.iter().any(|p| upper.starts_with(p))
        || redact::is_secret_name(name)
        || value_is_secret(value)
}

/// A value redaction would change, or a URL that carries a password (`https://u:p@host`).
fn value_is_secret(value: &str) -> bool {
    if redact::redact_text(value) != value {
        return true;
    }
    value.split("://").skip(1).any(|rest| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        authority
            .rsplit_once('@')
            .is_some_and(|(userinfo, _)| userinfo.contains(':'))
    })
}

fn is_allowed(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    EXACT.contains(&name) || PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// The allow-listed, secret-free part of `vars`.
pub fn allowed<I, K, V>(vars: I) -> BTreeMap<String, String>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    vars.into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .filter(|(k, v)| is_allowed(k) && !is_secret(k, v))
        .collect()
}

/// The allow-list applied to this process's environment (variables that are not UTF-8 are
/// left out).
pub fn allowed_from_process() -> BTreeMap<String, String> {
    allowed(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    )
}

/// For CLI providers: the allow-list plus exactly the `extra` names the provider needs (its
/// own key, its base URL), taken from `vars` even when they look secret.
pub fn for_provider<I, K, V>(vars: I, extra: &[&str]) -> BTreeMap<String, String>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    let all: Vec<(String, String)> = vars
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let mut out = allowed(all.iter().cloned());
    for (k, v) in all {
        if extra.contains(&k.as_str()) {
            out.insert(k, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        allowed(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn ordinary_and_tool_variables_pass() {
        let out = env(&[
            ("PATH", "/usr/bin"),
            ("HOME", "/home/u"),
            ("LC_ALL", "C.UTF-8"),
            ("CARGO_HOME", "/home/u/.cargo"),
            ("npm_config_cache", "/tmp/npm"),
            ("PYTHONPATH", "/src"),
            ("GOPATH", "/go"),
        ]);
        assert_eq!(out.len(), 7, "{out:?}");
    }

    #[test]
    fn unknown_names_do_not_pass() {
        let out = env(&[("MY_APP_SETTING", "x"), ("LD_PRELOAD", "/evil.so")]);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn secrets_never_pass_even_when_a_pattern_allows_them() {
        let out = env(&[
            ("CARGO_REGISTRY_TOKEN", "abc"),
            ("NPM_CONFIG__AUTH", "abc"),
            ("npm_config_//registry.npmjs.org/:_authToken", "abc"),
            ("PYTHON_KEYRING_BACKEND", "x"),
            ("PIP_INDEX_URL", "https://user:hunter2@pypi.example/simple"),
            ("PYTHONSTARTUP", "sk-abcdefghijklmnopqrstuvwx"),
            ("CARGO_HTTP_PASSWORD", "p"),
        ]);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn provider_keys_are_secret_by_name() {
        for name in [
            "ANTHROPIC_API_KEY",
            "OPENAI_API_KEY",
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
            "OPENROUTER_API_KEY",
            "AWS_ACCESS_KEY_ID",
            "AWS_PROFILE",
            "GITHUB_TOKEN",
            "GH_TOKEN",
            "SSH_AUTH_SOCK",
            "SESSION_COOKIE",
        ] {
            assert!(is_secret(name, "v"), "{name}");
        }
        assert!(!is_secret("PATH", "/usr/bin"));
        assert!(!is_secret("PIP_INDEX_URL", "https://pypi.example/simple"));
    }

    #[test]
    fn a_provider_gets_only_the_extras_it_names() {
        let vars = [
            ("PATH", "/usr/bin"),
            ("ANTHROPIC_API_KEY", "sk-ant-aaaaaaaaaaaaaaaaaaaa"),
            ("OPENAI_API_KEY", "sk-bbbbbbbbbbbbbbbbbbbbbbbb"),
        ];
        let out = for_provider(vars, &["ANTHROPIC_API_KEY"]);
        assert_eq!(
            out.keys().map(String::as_str).collect::<Vec<_>>(),
            ["ANTHROPIC_API_KEY", "PATH"]
        );
    }
}
