//! Live reload in the real dashboard (tmux): a settings edit is taken in and shown as
//! "settings reloaded"; a broken edit is reported with its file and line and the settings
//! before it stay in force, which `/budget` proves by showing the old cap.

use super::tui_tmux::{Tmux, launch, need_tmux, project};

#[test]
fn a_config_edit_reloads_and_a_broken_one_is_reported_and_ignored() {
    need_tmux!();
    let dir = project();
    let cfg = dir.path().join(".clk/config/clk.config.json");
    let t = Tmux::start("reload");
    launch(&t, dir.path(), "");
    t.wait_for("type your idea", 20);

    std::fs::write(&cfg, "{\n  \"budget\": {\"session_usd_cap\": 7}\n}\n").unwrap();
    t.wait_for("settings reloaded", 20);
    t.line("/budget");
    t.wait_for("session cap: $7.00", 20);

    // Line 3 lacks its closing brace: the parser stops at line 3.
    std::fs::write(&cfg, "{\n  \"budget\": {\"session_usd_cap\": 9}\n").unwrap();
    t.wait("the rejection", 20, |s| {
        s.contains("clk.config.json line 3") && s.contains("stay in force")
    });
    t.line("/budget");
    let screen = t.wait("a second budget report", 20, |s| {
        s.matches("session cap: $7.00").count() >= 2
    });
    assert!(!screen.contains("session cap: $9.00"), "{screen}");

    // Fixing the file takes the new value in.
    std::fs::write(&cfg, "{\"budget\": {\"session_usd_cap\": 9}}\n").unwrap();
    t.wait("the second reload", 20, |s| {
        s.matches("settings reloaded").count() >= 2
    });
    t.line("/budget");
    t.wait_for("session cap: $9.00", 20);
    t.line("/quit");
    t.wait_prompt(10);
}
