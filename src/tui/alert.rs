//! Ringing for a notice the reducer handed out (`Effect::Notify`): the terminal's bell, and a
//! desktop notification through `notify-send` when it is installed and a desktop session is
//! there, else through the terminal itself (OSC 777, read by urxvt, foot, WezTerm, VTE
//! terminals; and OSC 9, read by iTerm2, Windows Terminal, kitty). Terminals ignore the escape
//! they do not know. `notify.bell` and `notify.desktop` turn each off.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::engine::ground::config::NotifyConfig;

/// How this dashboard rings.
#[derive(Debug, Clone, Default)]
pub struct Alert {
    pub bell: bool,
    pub desktop: bool,
    /// `notify-send`, when it is installed and there is a desktop to show it on.
    pub notify_send: Option<PathBuf>,
}

impl Alert {
    pub fn from_config(c: &NotifyConfig) -> Alert {
        let desktop_session = ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
        let notify_send = (c.desktop && desktop_session)
            .then(|| find_on_path("notify-send"))
            .flatten();
        Alert {
            bell: c.bell,
            desktop: c.desktop,
            notify_send,
        }
    }

    /// Ring for `text`: the bytes go to `out` (the terminal), `notify-send` is started and
    /// left to finish on its own.
    pub fn ring(&self, text: &str, out: &mut impl Write) -> std::io::Result<()> {
        let through_terminal = self.desktop && self.notify_send.is_none();
        out.write_all(&bytes(text, self.bell, through_terminal))?;
        out.flush()?;
        if self.desktop
            && let Some(cmd) = &self.notify_send
        {
            // Not waited for: its exit is of no interest; the child is reaped by the OS when
            // clk exits (a zombie at most until then, one per notice).
            let _ = Command::new(cmd)
                .args(["--app-name=clk", "clk", &one_line(text)])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
        }
        Ok(())
    }
}

/// What goes to the terminal for a notice: the bell, then the two desktop escapes.
pub fn bytes(text: &str, bell: bool, desktop: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bell {
        out.push(0x07);
    }
    if desktop {
        let text = one_line(text);
        out.extend_from_slice(format!("\x1b]777;notify;clk;{text}\x1b\\").as_bytes());
        out.extend_from_slice(format!("\x1b]9;clk: {text}\x1b\\").as_bytes());
    }
    out
}

/// The text with no control characters (an escape inside would end the OSC early, or worse)
/// and no `;` (OSC 777 separates its fields with it), at most 200 characters.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() || c == ';' { ' ' } else { c })
        .take(200)
        .collect()
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bell_and_the_escapes_follow_the_settings_and_carry_no_control_characters() {
        assert_eq!(bytes("x", true, false), b"\x07");
        assert!(bytes("x", false, false).is_empty());
        let both = String::from_utf8(bytes("run done;\x1b]0;evil\x07\nnext", false, true)).unwrap();
        assert_eq!(
            both,
            "\x1b]777;notify;clk;run done  ]0 evil  next\x1b\\\x1b]9;clk: run done  ]0 evil  next\x1b\\"
        );
        let a = Alert {
            bell: true,
            desktop: true,
            notify_send: None,
        };
        let mut out = Vec::new();
        a.ring("task 3 waits for approval", &mut out).unwrap();
        assert_eq!(out[0], 0x07);
        assert!(String::from_utf8_lossy(&out).contains("]777;notify;clk;task 3 waits"));
        let off = Alert::from_config(&NotifyConfig {
            bell: false,
            desktop: false,
        });
        let mut out = Vec::new();
        off.ring("x", &mut out).unwrap();
        assert!(out.is_empty());
        assert!(off.notify_send.is_none());
    }
}
