//! Events (facts, past tense), with the commands (requests, imperative) of [`super::command`]
//! and the [`Usage`] they carry re-exported beside them.
//!
//! Both are serde wire types: the same JSON goes to `--json` output, `.clk/logs/activity.jsonl`,
//! and test fixtures. An event carries everything a consumer needs to show it; consumers never
//! read engine internals. Field names carry their units (`_ms`, `_bytes`, `_micros`).

use serde::{Deserialize, Serialize};

pub use crate::engine::ground::command::{
    Command, GauntletAction, LoopKind, QueueCommand, RolesCommand,
};
pub use crate::engine::ground::usage::Usage;

/// Which stream a live output line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Text the model produced (HTTP providers, or a CLI's parsed reply stream).
    Model,
    /// A child process's standard output.
    Stdout,
    /// A child process's standard error.
    Stderr,
}

/// What the gate decided about one ACTION block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The action took effect.
    Applied,
    /// The action was valid but could not or should not take effect (OLD missing, cap reached).
    Skipped,
    /// The action broke a rule (path outside the project, dangerous command) and was refused.
    Rejected,
}

/// Something that happened. Serialized with an `event` tag in snake_case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// `.clk/` was created or completed.
    WorkspaceInitialized {
        root: String,
        prompts_written: usize,
        workflows_written: usize,
        created_commit: bool,
    },
    /// The user's idea was stored in `.clk/state/idea.json`.
    IdeaCaptured { title: String },
    /// An agent was handed an objective.
    DispatchStarted {
        agent: String,
        stage: Option<String>,
        run_id: String,
        provider: String,
        objective: String,
        prompt_chars: usize,
        dry_run: bool,
    },
    /// A provider process started (CLI providers and the shell command mode).
    ProcessStarted {
        agent: String,
        run_id: String,
        pid: u32,
        command: String,
    },
    /// One complete line of live output from a working agent.
    AgentOutput {
        agent: String,
        run_id: String,
        stream: Stream,
        line: String,
    },
    /// A provider attempt failed with a retryable error; another attempt follows after a delay.
    ProviderRetry {
        agent: String,
        run_id: String,
        attempt: u32,
        max_attempts: u32,
        delay_ms: u64,
        error: String,
    },
    /// The provider answered (or finally failed).
    DispatchFinished {
        agent: String,
        run_id: String,
        ok: bool,
        error: Option<String>,
        error_kind: Option<String>,
        response_chars: usize,
        elapsed_ms: u64,
    },
    /// Token usage of one dispatch.
    UsageRecorded {
        agent: String,
        run_id: String,
        provider: String,
        model: String,
        usage: Usage,
        cost_micros: u64,
        /// Where the cost came from; `unknown` means `cost_micros` is not a real figure.
        #[serde(default)]
        cost_basis: crate::engine::ground::pricing::CostBasis,
    },
    /// A dispatch took spend to or past a cap (`cap_key` is the setting, e.g.
    /// `budget.session_usd_cap` or `budget.agent_usd_caps.qa`).
    BudgetReached {
        agent: String,
        cap_key: String,
        spent_micros: u64,
        cap_micros: u64,
    },
    /// Spend was at or past a cap and the user let one more dispatch go ahead.
    BudgetOverrideApproved {
        agent: String,
        cap_key: String,
        spent_micros: u64,
        cap_micros: u64,
    },
    /// A dispatch was refused because spend reached a cap; the run stops.
    BudgetStopped {
        agent: String,
        cap_key: String,
        spent_micros: u64,
        cap_micros: u64,
        /// One line: what was reached and what to do.
        reason: String,
    },
    /// A reply contained a block the parser could not read in full.
    MalformedBlock {
        agent: String,
        run_id: String,
        kind: String,
        line: usize,
        problem: String,
    },
    /// The gate decided on one ACTION block.
    Action {
        agent: String,
        run_id: String,
        kind: String,
        /// The path or command the action named.
        target: String,
        decision: Decision,
        /// Why, for skipped and rejected actions; a short summary for applied ones.
        reason: String,
    },
    /// A `run` action's command is about to start (its output lines follow).
    CommandStarted {
        agent: String,
        run_id: String,
        command: String,
    },
    /// A `run` action finished.
    CommandFinished {
        agent: String,
        run_id: String,
        command: String,
        exit_code: Option<i32>,
        timed_out: bool,
        elapsed_ms: u64,
        /// The last lines of combined output, redacted.
        output_tail: String,
    },
    /// The gate warned about a large batch.
    BatchWarning {
        agent: String,
        run_id: String,
        message: String,
    },
    /// An agent asked to end the run with `ACTION: done`.
    DoneRequested { agent: String, reason: String },
    /// A POST block landed on the blackboard.
    PostAdded {
        agent: String,
        post_id: String,
        post_type: String,
        to: Option<String>,
        urgency: Option<String>,
    },
    /// An agent's batch became a commit.
    Committed {
        agent: String,
        sha: String,
        subject: String,
        files: Vec<String>,
    },
    /// Files the user changed by hand were left out of an agent commit.
    UserChangesKept { agent: String, files: Vec<String> },
    /// Something worth a person's attention that is not a failure.
    Warning { message: String },
    /// A PROPOSE_ROLE block was accepted or refused.
    RoleDecided {
        by: String,
        name: String,
        /// add, update, refresh_baseline_prompt or reject.
        decision: String,
        reason: Option<String>,
    },
    /// A PROPOSE_WORKFLOW block was written or refused.
    WorkflowProposed {
        by: String,
        name: String,
        accepted: bool,
        reason: Option<String>,
    },
    /// A workflow stage began.
    StageStarted {
        workflow: String,
        stage: String,
        agent: String,
    },
    /// A stage's validation command ran.
    ValidationRan {
        workflow: String,
        stage: String,
        command: String,
        exit_code: Option<i32>,
        timed_out: bool,
        output_tail: String,
    },
    /// An agent's changes were put back because they failed validation.
    ChangesUndone {
        agent: String,
        files: Vec<String>,
        reason: String,
    },
    /// A workflow stage ended.
    StageFinished {
        workflow: String,
        stage: String,
        ok: bool,
        /// Why it failed, or a note (e.g. declared outputs missing).
        reason: Option<String>,
        commit: Option<String>,
    },
    /// One supervise cycle ended.
    CycleFinished {
        workflow: String,
        cycle: u32,
        max_cycles: u32,
        progress: bool,
        stages_ok: usize,
        stages_failed: usize,
    },
    /// The done gate judged an `ACTION: done`.
    DoneGate { granted: bool, unmet: Vec<String> },
    /// A supervised run ended.
    RunFinished {
        workflow: String,
        /// done, stalled, aborted, cycle_cap, provider_failed, cancelled or dry_run.
        outcome: String,
        reason: String,
        cycles: u32,
    },
    /// A reply failed the quality check; the agent is asked again with the reasons quoted.
    QualityRetry {
        agent: String,
        /// The run whose reply was turned down.
        run_id: String,
        /// The repair about to be sent (1-based).
        attempt: u32,
        max_retries: u32,
        score: f64,
        reasons: Vec<String>,
    },
    /// An agent declined its task. It is not asked again; the chief is told on the board.
    ReplyRefused {
        agent: String,
        run_id: String,
        stage: Option<String>,
        reason: String,
    },
    /// A consensus fan-out began: `samples` independent answers, at most `max_parallel` at once.
    ConsensusStarted {
        /// Who the answer is for (the agent of the stage, or the agent that proposed it).
        agent: String,
        name: String,
        /// careful, always, quality or proposal.
        trigger: String,
        samples: u32,
        max_parallel: u32,
    },
    /// One consensus sample came back (it is recorded, never applied).
    ConsensusSampleFinished {
        agent: String,
        name: String,
        sample: u32,
        samples: u32,
        run_id: String,
        ok: bool,
        score: f64,
        /// Since the fan-out began.
        elapsed_ms: u64,
    },
    /// The chief merged the samples into one answer, which was applied.
    ConsensusCoalesced {
        name: String,
        by: String,
        run_id: String,
        ok: bool,
        samples_ok: u32,
        samples: u32,
        /// Wall time of the whole fan-out, samples and coalescing.
        elapsed_ms: u64,
    },
    /// A critic reviewed a piece of work in a refine loop.
    RefineRound {
        agent: String,
        critic: String,
        stage: Option<String>,
        round: u32,
        max_rounds: u32,
        /// accept or revise.
        verdict: String,
        score: f64,
        accepted: bool,
    },
    /// The chief's verdict after a review stage: continue, redirect or abort.
    CheckpointVerdict {
        workflow: String,
        stage: String,
        verdict: String,
        /// The new direction (redirect), the reason (abort), or the chief's note.
        note: String,
    },
    /// A stage failed with a retryable provider error and runs again after a pause.
    StageRetry {
        workflow: String,
        stage: String,
        /// The retry about to start (1-based).
        attempt: u32,
        max_retries: u32,
        delay_ms: u64,
        error: String,
    },
    /// An improvement loop changed course: escalated, reframed, critiqued or stopped.
    LoopSteered {
        #[serde(rename = "loop")]
        loop_name: String,
        iteration: u32,
        /// escalated, reframed, critiqued or stopped.
        step: String,
        message: String,
    },
    /// An agent's reply carried a new TODOS list; it replaces the agent's previous one.
    TodosUpdated {
        agent: String,
        items: Vec<crate::engine::ground::protocol::TodoItem>,
    },
    /// A DELEGATE block was carried out (`ok` says how the delegate's call ended) or refused
    /// (`dispatched` false, `note` says why).
    Delegated {
        by: String,
        to: String,
        /// 1 for a delegation from a normal call, 2 for one made by a delegate, …
        depth: u32,
        dispatched: bool,
        ok: bool,
        note: String,
    },
    /// A mission moved on: charter, plan, a phase started, its gate, a re-plan, the end.
    MissionStep {
        /// charter, plan, phase_started, gate_passed, gate_failed, replanned or finished.
        step: String,
        phase: Option<String>,
        /// The phase's attempt, from 1 (0 when no phase is meant).
        attempt: u32,
        note: String,
    },
    /// One step of the gauntlet on a stage: `key`, `critique`, `revision`, `verify`,
    /// `repair`, `kept` (a step failed; the result so far stands), `finished`, or `budget`
    /// (the session's gauntlet dispatches ran out; said once per session).
    Gauntlet {
        workflow: String,
        stage: String,
        step: String,
        round: u32,
        max_rounds: u32,
        ok: bool,
        message: String,
    },
    /// The engine needs a yes/no from the user before going on (a cost cap, a repair).
    /// Answered by `Command::Confirm` with the same id; no answer means no.
    ConfirmRequested {
        id: u64,
        question: String,
        /// The agent the question is about (a budget question before its dispatch).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        about: Option<String>,
    },
    /// A question was answered; `by` is `user`, `headless` (nobody to ask) or `abort`.
    ConfirmAnswered { id: u64, approve: bool, by: String },
    /// A narrative answer to a request (`/status`, `/roles list`, `/undo`, `/doctor`).
    Report { topic: String, lines: Vec<String> },
    /// A working agent is still at it (every `heartbeat_s`): whether output is flowing.
    Heartbeat {
        agent: String,
        run_id: String,
        elapsed_ms: u64,
        /// Time since the last output line (or since the start when none came).
        silent_ms: u64,
        bytes: u64,
    },
    /// The user asked to stop after the current step.
    StopRequested,
    /// Work asked for while other work runs waits its turn (`position`, 1-based).
    Queued {
        task_id: u64,
        what: String,
        position: usize,
    },
    /// Queued work starts: the work before it ended.
    QueueStarted { task_id: u64, what: String },
    /// Queued work was taken off the queue (`/queue drop`, `/queue clear`, `/abort`).
    QueueDropped { task_id: u64, what: String },
    /// The active provider changed; `usable`/`reason` say whether it can be used now.
    ProviderSwitched {
        name: String,
        usable: bool,
        reason: String,
    },
    /// A clk commit was reverted by a new commit.
    Undone {
        reverted: String,
        sha: String,
        subject: String,
        files: Vec<String>,
    },
    /// A run got its own git worktree: agents work there, on `branch`, not in the user's tree.
    WorktreeCreated {
        run_id: String,
        branch: String,
        path: String,
    },
    /// A run branch was merged into the user's branch. `how` is `fast-forward` or
    /// `merge commit`; `files` are the only files of the user's tree it wrote.
    MergeDone {
        branch: String,
        how: String,
        sha: String,
        files: Vec<String>,
    },
    /// A run branch waits for the user: `reason` says why it was not merged, `todo` what to do.
    MergeWaiting {
        branch: String,
        reason: String,
        todo: String,
    },
    /// A run ended and its worktree was removed (its branch too, unless a merge waits).
    WorktreeRemoved { branch: String },
    /// A run that did not finish (clk was killed) left its worktree behind.
    RunLeftover {
        run_id: String,
        branch: String,
        path: String,
    },
    /// While a call runs, files the agent's own tools are changing in its work tree: how many
    /// so far, and the latest few (the judgement after the call is what counts).
    FilesChanging {
        agent: String,
        run_id: String,
        count: u64,
        files: Vec<String>,
    },
    /// Settings files changed while clk ran and passed their checks: the next step uses them.
    SettingsReloaded { files: Vec<String> },
    /// A settings file changed but fails its checks; the settings before it stay in force.
    SettingsRejected {
        file: String,
        line: Option<u64>,
        error: String,
    },
    /// The tutorial ran (in its scratch project, which is kept for a look).
    TutorialFinished { ok: bool, scratch: String },
    /// A command submitted to the engine finished.
    TaskFinished {
        task_id: u64,
        /// What the task was, e.g. `dispatch engineer`.
        task: String,
        ok: bool,
        /// One line: the error, or what came of it.
        summary: String,
    },
}

mod name;

#[cfg(test)]
mod tests;
