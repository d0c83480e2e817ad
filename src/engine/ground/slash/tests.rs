use super::*;

fn engine(text: &str) -> Command {
    match parse(text) {
        Ok(Slash::Engine(c)) => c,
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn every_listed_command_parses() {
    for spec in COMMANDS {
        let line = match spec.name {
            "/idea" => "/idea a journaling app".to_string(),
            "/loop" => "/loop ralph 5".to_string(),
            "/provider" => "/provider shell".to_string(),
            other => other.to_string(),
        };
        assert!(parse(&line).is_ok(), "{line}: {:?}", parse(&line));
    }
}

#[test]
fn commands_carry_their_arguments() {
    assert_eq!(
        engine("/loop ralph 5"),
        Command::Loop {
            kind: LoopKind::Ralph,
            iterations: 5,
            dry_run: false
        }
    );
    assert_eq!(
        engine("/loop autoresearch"),
        Command::Loop {
            kind: LoopKind::Autoresearch,
            iterations: 0,
            dry_run: false
        }
    );
    assert_eq!(
        engine("/roles add designer \"Owns the look and feel\""),
        Command::Roles {
            action: RolesCommand::Add {
                name: "designer".into(),
                description: "Owns the look and feel".into()
            }
        }
    );
    assert_eq!(
        engine("/roles drop designer"),
        Command::Roles {
            action: RolesCommand::Drop {
                name: "designer".into()
            }
        }
    );
    assert_eq!(engine("/undo confirm"), Command::Undo { confirm: true });
    let queue = |action| Command::Queue { action };
    assert_eq!(engine("/queue"), queue(QueueCommand::List));
    assert_eq!(engine("/queue drop 2"), queue(QueueCommand::Drop { n: 2 }));
    assert_eq!(engine("/queue clear"), queue(QueueCommand::Clear));
    assert!(
        parse("/queue drop zero")
            .unwrap_err()
            .contains("not an entry number")
    );
    assert!(parse("/queue drop 0").is_err() && parse("/queue later").is_err());
    assert_eq!(engine("/doctor --fix"), Command::Doctor { fix: true });
    assert_eq!(engine("/diag"), Command::Diag);
    assert_eq!(engine("/workspaces"), Command::Workspaces);
    assert!(parse("/diag now").is_err() && parse("/workspaces x").is_err());
    let install = |name: &str, confirm| Command::Install {
        name: name.into(),
        confirm,
    };
    assert_eq!(engine("/setup"), Command::Setup);
    assert_eq!(engine("/install"), install("", false));
    assert_eq!(engine("/install codex"), install("codex", false));
    assert_eq!(engine("/install codex confirm"), install("codex", true));
    assert!(
        parse("/install codex now")
            .unwrap_err()
            .contains("usage: /install")
    );
    assert_eq!(engine("/budget"), Command::ShowBudget);
    let cap = |key: &str, usd| Command::SetCap {
        key: key.into(),
        usd,
    };
    assert_eq!(
        engine("/budget set session 5"),
        cap("budget.session_usd_cap", 5.0)
    );
    assert_eq!(
        engine("/budget set engineer $0.25"),
        cap("budget.agent_usd_caps.engineer", 0.25)
    );
    assert_eq!(
        engine("/budget set budget.agent_usd_caps.qa 0"),
        cap("budget.agent_usd_caps.qa", 0.0)
    );
    for bad in [
        "/budget set session -1",
        "/budget set session lots",
        "/budget set",
        "/budget reset",
    ] {
        let e = parse(bad).unwrap_err();
        assert!(e.contains("usage: /budget"), "{bad}: {e}");
    }
    assert_eq!(
        engine("/run product"),
        Command::Run {
            workflow: "product".into(),
            max_cycles: None,
            dry_run: false
        }
    );
    assert_eq!(
        engine("/idea  A local-first journaling app "),
        Command::CaptureIdea {
            statement: "A local-first journaling app".into(),
            title: None,
            tags: Vec::new()
        }
    );
    assert_eq!(parse("/help"), Ok(Slash::Help));
    assert_eq!(parse("/QUIT"), Ok(Slash::Quit));
}

#[test]
fn bad_input_says_what_to_type() {
    let err = |t: &str| parse(t).unwrap_err();
    assert_eq!(err("/rnu"), "unknown command /rnu; did you mean /run?");
    assert_eq!(err("/undoo"), "unknown command /undoo; did you mean /undo?");
    assert!(
        err("/xyzzyplugh").contains("/help"),
        "{}",
        err("/xyzzyplugh")
    );
    assert!(err("/loop ralph zero").contains("not a number"));
    assert!(err("/loop ralph 0").contains("not a number"));
    assert!(err("/loop dance 3").contains("no loop called"));
    assert!(err("/idea").contains("/idea <text>"));
    assert!(err("/roles add x").contains("description"));
    assert!(err("/roles add x \"open").contains("quote"));
    assert!(err("/stop now").contains("no arguments"));
    assert!(err("hello").contains("start with /"));
    for e in [err("/"), err("/provider"), err("/undo maybe")] {
        assert!(!e.contains('\n'), "one line: {e}");
    }
}

#[test]
fn tab_completes_prefixes() {
    assert_eq!(complete("/r"), vec!["/roles", "/run"]);
    assert_eq!(complete("/tu"), vec!["/tutorial"]);
    assert_eq!(complete("/q"), vec!["/queue", "/quit"]);
    assert_eq!(complete("/").len(), COMMANDS.len());
    assert!(complete("/zz").is_empty());
}

#[test]
fn mission_takes_text_resume_or_nothing() {
    let mission = |text: Option<&str>, resume| Command::Mission {
        text: text.map(str::to_string),
        resume,
    };
    assert_eq!(engine("/mission"), mission(None, false));
    assert_eq!(engine("/mission RESUME"), mission(None, true));
    assert_eq!(
        engine("/mission ship the CSV export"),
        mission(Some("ship the CSV export"), false)
    );
    assert_eq!(
        engine("/mission \"resume parsing\""),
        mission(Some("resume parsing"), false)
    );
}

#[test]
fn gauntlet_takes_a_switch_a_preset_or_status() {
    use crate::engine::ground::events::GauntletAction as A;
    let g = |action| Command::Gauntlet { action };
    assert_eq!(engine("/gauntlet"), g(A::Status));
    assert_eq!(engine("/gauntlet status"), g(A::Status));
    assert_eq!(engine("/gauntlet on"), g(A::On));
    assert_eq!(engine("/gauntlet OFF"), g(A::Off));
    assert_eq!(engine("/gauntlet quick"), g(A::Quick));
    assert_eq!(engine("/gauntlet standard"), g(A::Standard));
    assert_eq!(engine("/gauntlet rigorous"), g(A::Rigorous));
    for bad in ["/gauntlet max", "/gauntlet on now"] {
        let e = parse(bad).unwrap_err();
        assert!(e.contains("usage: /gauntlet"), "{bad}: {e}");
    }
}
