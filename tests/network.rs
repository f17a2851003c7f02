//! The network against the real provider: trusted roots (`ca_file`, `SSL_CERT_FILE`), proxies
//! (the profile's, the environment's, `NO_PROXY`, loopback never from the environment) through
//! a CONNECT proxy the tests run, and retries (5xx retried, OAuth errors never).

use crate::support;

use crate::support::proxy::ConnectProxy;
use crate::support::{Idp, Run, World, age_tokens, https_ca, paste_login, trusting_https};

/// A provider under a made-up, non-loopback name: only the test proxy (which sends every name
/// to 127.0.0.1) can reach it, and its certificate is for 127.0.0.1 and localhost only.
const FAR_HOST: &str = "idp.latchkey.test";

/// A world trusting the HTTPS provider that has logged in over TLS.
fn logged_in_over_tls(idp: &Idp) -> World {
    let world = trusting_https(idp, "");
    paste_login(&world, idp).expect(0);
    world
}

/// A provider of its own over HTTPS (its counters are the test's alone), a world logged in to
/// it, and the counters reset: where the tests of what follows a login count requests.
fn own_provider_logged_in() -> (Idp, World) {
    let idp = Idp::start(&["--https"]);
    let world = logged_in_over_tls(&idp);
    idp.reset();
    (idp, world)
}

/// A refresh: an access token valid for an hour is not valid for two.
fn refresh(world: &World) -> Run {
    age_tokens(world, 60);
    world.run(&["token", "--min-valid", "2h"])
}

/// A login to the HTTPS provider under `FAR_HOST` (a profile of its own, trusting the
/// provider's CA) with a test proxy as `HTTPS_PROXY`, and `env`: the proxy, to see what went
/// through it, and the run.
fn far_login_with_env_proxy(idp: &Idp, env: &[(&str, &str)]) -> (ConnectProxy, Run) {
    let proxy = ConnectProxy::start();
    let far = idp.issuer.replace("127.0.0.1", FAR_HOST);
    let world = World::new();
    world.write_profiles(&format!(
        "[profiles.local]\nissuer = \"{far}\"\nclient_id = \"{}\"\nca_file = \"{}\"\n",
        support::CLIENT_ID,
        https_ca(idp)
    ));
    let url = proxy.url();
    let mut vars = vec![("HTTPS_PROXY", url.as_str())];
    vars.extend_from_slice(env);
    let run = world.run_env(&["login", "--no-browser", "--no-loopback"], &vars);
    (proxy, run)
}

#[test]
fn ca_file_trusts_the_https_provider_for_login_and_refresh() {
    let world = logged_in_over_tls(Idp::shared_https());
    // This refreshes, over TLS.
    refresh(&world).expect(0);
}

#[test]
fn ssl_cert_file_trusts_the_https_provider() {
    let idp = Idp::shared_https();
    let world = World::for_idp(idp, "");
    world.set_env("SSL_CERT_FILE", &https_ca(idp));
    paste_login(&world, idp).expect(0);
}

#[test]
fn an_unknown_issuer_is_exit_6_naming_the_problem_and_the_fix() {
    let idp = Idp::shared_https();
    let world = World::for_idp(idp, "");
    let run = world
        .run(&["login", "--no-browser", "--no-loopback"])
        .expect(6);
    run.stderr_has("unknown issuer")
        .stderr_has(&format!("127.0.0.1:{}", idp.port))
        .stderr_has("ca_file")
        .stderr_has("SSL_CERT_FILE")
        .stderr_has("bundled Mozilla roots");
}

#[test]
fn an_unreadable_ca_file_is_a_configuration_error() {
    let idp = Idp::shared_https();
    let world = World::for_idp(idp, "ca_file = \"/nonexistent/corp-root.pem\"");
    world
        .run(&["login", "--no-browser", "--no-loopback"])
        .expect(3)
        .stderr_has("cannot read ca_file /nonexistent/corp-root.pem");
}

#[test]
fn discovery_login_and_refresh_go_through_the_profiles_proxy() {
    let idp = Idp::start(&["--https"]);
    let proxy = ConnectProxy::start();
    let world = trusting_https(&idp, &format!("proxy = \"{}\"", proxy.url()));
    paste_login(&world, &idp).expect(0);
    let target = format!("127.0.0.1:{}", idp.port);
    let after_login = proxy.connects();
    assert!(!after_login.is_empty(), "the login used the proxy");
    assert!(after_login.iter().all(|t| *t == target), "{after_login:?}");
    let counters = idp.counters();
    assert!(counters["discovery"].as_u64().unwrap() >= 1, "{counters}");
    assert_eq!(counters["token"], 1, "the code exchange: {counters}");

    idp.reset();
    refresh(&world).expect(0);
    assert_eq!(idp.counters()["token"], 1, "one refresh");
    let after_refresh = proxy.connects();
    assert!(
        after_refresh.len() > after_login.len(),
        "the refresh (a new process) opened a tunnel too: {after_refresh:?}"
    );
    assert!(after_refresh.iter().all(|t| *t == target));
}

