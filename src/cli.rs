//! Command-line definitions. Parsing only: the work happens in `cmd`.

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// clk runs a team of AI coding agents on your project, one guarded, committed step at a time.
#[derive(Debug, Parser)]
#[command(name = "clk", version, about, long_about = None)]
pub struct Cli {
    /// An idea to start from: sets up the project if needed, records the idea and sets the
    /// team to work on it.
    pub idea: Option<String>,

    /// Run in this folder instead of the current one.
    #[arg(short = 'C', long = "dir", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Print events as JSON lines instead of readable text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Run without the dashboard (it opens by default when clk runs in a terminal).
    #[arg(long, global = true, env = "CLK_NO_TUI", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_tui: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The arguments of this process, parsed. `configure`'s help lists every provider field;
    /// that list is built only when `configure` is named, so other commands start quicker.
    pub fn parse_args() -> Result<Cli, clap::Error> {
        let mut cmd = Cli::command();
        if std::env::args_os().skip(1).any(|a| a == "configure") {
            cmd = cmd.mut_subcommand("configure", |c| c.after_help(crate::cmd::configure::help()));
        }
        let matches = cmd.try_get_matches()?;
        // As clap's own `try_parse`: an error is worded with the whole command tree.
        Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut Cli::command()))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up clk in this folder: .clk/, default config, prompts, workflows, git.
    Init {
        /// Project name (default: the folder's name).
        #[arg(long)]
        name: Option<String>,
        /// Mark the project as made by kickoff.sh (`clk workspaces clean` may delete it).
        #[arg(long, hide = true)]
        kickoff: bool,
    },
    /// Record the idea the team works on.
    Idea {
        /// What to build, in a sentence or two.
        #[arg(required = true, num_args = 1..)]
        statement: Vec<String>,
        /// A short title (default: the first sentence).
        #[arg(long)]
        title: Option<String>,
        /// A tag; repeat for more.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Record the idea without having the chief cast the team.
        #[arg(long)]
        no_cast: bool,
    },
    /// Have the chief cast the team for the recorded idea.
    Cast {
        /// Render and record the chief's prompt without calling the provider.
        #[arg(long)]
        dry_run: bool,
    },
    /// List, add or remove roles on the team.
    Roles {
        #[command(subcommand)]
        action: RolesAction,
    },
    /// Run discovery then product planning, each supervised until done or stalled.
    Plan {
        /// Render one cycle's prompts without calling providers or changing files.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run a workflow (engineering by default) cycle after cycle until the work is done.
    Run {
        /// The workflow to run (a file in .clk/config/workflows/).
        #[arg(long, default_value = "engineering")]
        workflow: String,
        /// Most cycles to run (default: supervise.max_cycles).
        #[arg(long)]
        max_cycles: Option<u32>,
        /// Render one cycle's prompts without calling providers or changing files.
        #[arg(long)]
        dry_run: bool,
    },
    /// A mission: the chief writes a charter and a plan of phases with gates; each phase runs
    /// as a workflow cycle until its gate passes. `clk mission status` shows where it stands.
    #[command(args_conflicts_with_subcommands = true)]
    Mission {
        #[command(subcommand)]
        action: Option<MissionAction>,
        /// What the mission should deliver (default: the recorded idea).
        text: Option<String>,
        /// Continue the stored mission where it stopped.
        #[arg(long, conflicts_with = "text")]
        resume: bool,
    },
    /// Refine the project in iterations: ralph picks one measurable improvement, the engineer
    /// makes it, qa checks it; kept when the checks pass, undone when they fail.
    Loop {
        /// ralph (improvements) or autoresearch (experiments on open questions).
        #[arg(long, value_enum, default_value_t = LoopMode::Ralph)]
        mode: LoopMode,
        /// Most iterations (default: max_iterations in clk.config.json).
        #[arg(long, conflicts_with = "iterations")]
        max_iterations: Option<u32>,
        /// The same as --max-iterations: `clk loop --mode autoresearch 3`.
        iterations: Option<u32>,
        /// Render one iteration's prompts without calling providers or changing files.
        #[arg(long)]
        dry_run: bool,
    },
    /// Give one agent one objective, apply its reply and commit the result.
    Ask {
        /// The agent (engineer, qa, chief, ... or any name with a prompt).
        agent: String,
        /// What it should do.
        #[arg(required = true, num_args = 1..)]
        objective: Vec<String>,
        /// Stage name to record with the dispatch.
        #[arg(long)]
        stage: Option<String>,
        /// Render and record the prompt without calling the provider or changing files.
        #[arg(long)]
        dry_run: bool,
    },
    /// Where the project stands: idea, provider, agents, usage and cost, budget, recent runs.
    Status,
    /// Spending caps and the session's spend against them.
    Budget {
        /// Start a new budget session: the totals so far are filed in
        /// .clk/state/usage-history.jsonl and counting starts again from zero.
        #[arg(long)]
        reset: bool,
    },
    /// Which providers can be used now, and why not (JSON).
    Providers,
    /// Merge the run branch (clk/<run-id>) that waits for you into your branch; with
    /// --discard, drop it (and a leftover run's worktree) instead.
    Merge {
        /// Drop the waiting run branches instead of merging them.
        #[arg(long)]
        discard: bool,
    },
    /// Show the last commit clk made; with --confirm, revert it with a new commit.
    Undo {
        /// Revert it (your own commits and uncommitted changes are never touched).
        #[arg(long)]
        confirm: bool,
    },
    /// Check providers, config, git, user settings, the pre-push hook, remotes and disk room;
    /// with --fix, offer each repair (asked every time).
    Doctor {
        /// Offer repairs on the terminal, one y/N question each.
        #[arg(long)]
        fix: bool,
    },
    /// Write a .tar.gz for a bug report: versions, settings and logs with secrets taken out,
    /// the doctor's findings and the last failed run.
    Diag {
        /// Where to write it (default: clk-diag-DATE-TIME.tar.gz here).
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
        /// How many of the newest activity lines to include.
        #[arg(long, default_value_t = 200, value_name = "N")]
        lines: usize,
    },
    /// Look through the commits a push would send for keys and key files (.env, *.pem,
    /// id_rsa); exit 1 when something is found. Run by the pre-push hook clk installs.
    ScanSecrets {
        /// Read the refs being pushed from stdin, as git's pre-push hook hands them.
        #[arg(long)]
        pre_push: bool,
        /// The remote's name and URL, which git hands a pre-push hook (not used).
        #[arg(hide = true, num_args = 0..=2)]
        remote: Vec<String>,
    },
    /// Where pushes go: list the remotes, link one, or create a GitHub repository.
    Remote {
        #[command(subcommand)]
        action: RemoteAction,
    },
    /// A 30-second sample run on the free built-in provider, in a scratch project.
    Tutorial,
    /// The projects clk has set up or kicked off: list, rename, switch, forget, clean.
    Workspaces {
        #[command(subcommand)]
        action: WorkspacesAction,
    },
    /// Queue work for `clk work` and steer it: add, list, show, timeline, approve, reject,
    /// pause, resume, cancel, review.
    Task {
        #[command(subcommand)]
        action: TaskAction,
        /// The task store to use: a postgres:// URL shared by many machines (default:
        /// store.url, else SQLite in .clk/state).
        #[arg(long, global = true, value_name = "URL")]
        store: Option<String>,
    },
    /// Run the queued tasks, each in its own worktree on `clk/task-<id>`, several at once
    /// (never two that change the same files), merging each finished one by its autonomy.
    Work {
        /// Most tasks at once (default: tasks.max_concurrent).
        #[arg(long)]
        workers: Option<u32>,
        /// Stop when no task can run any more, instead of waiting for new ones.
        #[arg(long)]
        until_idle: bool,
        /// Take tasks from this store, a postgres:// URL shared by many machines (default:
        /// store.url, else SQLite in .clk/state).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        /// Work in a clone of this git repository (cloned into the folder, or fetched when it
        /// is one already); task branches and merges are pushed back to it.
        #[arg(long, value_name = "GIT_URL")]
        repo: Option<String>,
    },
    /// The `clk work` processes that use the task store: last heartbeat, current tasks and
    /// accounts.
    Workers {
        /// The task store to read (default: store.url, else SQLite in .clk/state).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// Tasks saved under a name: save, list, run (queues one).
    Template {
        #[command(subcommand)]
        action: TemplateAction,
    },
    /// Rules every agent working a task of this workspace sees: add, list, remove.
    Context {
        #[command(subcommand)]
        action: ContextAction,
    },
    /// Serve a REST API, an event stream and a web dashboard for this project (token-protected;
    /// only this machine can reach it unless --allow-remote).
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// The port (0 picks a free one).
        #[arg(long, default_value_t = 7420)]
        port: u16,
        /// Allow a --bind address other machines can reach.
        #[arg(long)]
        allow_remote: bool,
        /// Also run the Telegram bot (token in TELEGRAM_BOT_TOKEN; it obeys only the user ids
        /// in serve.telegram_users).
        #[arg(long)]
        telegram: bool,
        /// Also run the Discord bot: Discord posts slash commands to /discord/interactions
        /// (token in DISCORD_TOKEN, the application's key in DISCORD_PUBLIC_KEY; it obeys only
        /// the role and user ids in serve.discord_run, serve.discord_approve, serve.discord_admin).
        #[arg(long)]
        discord: bool,
        /// With --discord: register the slash commands first (DISCORD_APPLICATION_ID names the
        /// application).
        #[arg(long, requires = "discord")]
        discord_register: bool,
    },
    /// Install a tool clk drives (claude, codex, gemini, pi, bubblewrap, gh): shows the
    /// command, asks first, then checks the tool answers `--version`.
    Install {
        /// The tool; `--list` (or no name) shows them all.
        name: Option<String>,
        /// List the tools, whether each is installed, and how clk would install it.
        #[arg(long)]
        list: bool,
        /// Run the install command without asking (needed without a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// A guided first setup: finds your agent CLIs, logins, local servers and API keys, picks
    /// your default provider, offers to install what is missing, and saves your settings.
    /// Run it again to continue where you left off.
    Setup {
        /// Ask nothing: take the answers from the flags (for scripts and CI).
        #[arg(long)]
        non_interactive: bool,
        /// The default provider for every project (claude, codex, gemini, pi, ollama, ...).
        #[arg(long, value_name = "NAME")]
        provider: Option<String>,
        /// Install the missing agent CLIs (`missing`) or not (`none`).
        #[arg(long, value_enum, value_name = "WHICH")]
        install: Option<InstallChoice>,
        /// Forget earlier answers and ask everything again.
        #[arg(long)]
        reset: bool,
    },
    /// Show or change settings.
    Configure {
        /// KEY=VALUE; dotted keys reach nested settings (supervise.max_cycles=5,
        /// providers.ollama.model=qwen3, default_provider=ollama). Repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Print the effective settings and where each came from (default, user, project,
        /// env).
        #[arg(long)]
        show: bool,
        /// Change your own settings (~/.config/clk, or $XDG_CONFIG_HOME/clk): defaults for
        /// every project, which a project's own settings override key by key.
        #[arg(long)]
        user: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MissionAction {
    /// Where the mission stands: its phases, attempts and gates (`--json` for the state file).
    Status,
}

#[derive(Debug, Subcommand)]
pub enum RolesAction {
    /// Show the team.
    List,
    /// Add a role: `clk roles add data_steward "owns the schema and migrations"`.
    Add {
        name: String,
        /// What the role does.
        #[arg(required = true, num_args = 1..)]
        role: Vec<String>,
    },
    /// Remove a role the chief or you added (baseline roles stay).
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum RemoteAction {
    /// The project's remotes and where they point.
    List,
    /// Point a remote (origin unless --name) at URL: https://, ssh:// or git@host:path.
    Link {
        url: String,
        #[arg(long, default_value = "origin")]
        name: String,
        /// Replace a remote of that name that points elsewhere.
        #[arg(long)]
        replace: bool,
    },
    /// Create a GitHub repository NAME (private unless --public) and link it: the REST API
    /// with GITHUB_TOKEN, else the gh program.
    Create {
        name: String,
        /// An organisation to create it in (default: the token's user).
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        public: bool,
        /// The remote name to link it as.
        #[arg(long, default_value = "origin")]
        remote: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkspacesAction {
    /// Every project, most recently used first (--json for a machine).
    List,
    /// Give a project another name: `clk workspaces rename OLD NEW` (a name or a path).
    Rename { which: String, name: String },
    /// Print a project's folder, for `cd "$(clk workspaces switch NAME)"`.
    Switch { which: String },
    /// Drop a project from the list; its files stay as they are.
    Forget { which: String },
    /// Delete kickoff workspaces unused for DAYS days (asks first; folders with uncommitted
    /// changes are kept), and forget projects whose folder is gone.
    Clean {
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Delete without asking (needed without a terminal).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TaskAction {
    /// Queue a task: `clk task add "add a health endpoint to src/server.rs"`.
    Add {
        /// What to do (with --template: added after the template's prompt).
        #[arg(required_unless_present = "template", num_args = 0..)]
        prompt: Vec<String>,
        /// Start from a saved template (`clk template list`).
        #[arg(long)]
        template: Option<String>,
        #[command(flatten)]
        how: TaskSettings,
    },
    /// Every task with its state (`--json` for scripts).
    List,
    /// One task in full.
    Show { id: i64 },
    /// Everything that happened to a task.
    Timeline { id: i64 },
    /// Let a task that waits for approval go on: past a checkpoint (its plan, a risky
    /// change), or to its merge.
    Approve {
        id: i64,
        /// A note kept with the approval (the implementer sees it after a checkpoint).
        note: Vec<String>,
    },
    /// Send a task that waits for approval back to its implementer with a note.
    Reject {
        id: i64,
        /// What to do differently.
        note: Vec<String>,
    },
    /// Stop a task (a running one stops within seconds); `resume` queues it again.
    Pause { id: i64 },
    /// Queue a paused, failed or interrupted task again.
    Resume {
        id: i64,
        /// A note for the timeline.
        note: Vec<String>,
    },
    /// Drop a task.
    Cancel { id: i64 },
    /// Another review pass by the paired reviewer on the task's branch as it is (a task
    /// waiting for approval, paused, failed or interrupted); `clk work` runs it.
    Review {
        id: i64,
        /// What the reviewer should look at.
        note: Vec<String>,
    },
}

/// How a task is worked (default: the duo flow, the engineer, the project's autonomy).
#[derive(Debug, Clone, clap::Args)]
pub struct TaskSettings {
    /// How the task is worked: duo (implementer with handoffs, then a review by the other
    /// provider; the default) or solo (implementer only).
    #[arg(long)]
    pub flow: Option<String>,
    /// Who does it: a roster agent (engineer) or a provider (claude, codex, ...).
    #[arg(long)]
    pub agent: Option<String>,
    /// safe (stop for `task approve` after the plan, before risky changes and before the
    /// merge), balanced (stop only for risky changes) or aggressive (merge when green).
    #[arg(long)]
    pub autonomy: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TemplateAction {
    /// Save a task under a name: `clk template save docs "update the README for the change"`.
    Save {
        name: String,
        #[arg(required = true, num_args = 1..)]
        prompt: Vec<String>,
        #[command(flatten)]
        how: TaskSettings,
    },
    /// Every template.
    List,
    /// Queue a task from a template.
    Run { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ContextAction {
    /// Add a rule: `clk context add "use pnpm, not npm"`.
    Add {
        #[arg(required = true, num_args = 1..)]
        rule: Vec<String>,
    },
    /// Every rule with its id.
    List,
    /// Remove a rule by its id.
    Remove { id: i64 },
}

/// Which improvement loop to run.
/// What `clk setup` installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InstallChoice {
    None,
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoopMode {
    Ralph,
    Autoresearch,
}
