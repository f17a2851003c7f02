//! A QR code in the terminal: two modules per character cell with half blocks, so a typical
//! verification URL fits in 80 columns, with the 4-module quiet zone the standard asks for.
//!
//! With colour, every module is painted with an explicit colour — dark modules black, light ones
//! white, from the 256-colour palette's fixed cube, which themes do not remap — so the code scans
//! the same on a dark and a light terminal. Without colour (`NO_COLOR`, `TERM=dumb`) only
//! characters can be used: light modules are drawn as blocks in the terminal's foreground colour,
//! which is right on the usual light-on-dark terminal, and an inverted code on a dark-on-light
//! one, which phone cameras still read (and the URL and code are printed as text beside it).

use qrcodegen::{QrCode, QrCodeEcc};

/// Modules of light margin around the code (ISO/IEC 18004 asks for 4).
const QUIET_ZONE: i32 = 4;
/// The margin used when the terminal is too small for the full one: the margin is painted
/// explicitly (or drawn as blocks), so phone cameras still find the code's edges.
const NARROW_QUIET_ZONE: i32 = 2;
/// 256-colour palette entries with fixed RGB values: #000000 and #ffffff.
const BLACK: u8 = 16;
const WHITE: u8 = 231;

/// Why no code was drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotDrawn {
    /// The code needs `needed` columns; the terminal has fewer.
    TooNarrow { needed: usize },
    /// The code needs `needed` rows; fewer are left on the terminal.
    TooShort { needed: usize },
    /// The text is too long for any QR code.
    TooLong,
}

/// The QR code for `text` as lines of half-block characters, at most `max_width` columns wide
/// and `max_rows` rows high (with a narrower margin if that makes it fit); `colour` paints dark
/// and light modules explicitly (see the module's documentation).
pub fn render(
    text: &str,
    max_width: usize,
    max_rows: usize,
    colour: bool,
) -> Result<String, NotDrawn> {
    let code = QrCode::encode_text(text, QrCodeEcc::Low).map_err(|_| NotDrawn::TooLong)?;
    let size = code.size();
    let measure = |quiet: i32| {
        let modules = usize::try_from(size + 2 * quiet).unwrap_or(usize::MAX);
        (modules, modules.div_ceil(2))
    };
    let (width, rows) = measure(QUIET_ZONE);
    let quiet = if width <= max_width && rows <= max_rows {
        QUIET_ZONE
    } else {
        let (narrow_width, narrow_rows) = measure(NARROW_QUIET_ZONE);
        if narrow_width > max_width {
            return Err(NotDrawn::TooNarrow {
                needed: narrow_width,
            });
        }
        if narrow_rows > max_rows {
            return Err(NotDrawn::TooShort {
                needed: narrow_rows,
            });
        }
        NARROW_QUIET_ZONE
    };
    Ok(draw(&code, quiet, colour))
}

