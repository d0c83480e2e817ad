//! Semantic styles: widgets ask for "working" or "error", never for a colour.
//!
//! Two palettes, dark (the default) and light (`ui.theme: light`, for light backgrounds).
//! With `NO_COLOR` set (any non-empty value, see no-color.org) every style keeps only its
//! modifiers (bold, reversed), so the screen still reads well in monochrome.

use ratatui::style::{Color, Modifier, Style};

use crate::engine::ground::state::AgentStatus;

/// The styles of one session; chosen once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    color: bool,
    /// Darker foregrounds for a light terminal background.
    light: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to a non-empty value; `light` picks the palette for a
    /// light background (`ui.theme`).
    pub fn from_env(light: bool) -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme {
            color: !no_color,
            light,
        }
    }

    pub const fn colored() -> Theme {
        Theme {
            color: true,
            light: false,
        }
    }

    pub const fn light() -> Theme {
        Theme {
            color: true,
            light: true,
        }
    }

    pub const fn monochrome() -> Theme {
        Theme {
            color: false,
            light: false,
        }
    }

    /// `c` as this palette draws it: on a light background the pale colours are too faint
    /// and become their dark counterparts.
    fn fg(self, c: Color) -> Style {
        if !self.color {
            return Style::new();
        }
        let c = if self.light {
            match c {
                Color::Cyan => Color::Blue,
                Color::Yellow => Color::Rgb(150, 90, 0),
                Color::Green => Color::Rgb(0, 120, 0),
                Color::Gray => Color::DarkGray,
                Color::DarkGray => Color::Rgb(110, 110, 110),
                Color::Magenta => Color::Rgb(140, 0, 140),
                other => other,
            }
        } else {
            c
        };
        Style::new().fg(c)
    }

    pub fn plain(self) -> Style {
        Style::new()
    }

    /// The title bar: inverted so it reads as a bar in any palette.
    pub fn title(self) -> Style {
        if self.color && self.light {
            Style::new().fg(Color::White).bg(Color::Blue)
        } else if self.color {
            Style::new().fg(Color::Black).bg(Color::Cyan)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    pub fn dim(self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn border(self) -> Style {
        self.fg(Color::Gray)
    }

    pub fn accent(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }

    pub fn user(self) -> Style {
        self.fg(Color::Magenta)
    }

    /// The hint bar: the one line that tells the user what to do next.
    pub fn hint(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::ITALIC)
    }

    /// A question the engine is waiting on: hard to miss.
    pub fn prompt(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    pub fn status(self, s: AgentStatus) -> Style {
        match s {
            AgentStatus::Idle => self.plain(),
            AgentStatus::Working => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            AgentStatus::Done => self.fg(Color::Green),
            AgentStatus::Failed => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }
}

/// The word a card shows for a status.
pub fn status_word(s: AgentStatus) -> &'static str {
    match s {
        AgentStatus::Idle => "idle",
        AgentStatus::Working => "working",
        AgentStatus::Done => "done",
        AgentStatus::Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monochrome_keeps_modifiers_only() {
        let t = Theme::monochrome();
        assert_eq!(t.warn(), Style::new());
        assert!(t.title().add_modifier.contains(Modifier::REVERSED));
        assert_eq!(t.status(AgentStatus::Done).fg, None);
        assert_eq!(
            Theme::colored().status(AgentStatus::Done).fg,
            Some(Color::Green)
        );
        // The light palette keeps every role distinct and darkens the pale colours.
        let l = Theme::light();
        assert_eq!(l.accent().fg, Some(Color::Blue));
        assert_ne!(l.warn().fg, Theme::colored().warn().fg);
        assert_eq!(l.title().bg, Some(Color::Blue));
    }
}
