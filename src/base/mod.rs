//! Layer 0, the foundation: the error type and exit codes, secret newtypes, durations, the clock,
//! diagnostics and private files. Uses nothing else in latchkey; everything else may use it.

pub mod clock;
pub mod duration;
pub mod error;
pub mod files;
pub mod log;
pub mod process;
pub mod secret;
pub mod text;