fn draw(code: &QrCode, quiet: i32, colour: bool) -> String {
    let size = code.size();
    let dark =
        |x: i32, y: i32| (0..size).contains(&x) && (0..size).contains(&y) && code.get_module(x, y);
    let mut out = String::new();
    let mut y = -quiet;
    while y < size + quiet {
        // The last row of an odd total height has no lower half: it is quiet zone, light.
        let has_bottom = y + 1 < size + quiet;
        let mut painted: Option<(bool, bool)> = None;
        for x in -quiet..size + quiet {
            let top = dark(x, y);
            let bottom = has_bottom && dark(x, y + 1);
            if colour {
                // Upper half in the foreground colour, lower half in the background colour.
                if painted != Some((top, bottom)) {
                    let shade = |is_dark: bool| if is_dark { BLACK } else { WHITE };
                    out.push_str(&format!("\x1b[38;5;{};48;5;{}m", shade(top), shade(bottom)));
                    painted = Some((top, bottom));
                }
                out.push('▀');
            } else {
                out.push(match (top, bottom) {
                    (false, false) => '█',
                    (false, true) => '▀',
                    (true, false) => '▄',
                    (true, true) => ' ',
                });
            }
        }
        if colour {
            out.push_str("\x1b[0m");
        }
        out.push('\n');
        y += 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://dev-abc123.us.auth0.com/activate?user_code=ABCD-EFGH";

    /// The module grid a rendering shows, read back from its characters and colours as a
    /// terminal would paint them with the given default foreground/background darkness.
    fn modules(art: &str, fg_dark: bool) -> Vec<Vec<bool>> {
        let mut rows = Vec::new();
        for line in art.lines() {
            let (mut top, mut bottom) = (Vec::new(), Vec::new());
            let mut colours = (fg_dark, !fg_dark);
            let mut rest = line;
            while let Some(c) = rest.chars().next() {
                if let Some(after) = rest.strip_prefix("\x1b[") {
                    let end = after.find('m').unwrap();
                    let codes: Vec<&str> = after[..end].split(';').collect();
                    if codes == ["0"] {
                        colours = (fg_dark, !fg_dark);
                    } else {
                        colours = (codes[2] == "16", codes[5] == "16");
                    }
                    rest = &after[end + 1..];
                    continue;
                }
                let (fg, bg) = colours;
                let (t, b) = match c {
                    '█' => (fg, fg),
                    '▀' => (fg, bg),
                    '▄' => (bg, fg),
                    _ => (bg, bg),
                };
                top.push(t);
                bottom.push(b);
                rest = &rest[c.len_utf8()..];
            }
            rows.push(top);
            rows.push(bottom);
        }
        rows
    }

    #[test]
    fn a_verification_url_fits_80_columns_with_a_4_module_quiet_zone() {
        for colour in [false, true] {
            let art = render(URL, 80, 100, colour).unwrap();
            let grid = modules(&art, false);
            let width = grid[0].len();
            assert!(width <= 80, "{width}");
            assert!(grid.iter().all(|row| row.len() == width));
            // Four light modules on every side.
            for row in grid.iter().take(4).chain(grid.iter().rev().skip(1).take(4)) {
                assert!(row.iter().all(|dark| !dark));
            }
            for row in &grid {
                assert!(row[..4].iter().chain(&row[width - 4..]).all(|dark| !dark));
            }
            // The finder pattern's dark corner sits just inside the quiet zone.
            assert!(grid[4][4] && grid[4][10] && grid[10][4]);
        }
    }

    #[test]
    fn with_colour_the_code_is_the_same_on_dark_and_light_terminals() {
        let art = render(URL, 80, 100, true).unwrap();
        assert_eq!(modules(&art, false), modules(&art, true));
        let plain = render(URL, 80, 100, false).unwrap();
        // Without colour, the theme decides: right on light-on-dark, inverted on dark-on-light.
        assert_eq!(modules(&plain, false), modules(&art, false));
        assert_ne!(modules(&plain, true), modules(&art, false));
    }

    #[test]
    fn too_narrow_says_how_wide_it_would_be() {
        assert_eq!(
            render(URL, 30, 100, false),
            Err(NotDrawn::TooNarrow { needed: 37 })
        );
        assert_eq!(
            render(&"x".repeat(5000), 400, 400, false),
            Err(NotDrawn::TooLong)
        );
    }

    #[test]
    fn a_short_terminal_gets_a_narrower_margin_or_a_reason() {
        // 33 modules + 2 x 4 of margin = 41 modules, 21 rows; with 2 of margin, 19 rows.
        let full = render(URL, 80, 21, false).unwrap();
        assert_eq!(full.lines().count(), 21);
        let narrow = render(URL, 80, 20, false).unwrap();
        assert_eq!(narrow.lines().count(), 19);
        let grid = modules(&narrow, false);
        assert!(
            grid[2][2] && !grid[1][1],
            "the finder pattern two modules in"
        );
        assert_eq!(
            render(URL, 80, 18, false),
            Err(NotDrawn::TooShort { needed: 19 })
        );
    }
}
