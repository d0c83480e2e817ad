//! Commands an agent may not run.
//!
//! The list is about damage that cannot be undone from inside the project: privilege
//! escalation, wiping disks or the home folder, fork bombs, and git commands that throw away
//! the user's uncommitted work or rewrite shared history. Each refusal says why.

use std::sync::OnceLock;

use regex::Regex;

struct Rule {
    re: Regex,
    why: &'static str,
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let r = |p: &str, why: &'static str| Rule {
            re: crate::engine::ground::fixed::regex(p),
            why,
        };
        vec![
            r(r"(^|[;&|(\s])(sudo|doas|su)\s", "runs with elevated privileges"),
            r(
                r#"\brm\s+(-{1,2}[\w-]+\s+)*(--\s+)?["']?(/\*|/|~|\$HOME|\$\{HOME\}|\.|\*|\.\.|\.git|\.clk)["']?(/\*?)?(\s|$|;|&|\|)"#,
                "deletes the root, home, project, .git or .clk folder",
            ),
            r(r"--no-preserve-root", "deletes the root folder"),
            r(r"\bmkfs(\.\w+)?\b", "formats a disk"),
            r(r">\s*/dev/(sd|nvme|hd|vd|xvd)", "writes to a raw disk"),
            r(r"\bdd\b.*\bof=/dev/", "writes to a raw device"),
            r(r":\(\)\s*\{", "is a fork bomb"),
            r(r"\b(shutdown|reboot|halt|poweroff)\b", "stops the machine"),
            r(
                r"\bgit\b.*\s(reset\s+--hard|reset\s+--merge|clean\s+(-\w*f|--force)|checkout\s+(-f\b|--\s|\.)|restore\b|stash\b|commit\b|rebase\b|filter-branch\b|update-ref\b)",
                "would throw away uncommitted work or rewrite history (clk commits and undoes for you)",
            ),
            r(
                r"\.git/(hooks|config|HEAD|refs|objects|index|info)|\bgit\s+config\b",
                "changes git's own settings or internals",
            ),
            r(
                r"\.clk/(config|state|prompts|logs|runs|backups)",
                "touches clk's own files",
            ),
            r(
                r"\bgit\s+push\b.*(--force|\s-f\b|--mirror)",
                "force-pushes over shared history",
            ),
            r(r"\bchmod\s+-R\s+\S+\s+/(\s|$)", "changes permissions of the whole disk"),
        ]
    })
}

/// Why `cmd` may not run, or None when it may.
pub fn refusal(cmd: &str) -> Option<&'static str> {
    rules().iter().find(|r| r.re.is_match(cmd)).map(|r| r.why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_commands_are_refused() {
        for c in [
            "sudo apt install x",
            "cd /tmp && sudo rm x",
            "rm -rf /",
            "rm -rf ~",
            "rm -fr .",
            "rm -rf *",
            "rm -rf / --no-preserve-root",
            "mkfs.ext4 /dev/sda1",
            "echo x > /dev/sda",
            "dd if=/dev/zero of=/dev/sda",
            ":(){ :|:& };:",
            "git reset --hard HEAD~1",
            "git clean -fdx",
            "git checkout -- .",
            "git stash",
            "git push --force origin main",
            "shutdown -h now",
            "rm -rf /*",
            "rm -rf .git",
            "rm --recursive --force /",
            "rm -rf -- /",
            "rm -rf \"$HOME\"",
            "git checkout -- f",
            "git restore f",
            "git commit -am x",
            "git -C . reset --hard && git clean --force -d",
            "printf x > .git/hooks/pre-commit",
            "echo {} > .clk/config/agents.json",
            "git config core.hooksPath /tmp",
        ] {
            assert!(refusal(c).is_some(), "{c} was allowed");
        }
    }

    #[test]
    fn ordinary_commands_run() {
        for c in [
            "cargo test",
            "pytest -q",
            "rm -rf build",
            "rm -rf ./target/tmp",
            "git status",
            "git diff --stat",
            "npm test --silent",
            "python3 -m json.tool PRD.json",
            "grep -q sudoers README.md",
        ] {
            assert!(refusal(c).is_none(), "{c} was refused: {:?}", refusal(c));
        }
    }
}
