//! latchkey's whole-binary tests, one test binary (`cargo test --test tests`): each file of
//! `tests/` is a module here, sharing `support` and, where tests can share them, one test
//! provider of each kind for the whole run. `cargo test --test tests agent::` runs one file's.

mod support;

mod agent;
mod architecture;
mod auth0;
mod bad_input;
mod cli;
mod device;
mod dumb_terminal;
mod escapes;
mod everyday;
mod generated;
mod hardening;
mod id_token;
mod idp_smoke;
mod lifecycle;
mod login;
mod logout;
mod loopback_refusals;
mod network;
mod provider_answers;
mod provider_settings;
mod provider_trust;
mod providers;
mod relogin;
mod setup;
mod shells;
mod socks;
mod sshd_harness;
mod terminal;
mod terminal_keys;
mod trust;
