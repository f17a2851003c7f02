//! A QR code in the terminal: two modules per character cell with half blocks, so a typical
//! verification URL fits in 80 columns.

use qrcodegen::{QrCode, QrCodeEcc};

/// Modules of light margin around the code; scanners need a quiet zone.
const QUIET_ZONE: i32 = 2;

/// The QR code for `text` as lines of half-block characters, or `None` when it does not fit in
/// `max_width` columns. Light modules are drawn as blocks (the terminal's foreground colour),
/// which scans on dark backgrounds as printed and on light ones as an inverted code, which
/// phone cameras read too.
pub fn render(text: &str, max_width: usize) -> Option<String> {
    let code = QrCode::encode_text(text, QrCodeEcc::Low).ok()?;
    let size = code.size();
    let width = usize::try_from(size + 2 * QUIET_ZONE).ok()?;
    if width > max_width {
        return None;
    }
    let light = |x: i32, y: i32| {
        !(0..size).contains(&x) || !(0..size).contains(&y) || !code.get_module(x, y)
    };
    let mut out = String::new();
    let mut y = -QUIET_ZONE;
    while y < size + QUIET_ZONE {
        for x in -QUIET_ZONE..size + QUIET_ZONE {
            let top = light(x, y);
            let bottom = y + 1 >= size + QUIET_ZONE || light(x, y + 1);
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
        y += 2;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verification_url_fits_80_columns_in_half_the_rows() {
        let url = "https://dev-abc123.us.auth0.com/activate?user_code=ABCD-EFGH";
        let art = render(url, 80).unwrap();
        let lines: Vec<&str> = art.lines().collect();
        let width = lines[0].chars().count();
        assert!(width <= 80, "{width}");
        assert!(lines.iter().all(|l| l.chars().count() == width));
        // Half blocks: about half as many rows as columns.
        assert!(
            lines.len() <= width / 2 + 1,
            "{} rows for {width} columns",
            lines.len()
        );
        // The quiet zone is light all round.
        assert!(lines[0].chars().all(|c| c == '█'));
    }

    #[test]
    fn too_wide_is_none() {
        assert!(render(&"x".repeat(500), 40).is_none());
    }
}
