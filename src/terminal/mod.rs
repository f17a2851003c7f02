//! Layer 1, the terminal: colours and styles, the waiting spinner, QR codes, opening a browser,
//! and giving the terminal back on Ctrl-C. May use `base` only.

pub mod browser;
pub mod interrupt;
pub mod qr;
pub mod spinner;
pub mod style;
