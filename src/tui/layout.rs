//! Where everything goes, as a pure function of the terminal size and a few facts about the
//! state. Used by the view to draw and by the reducer to size PgUp/PgDn, so both agree.
//!
//! Invariants: every area lies inside the screen and areas never overlap; space is given in
//! priority order (title, input, hint, log, cards, welcome), so a 20x5 terminal still shows
//! the title, a line of log, the hint and the input.

use ratatui::layout::Rect;

/// Card height with a border and three rows of content (1: a card as one line).
pub const CARD_ROWS: u16 = 5;
/// Narrowest card worth drawing.
const CARD_MIN_COLS: u16 = 26;
/// Most columns of cards, however wide the terminal.
const MAX_GRID_COLS: u16 = 8;
/// Width of a card drawn as one line on a small screen.
pub const LINE_CARD_COLS: u16 = 20;
/// Rows the welcome banner takes.
pub const WELCOME_ROWS: u16 = 2;

/// What the layout needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub cards: usize,
    pub input_rows: u16,
    pub welcome: bool,
}

/// The card grid: how many columns, how tall each card, how many cards fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Grid {
    pub area: Rect,
    pub cols: u16,
    pub card_rows: u16,
    /// Cards drawn; when fewer than all, the last slot says how many more there are.
    pub slots: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    pub title: Rect,
    pub welcome: Rect,
    pub grid: Grid,
    pub log: Rect,
    pub hint: Rect,
    pub input: Rect,
}

fn take_top(r: &mut Rect, rows: u16) -> Rect {
    let rows = rows.min(r.height);
    let out = Rect::new(r.x, r.y, r.width, rows);
    r.y += rows;
    r.height -= rows;
    out
}

fn take_bottom(r: &mut Rect, rows: u16) -> Rect {
    let rows = rows.min(r.height);
    r.height -= rows;
    Rect::new(r.x, r.y + r.height, r.width, rows)
}

/// Columns of cards for a screen `width` wide.
pub fn grid_cols(width: u16) -> u16 {
    (width / CARD_MIN_COLS).clamp(1, MAX_GRID_COLS)
}

pub fn compute(screen: Rect, needs: Needs) -> Areas {
    let mut rest = screen;
    let mut a = Areas {
        title: take_top(&mut rest, 1),
        ..Areas::default()
    };
    // Leave at least one row for the log while the input grows.
    let input_rows = needs
        .input_rows
        .clamp(1, 5)
        .min(rest.height.saturating_sub(2).max(1));
    a.input = take_bottom(&mut rest, input_rows);
    if rest.height >= 2 {
        a.hint = take_bottom(&mut rest, 1);
    }
    if needs.welcome && screen.height >= 20 {
        a.welcome = take_top(&mut rest, WELCOME_ROWS);
    }
    // Cards get at most 45% of the screen, and only when the log keeps four rows.
    if needs.cards > 0 && screen.height >= 12 && screen.width >= 20 {
        let budget = (screen.height * 45 / 100).min(rest.height.saturating_sub(4));
        let cols = grid_cols(screen.width).min(needs.cards as u16).max(1);
        let rows_needed = needs.cards.div_ceil(cols as usize) as u16;
        let mut chosen = None;
        for card_rows in [CARD_ROWS, 4, 3] {
            if rows_needed * card_rows <= budget {
                chosen = Some((card_rows, rows_needed));
                break;
            }
        }
        // Boxes that do not all fit become one line per card (name, state, time).
        let line_cols = (screen.width / LINE_CARD_COLS).clamp(1, MAX_GRID_COLS);
        let line_rows = needs.cards.div_ceil(line_cols as usize) as u16;
        let (card_rows, grid_rows, cols) = match chosen {
            Some((r, g)) => (r, g, cols),
            None if line_rows <= budget.max(1) && budget > 0 => (1, line_rows, line_cols),
            None => (1, budget, line_cols),
        };
        if grid_rows > 0 {
            let slots = (grid_rows as usize * cols as usize).min(needs.cards);
            a.grid = Grid {
                area: take_top(&mut rest, grid_rows * card_rows),
                cols,
                card_rows,
                slots,
            };
        }
    }
    a.log = rest;
    a
}

/// The rectangle of card `i` in the grid.
pub fn card_rect(g: &Grid, i: usize) -> Rect {
    let cols = g.cols.max(1);
    let col = (i % cols as usize) as u16;
    let row = (i / cols as usize) as u16;
    let base = g.area.width / cols;
    let extra = g.area.width % cols;
    // The first `extra` columns are one cell wider so the grid fills the width exactly.
    let x = g.area.x + col * base + col.min(extra);
    let w = base + u16::from(col < extra);
    Rect::new(x, g.area.y + row * g.card_rows, w, g.card_rows)
}

/// A box of at most `w` x `h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(cards: usize) -> Needs {
        Needs {
            cards,
            input_rows: 1,
            welcome: true,
        }
    }

    fn inside(outer: Rect, r: Rect) -> bool {
        r.area() == 0 || outer.union(r) == outer
    }

    #[test]
    fn every_size_fits_without_overlap() {
        for w in 1..=220u16 {
            for h in 1..=70u16 {
                let screen = Rect::new(0, 0, w, h);
                for cards in [0, 5, 16, 40] {
                    let a = compute(screen, needs(cards));
                    let parts = [a.title, a.welcome, a.grid.area, a.log, a.hint, a.input];
                    let total: u32 = parts.iter().map(|r| r.area()).sum();
                    assert!(total <= screen.area(), "{w}x{h}");
                    for (i, p) in parts.iter().enumerate() {
                        assert!(inside(screen, *p), "{w}x{h} part {i} {p:?}");
                        for q in &parts[i + 1..] {
                            assert!(p.intersection(*q).area() == 0, "{w}x{h} overlap");
                        }
                    }
                    for i in 0..a.grid.slots {
                        assert!(
                            inside(a.grid.area, card_rect(&a.grid, i)),
                            "{w}x{h} card {i}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_grid_reflows_with_the_width() {
        let a = compute(Rect::new(0, 0, 80, 24), needs(5));
        assert_eq!(a.grid.cols, 3);
        assert_eq!(a.grid.slots, 5);
        let a = compute(Rect::new(0, 0, 200, 60), needs(16));
        assert_eq!((a.grid.cols, a.grid.slots), (7, 16));
        // 40x12: six cards as one line each, two to a row, instead of one "+6 more" box.
        let small = compute(Rect::new(0, 0, 40, 12), needs(6));
        assert_eq!(
            (small.grid.card_rows, small.grid.cols, small.grid.slots),
            (1, 2, 6)
        );
        assert!(small.log.height >= 4);
        let tiny = compute(Rect::new(0, 0, 20, 5), needs(5));
        assert_eq!(tiny.grid.slots, 0);
        assert_eq!(
            (tiny.title.height, tiny.input.height, tiny.hint.height),
            (1, 1, 1)
        );
        assert!(tiny.log.height >= 1);
    }
}
