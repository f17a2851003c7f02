//! latchkey's whole-binary tests, one test binary (`cargo test --test tests`): each file of
//! `tests/` is a module here, sharing `support` and, where tests can share them, one test
//! provider of each kind for the whole run. `cargo test --test tests agent::` runs one file's.

mod support;

mod agent;
mod architecture;
mod auth0;
mod bad_input;
mod cli;
mod credential_helpers;
mod device;
mod dumb_terminal;
mod entra;
mod escapes;
mod everyday;
mod exec;
mod generated;
mod hardening;
mod id_token;
mod idp_smoke;
mod kubeconfig;
mod lifecycle;
mod login;
mod login_if_needed;
mod logout;
mod loopback_refusals;
mod network;
mod provider_answers;
mod provider_settings;
mod provider_trust;
mod providers;
mod real_browser;
mod relogin;
mod setup;
mod shells;
mod socks;
mod sshd_harness;
mod terminal;
mod terminal_keys;
mod trust;
