//! Every slash command with its usage and one line of help, in the order help shows them.

/// One slash command, for help and completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlashSpec {
    /// The command word with its slash, e.g. `/loop`.
    pub name: &'static str,
    /// How to call it.
    pub usage: &'static str,
    /// What it does, one line.
    pub help: &'static str,
}

/// Every slash command, in the order help shows them.
pub const COMMANDS: &[SlashSpec] = &[
    SlashSpec {
        name: "/help",
        usage: "/help",
        help: "show every command (also F1, or ? in an empty input)",
    },
    SlashSpec {
        name: "/idea",
        usage: "/idea <text>",
        help: "record a new idea (replaces the current one)",
    },
    SlashSpec {
        name: "/cast",
        usage: "/cast",
        help: "have the chief pick the team for the idea",
    },
    SlashSpec {
        name: "/roles",
        usage: "/roles list | add NAME \"description\" | drop NAME",
        help: "show, add or drop team roles",
    },
    SlashSpec {
        name: "/run",
        usage: "/run [workflow]",
        help: "run a workflow (engineering by default) until done or stalled",
    },
    SlashSpec {
        name: "/mission",
        usage: "/mission [text]",
        help: "charter, plan and gated phases; /mission resume continues",
    },
    SlashSpec {
        name: "/loop",
        usage: "/loop ralph N | /loop autoresearch N",
        help: "run N improvement iterations",
    },
    SlashSpec {
        name: "/stop",
        usage: "/stop",
        help: "stop after the current model call; queued work starts next",
    },
    SlashSpec {
        name: "/queue",
        usage: "/queue [drop N]",
        help: "list work waiting to start; drop N or clear takes it off",
    },
    SlashSpec {
        name: "/task",
        usage: "/task <what> [ID]",
        help: "add, list; show/timeline/approve/review/pause/resume/cancel ID",
    },
    SlashSpec {
        name: "/tasks",
        usage: "/tasks",
        help: "the task table (F2): timelines, approve, pause, resume, cancel",
    },
    SlashSpec {
        name: "/template",
        usage: "/template <what>",
        help: "tasks saved by name: save NAME PROMPT, run NAME, list",
    },
    SlashSpec {
        name: "/context",
        usage: "/context <what>",
        help: "rules every task's agents see: add RULE, list, remove ID",
    },
    SlashSpec {
        name: "/work",
        usage: "/work [N]",
        help: "run the queued tasks, N at once (default tasks.max_concurrent)",
    },
    SlashSpec {
        name: "/abort",
        usage: "/abort",
        help: "stop now: kill the working agent's process",
    },
    SlashSpec {
        name: "/provider",
        usage: "/provider <name>",
        help: "switch the active provider and check it can be reached",
    },
    SlashSpec {
        name: "/undo",
        usage: "/undo [confirm]",
        help: "show the last clk commit; /undo confirm reverts it with a new commit",
    },
    SlashSpec {
        name: "/merge",
        usage: "/merge [discard]",
        help: "merge the run branch that waits for you; /merge discard drops it",
    },
    SlashSpec {
        name: "/setup",
        usage: "/setup",
        help: "check agent CLIs, logins, local servers and keys; suggest a provider",
    },
    SlashSpec {
        name: "/install",
        usage: "/install [NAME]",
        help: "tools clk installs; NAME shows the command, /install NAME confirm runs it",
    },
    SlashSpec {
        name: "/doctor",
        usage: "/doctor [--fix]",
        help: "check providers, config and git; --fix offers each repair",
    },
    SlashSpec {
        name: "/diag",
        usage: "/diag",
        help: "write a .tar.gz for a bug report, secrets taken out",
    },
    SlashSpec {
        name: "/workspaces",
        usage: "/workspaces",
        help: "the projects clk knows, most recent first",
    },
    SlashSpec {
        name: "/status",
        usage: "/status",
        help: "where things stand: idea, agents, tokens, files, cost",
    },
    SlashSpec {
        name: "/budget",
        usage: "/budget [set …]",
        help: "caps and spend; set session|AGENT USD sets a cap (0: none)",
    },
    SlashSpec {
        name: "/gauntlet",
        usage: "/gauntlet [on|…]",
        help: "a critic attacks results: on off quick standard rigorous status",
    },
    SlashSpec {
        name: "/tutorial",
        usage: "/tutorial",
        help: "a 30-second sample run on the free built-in provider",
    },
    SlashSpec {
        name: "/filter",
        usage: "/filter [text|agent|warn|error]",
        help: "show only matching log lines; /filter alone shows all again",
    },
    SlashSpec {
        name: "/quit",
        usage: "/quit",
        help: "leave clk",
    },
];