#[test]
fn the_environments_proxy_is_used_for_a_remote_host() {
    let idp = Idp::shared_https();
    let (proxy, run) = far_login_with_env_proxy(idp, &[]);
    // The proxy reached the provider; its certificate is not for that name, which is what a
    // TLS-inspecting proxy with the wrong certificate looks like too.
    assert_eq!(proxy.connects(), [format!("{FAR_HOST}:{}", idp.port)]);
    run.expect(6)
        .stderr_has("name mismatch")
        .stderr_has(&format!("proxy {} (from HTTPS_PROXY)", proxy.url()));
}

#[test]
fn no_proxy_bypasses_the_environments_proxy() {
    let idp = Idp::shared_https();
    let (proxy, run) = far_login_with_env_proxy(idp, &[("NO_PROXY", "localhost,.latchkey.test")]);
    assert!(proxy.connects().is_empty(), "{:?}", proxy.connects());
    // Direct, the made-up name does not resolve: the message names the host.
    run.expect(6)
        .stderr_has(&format!("cannot resolve host {FAR_HOST}"));
}

#[test]
fn loopback_providers_are_never_proxied_from_the_environment() {
    let idp = Idp::shared_https();
    let proxy = ConnectProxy::start();
    let world = trusting_https(idp, "");
    for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "HTTP_PROXY"] {
        world.set_env(var, &proxy.url());
    }
    paste_login(&world, idp).expect(0);
    refresh(&world).expect(0);
    assert!(proxy.connects().is_empty(), "{:?}", proxy.connects());
}

#[test]
fn a_proxy_that_refuses_is_named_with_the_fix() {
    let idp = Idp::shared_https();
    let proxy = ConnectProxy::refusing(407);
    let world = trusting_https(idp, &format!("proxy = \"{}\"", proxy.url()));
    world
        .run(&["login", "--no-browser", "--no-loopback"])
        .expect(6)
        .stderr_has(&format!("proxy {}", proxy.url()))
        .stderr_has("407")
        .stderr_has("credentials");
    assert_eq!(proxy.connects().len(), 1, "a refusal is not retried");
}

#[test]
fn a_500_is_retried_and_the_refresh_succeeds() {
    let idp = Idp::start(&["--https"]);
    let world = trusting_https(&idp, "");
    idp.fault("discovery", "status_500", 1);
    paste_login(&world, &idp).expect(0);
    assert_eq!(idp.counters()["discovery"], 2, "discovery retried once");

    idp.reset();
    idp.fault("token", "status_500", 1);
    refresh(&world).expect(0);
    assert_eq!(idp.counters()["token"], 2, "one 500, then the refresh");
}

#[test]
fn invalid_grant_is_never_retried() {
    let (idp, world) = own_provider_logged_in();
    idp.fault("token", "invalid_grant", 1);
    refresh(&world).expect(4).stderr_has("invalid_grant");
    assert_eq!(idp.counters()["token"], 1, "exactly one token request");
}

#[test]
fn the_code_exchange_is_not_resent_after_a_500() {
    let idp = Idp::start(&["--https"]);
    let world = trusting_https(&idp, "");
    idp.fault("token", "status_500", 1);
    paste_login(&world, &idp).expect(6).stderr_has("HTTP 500");
    assert_eq!(
        idp.counters()["token"],
        1,
        "a one-time code is never sent twice"
    );
}

#[test]
fn revocation_is_retried() {
    let (idp, world) = own_provider_logged_in();
    idp.fault("revocation", "status_500", 1);
    world.run(&["logout"]).expect(0);
    // The refresh token (once refused, then accepted) and the access token.
    assert_eq!(idp.counters()["revocation"], 3);
}

#[test]
fn profiles_show_lists_the_network_settings() {
    let world = World::new();
    world.write_profiles(
        "[profiles.p]\nissuer = \"https://idp.example/\"\nclient_id = \"c\"\nconnect_timeout = \"5s\"\n\
         ca_file = \"/etc/corp-root.pem\"\nproxy = \"http://alice:s3cret@proxy.corp:3128\"\n",
    );
    let run = world.run(&["profiles", "show", "p", "--json"]).expect(0);
    assert!(!run.stdout.contains("s3cret"), "{}", run.stdout);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let settings = &json["settings"];
    assert_eq!(settings["connect_timeout"]["value"], 5, "{json}");
    assert_eq!(settings["http_timeout"]["value"], 30, "{json}");
    assert_eq!(settings["ca_file"]["value"], "/etc/corp-root.pem");
    assert_eq!(
        settings["proxy"]["value"],
        "http://alice:****@proxy.corp:3128"
    );
    world.write_profiles(
        "[profiles.p]\nissuer = \"https://idp.example/\"\nclient_id = \"c\"\nproxy = \"socks4://p:1080\"\n",
    );
    world
        .run(&["profiles", "show", "p"])
        .expect(3)
        .stderr_has("`proxy`")
        .stderr_has("SOCKS4");
}
