//! Layer 6, the login's moving parts: the loopback listener and the race between it and a pasted
//! response. May use every layer below (`base` … `store`).

pub mod callback;
pub mod race;
