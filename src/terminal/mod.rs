//! Layer 1, the terminal: colours and styles, the waiting spinner, the paste prompt's line
//! editing, QR codes, opening a browser, and the signals (Ctrl-C, Ctrl-Z, resize) that must
//! undo or redraw what latchkey drew. May use `base` only.

pub mod browser;
pub mod line_editor;
pub mod qr;
pub mod screen;
pub mod signals;
pub mod spinner;
pub mod style;
pub mod tty;
