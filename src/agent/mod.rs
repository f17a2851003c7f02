//! Layer 7, the agent's wire: what `latchkey agent` and the commands that use it say to each
//! other over a Unix socket (`protocol`), where that socket is and who may talk to it
//! (`socket`), and the commands' side of a conversation (`client`). The agent itself, which
//! serves the requests with the layers below, is `commands::agent`. May use base … login.

pub mod client;
pub mod protocol;
pub mod socket;
