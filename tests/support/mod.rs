//! Helpers shared by the integration tests (tests/all.rs declares `mod support;`; benches
//! include this file by path). Unused ones are allowed so that no user has to use everything.

pub mod blackhole;
pub mod clis;
pub mod gate;
pub mod loop_agents;
pub mod mock_discord;
pub mod mock_github;
pub mod mock_project;
pub mod mock_server;
pub mod mock_telegram;
pub mod pg;
pub mod provider_calls;
pub mod strace;
pub mod tui;

/// Variables clk reads besides `CLK_*` and `*_API_KEY`: the vendors' endpoints and the agent
/// CLIs' own settings that clk leaves alone when the user has set them.
const VENDOR_VARS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "OPENROUTER_API_KEY",
    "GEMINI_CLI_SYSTEM_DEFAULTS_PATH",
    "CLAUDE_CODE_MAX_RETRIES",
];

/// The names of every variable in this process's environment that could change what clk
/// does: every `CLK_*`, every `*_API_KEY` (pi names its key after the key type) and
/// [`VENDOR_VARS`]. A child started without them sees only what its test sets.
#[allow(dead_code)]
pub fn clk_env_vars() -> Vec<String> {
    let mut names: Vec<String> = VENDOR_VARS.iter().map(|v| v.to_string()).collect();
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if (name.starts_with("CLK_") || name.ends_with("_API_KEY"))
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_string());
        }
    }
    names
}

/// The `clk` binary, with none of the developer's clk settings or vendor keys (see
/// [`clk_env_vars`]): a test sets what it means to.
#[allow(dead_code)]
pub fn clk() -> assert_cmd::Command {
    assert_cmd::Command::from_std(clk_process())
}

/// [`clk`] as a plain process, for a test that spawns the binary and kills it.
#[allow(dead_code)]
pub fn clk_process() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_clk"));
    for name in clk_env_vars() {
        c.env_remove(name);
    }
    // The developer's own clk settings (~/.config/clk) stay out too: an empty folder of this
    // test process stands for them unless a test points XDG_* elsewhere.
    let mine = std::env::temp_dir().join(format!("clk-test-home-{}", std::process::id()));
    c.env("XDG_CONFIG_HOME", mine.join("config"));
    c.env("XDG_DATA_HOME", mine.join("data"));
    c
}

/// Serve `app` on a free loopback port from its own thread (a runtime of its own, so a plain
/// `#[test]` can use it too); its `http://` address.
#[allow(dead_code)]
pub fn serve_on_thread(app: axum::Router) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    url
}

/// `git ARGS` in `dir` with a throwaway identity, its whole output kept.
#[allow(dead_code)]
pub fn git_as_tester(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}
