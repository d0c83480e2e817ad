//! Keys and submitted text (part of the reducer): questions on screen take the next key,
//! then help, then the input box; Enter sends free text as a message or a slash command to
//! `slash::parse`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::log::Level;
use super::state::{AppState, Effect, Pending};
use crate::engine::ground::events::Command;
use crate::engine::ground::slash::{self, Slash};

pub(crate) fn on_key(s: &mut AppState, key: KeyEvent) -> Vec<Effect> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    s.completions.clear();
    if let Some(p) = s.pending.pop_front() {
        let yes = matches!(key.code, KeyCode::Char('y' | 'Y')) && !ctrl;
        return match p {
            Pending::Engine { id, .. } => {
                s.note(Level::User, if yes { "> yes" } else { "> no" });
                vec![Effect::Submit(Command::Confirm { id, approve: yes })]
            }
            // Ctrl-C twice leaves too.
            Pending::Quit { .. } if yes || (ctrl && key.code == KeyCode::Char('c')) => {
                vec![Effect::Quit]
            }
            Pending::Quit { .. } => Vec::new(),
            Pending::Task { action, .. } => {
                if yes {
                    super::tasks::send(s, action)
                } else {
                    s.note(Level::User, "> no: the task stays as it is");
                    s.board.flash = Some("nothing changed".into());
                    Vec::new()
                }
            }
            Pending::Setup { .. } => match key.code {
                KeyCode::Char('y' | 'Y') if !ctrl => vec![Effect::Setup { tutorial: false }],
                KeyCode::Char('t' | 'T') if !ctrl => vec![Effect::Setup { tutorial: true }],
                _ => vec![Effect::Quit],
            },
        };
    }
    if s.help_open {
        // The help scrolls on a small screen; any other key closes it.
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => s.help_scroll = s.help_scroll.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                s.help_scroll = s
                    .help_scroll
                    .saturating_add(1)
                    .min(super::widgets::help::max_scroll(s))
            }
            KeyCode::PageUp => s.help_scroll = s.help_scroll.saturating_sub(10),
            KeyCode::PageDown => {
                s.help_scroll = s
                    .help_scroll
                    .saturating_add(10)
                    .min(super::widgets::help::max_scroll(s))
            }
            _ => {
                s.help_open = false;
                s.help_scroll = 0;
            }
        }
        return Vec::new();
    }
    match key.code {
        KeyCode::Char('c') if ctrl => {
            ask_quit(s);
            return Vec::new();
        }
        KeyCode::Char('d') if ctrl && s.input.is_empty() => return quit(s),
        KeyCode::Char('l') if ctrl => return vec![Effect::Redraw],
        KeyCode::F(1) => {
            s.help_open = true;
            return Vec::new();
        }
        // F2 opens the Tasks view from anywhere, and closes it again.
        KeyCode::F(2) if s.board.open && s.view.is_none() => {
            s.board.open = false;
            return Vec::new();
        }
        KeyCode::F(2) => return super::tasks::open(s),
        _ => {}
    }
    if let Some(fx) = super::nav::on_key(s, key) {
        return fx;
    }
    let (page, cols) = s.log_page();
    match key.code {
        KeyCode::Esc => {
            s.input.set_text("");
            Vec::new()
        }
        KeyCode::Char('u') if ctrl => {
            s.input.delete_to_start();
            Vec::new()
        }
        KeyCode::Char('w') if ctrl => {
            s.input.delete_word();
            Vec::new()
        }
        KeyCode::Char('?') if s.input.is_empty() && !ctrl => {
            s.help_open = true;
            Vec::new()
        }
        KeyCode::Enter => submit(s),
        KeyCode::Tab if s.input.is_empty() => {
            super::nav::enter_grid(s);
            Vec::new()
        }
        KeyCode::Tab => {
            let mut words = s.words.clone();
            words.agents = s.cards.iter().map(|c| c.name.clone()).collect();
            words.tasks = s.board.rows.iter().map(|r| (r.id, r.state)).collect();
            // Several candidates show in a popup above the input until the next key.
            s.completions = s.input.complete(&words);
            Vec::new()
        }
        KeyCode::Up => {
            s.input.history_prev();
            Vec::new()
        }
        KeyCode::Down => {
            s.input.history_next();
            Vec::new()
        }
        KeyCode::PageUp => {
            s.log.scroll_up(page.saturating_sub(1).max(1), cols);
            Vec::new()
        }
        KeyCode::PageDown => {
            s.log.scroll_down(page.saturating_sub(1).max(1), cols);
            Vec::new()
        }
        KeyCode::Home if ctrl || s.input.is_empty() => {
            s.log.to_top(page, cols);
            Vec::new()
        }
        KeyCode::End if ctrl || s.input.is_empty() => {
            s.log.to_tail();
            Vec::new()
        }
        _ => {
            s.input.key(key);
            Vec::new()
        }
    }
}

pub(crate) fn ask_quit(s: &mut AppState) {
    if s.pending.iter().any(|p| matches!(p, Pending::Quit { .. })) {
        return;
    }
    let question = if s.busy() {
        "Quit clk? The running work will be stopped."
    } else {
        "Quit clk?"
    };
    s.pending.push_front(Pending::Quit {
        question: question.to_string(),
    });
}

/// `/quit`, Ctrl-D: leave at once when idle, ask first while work runs.
fn quit(s: &mut AppState) -> Vec<Effect> {
    if s.busy() {
        ask_quit(s);
        Vec::new()
    } else {
        vec![Effect::Quit]
    }
}

fn submit(s: &mut AppState) -> Vec<Effect> {
    let text = s.input.take();
    if text.is_empty() {
        return Vec::new();
    }
    s.log.to_tail();
    s.note(Level::User, &format!("> {text}"));
    if s.engine_gone && !text.starts_with('/') {
        s.note(Level::Error, "the engine stopped; /quit to leave");
        return Vec::new();
    }
    if !text.starts_with('/') {
        s.work_finished = false;
        return vec![Effect::Submit(Command::Message { text })];
    }
    match slash::parse(&text) {
        Err(message) => {
            s.note(Level::Warn, &message);
            Vec::new()
        }
        Ok(Slash::Help) => {
            s.help_open = true;
            Vec::new()
        }
        Ok(Slash::Quit) => quit(s),
        Ok(Slash::Tasks) => super::tasks::open(s),
        Ok(Slash::Filter(word)) => {
            let filter = word.as_deref().map(|w| {
                // An agent's name keeps that agent's lines (not "engineering" for "engineer").
                match s
                    .cards
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case(w.trim()))
                {
                    Some(c) => super::log::Filter::Agent(c.name.to_lowercase()),
                    None => super::log::Filter::parse(w),
                }
            });
            s.log.set_filter(filter);
            Vec::new()
        }
        Ok(Slash::Engine(cmd)) => {
            match &cmd {
                Command::Tutorial => s.tutorial_running = true,
                Command::SwitchProvider { .. } => s.error_hint = None,
                _ => {}
            }
            s.work_finished = false;
            vec![Effect::Submit(cmd)]
        }
    }
}
