//! SOCKS5 proxies end to end, through a real OpenSSH dynamic forward (`ssh -D`) to a real sshd:
//! `socks5h://` and `socks5://` in the profile, `ALL_PROXY` after `HTTPS_PROXY`, `NO_PROXY`,
//! the refusal to send a plain-http provider's tokens through one, and a forward that is gone.
//! What went through the forward is read in sshd's log (`LogLevel DEBUG` names the target of
//! every connection it opens for the forward).

use crate::support::proxy::ConnectProxy;
use crate::support::sshd::{DynamicForward, Sshd};
use crate::support::{self, Idp, Run, World, age_tokens, https_ca, paste_login, trusting_https};
use std::time::{Duration, Instant};

/// A provider under a made-up, non-loopback name: this machine cannot resolve it, and neither
/// can sshd, so only a proxy that is handed the name (`socks5h://`) passes it on, and what
/// happened shows in sshd's log.
const FAR_HOST: &str = "idp.latchkey.test";

/// An sshd that logs the target of each forwarded connection, and an `ssh -D` to it.
fn forward() -> (Sshd, DynamicForward) {
    let sshd = Sshd::start_with("LogLevel DEBUG\n");
    let forward = sshd.dynamic_forward();
    (sshd, forward)
}

/// How many connections sshd has opened (or tried to) for forwards to `host` at `port`.
fn opened(sshd: &Sshd, host: &str, port: u16) -> usize {
    let target = format!("target {host} port {port}");
    sshd.log()
        .lines()
        .filter(|l| l.contains("direct_tcpip") && l.contains(&target))
        .count()
}

/// Waits (a little: the log is read from a pipe) until sshd has opened at least `count`
/// connections to `host:port`, and returns how many; fails with sshd's log if it has not.
fn opened_at_least(sshd: &Sshd, host: &str, port: u16, count: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = opened(sshd, host, port);
        if now >= count {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{now} connections went through the forward to {host}:{port}, not {count}; sshd said:\n{}",
            sshd.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A refresh: an access token valid for an hour is not valid for two.
fn refresh(world: &World) -> Run {
    age_tokens(world, 60);
    world.run(&["token", "--min-valid", "2h"])
}

/// A world whose one profile is the HTTPS provider under `FAR_HOST`, with `extra` lines.
fn far_world(idp: &Idp, extra: &str) -> World {
    let far = idp.issuer.replace("127.0.0.1", FAR_HOST);
    let world = World::new();
    world.write_profiles(&format!(
        "[profiles.local]\nissuer = \"{far}\"\nclient_id = \"{}\"\nca_file = \"{}\"\n{extra}",
        support::CLIENT_ID,
        https_ca(idp)
    ));
    world
}

#[test]
fn a_login_and_refreshes_go_through_an_ssh_forward_as_socks5h_and_a_dead_one_is_named() {
    let idp = Idp::shared_https();
    let (sshd, mut forward) = forward();
    let proxy = forward.url("socks5h");
    let world = trusting_https(idp, &format!("proxy = \"{proxy}\""));
    paste_login(&world, idp).expect(0);
    let after_login = opened_at_least(&sshd, "127.0.0.1", idp.port, 1);
    refresh(&world).expect(0);
    opened_at_least(&sshd, "127.0.0.1", idp.port, after_login + 1);

    // The forward ends with its SSH session: nothing can be sent, and the error says through
    // what, and where that came from.
    forward.stop();
    refresh(&world)
        .expect(6)
        .stderr_has(&format!(
            "cannot connect to the proxy {proxy} (from the profile's `proxy`)"
        ))
        .stderr_has("ssh -D");
}

#[test]
fn socks5_resolves_the_providers_name_here_and_socks5h_hands_it_to_the_proxy() {
    let idp = Idp::shared_https();
    let (sshd, forward) = forward();
    // socks5:// with an address: the whole login through the forward.
    let world = trusting_https(idp, &format!("proxy = \"{}\"", forward.url("socks5")));
    paste_login(&world, idp).expect(0);
    opened_at_least(&sshd, "127.0.0.1", idp.port, 1);

    // A name only the far side might know: socks5:// looks it up here and fails before the
    // proxy is asked anything; socks5h:// hands the name itself to sshd.
    let run = far_world(idp, &format!("proxy = \"{}\"", forward.url("socks5")))
        .run(support::PASTE_LOGIN)
        .expect(6);
    run.stderr_has(&format!("cannot resolve host {FAR_HOST}; with socks5://"))
        .stderr_has("socks5h://");
    assert_eq!(opened(&sshd, FAR_HOST, idp.port), 0, "{}", sshd.log());
    // sshd cannot resolve it either: OpenSSH's client then closes the SOCKS connection
    // without an answer, which is said as the proxy's failure to connect (and retried).
    far_world(idp, &format!("proxy = \"{}\"", forward.url("socks5h")))
        .run(support::PASTE_LOGIN)
        .expect(6)
        .stderr_has(&format!(
            "the proxy {} (from the profile's `proxy`) did not open a connection to {FAR_HOST}:{}: it closed the connection",
            forward.url("socks5h"),
            idp.port
        ))
        .stderr_has("ssh -D");
    assert_eq!(
        opened_at_least(&sshd, FAR_HOST, idp.port, 3),
        3,
        "three attempts"
    );
}

#[test]
fn all_proxy_is_honoured_after_https_proxy_and_no_proxy_still_bypasses_it() {
    let idp = Idp::shared_https();
    let (sshd, forward) = forward();
    let socks = forward.url("socks5h");
    let world = far_world(idp, "");
    world
        .run_env(support::PASTE_LOGIN, &[("ALL_PROXY", socks.as_str())])
        .expect(6)
        .stderr_has(&format!("proxy {socks} (from ALL_PROXY)"));
    // Three attempts each: the proxy's failure to connect is retried, as nothing was sent.
    opened_at_least(&sshd, FAR_HOST, idp.port, 3);
    world
        .run_env(support::PASTE_LOGIN, &[("all_proxy", socks.as_str())])
        .expect(6)
        .stderr_has(&format!("proxy {socks} (from all_proxy)"));
    let through_all = opened_at_least(&sshd, FAR_HOST, idp.port, 6);

    // NO_PROXY lists the host: direct, where the made-up name does not resolve.
    world
        .run_env(
            support::PASTE_LOGIN,
            &[
                ("ALL_PROXY", socks.as_str()),
                ("NO_PROXY", ".latchkey.test"),
            ],
        )
        .expect(6)
        .stderr_has(&format!("cannot resolve host {FAR_HOST}"));
    // The scheme's own variable comes first, as in curl.
    let connect = ConnectProxy::start();
    let connect_url = connect.url();
    world
        .run_env(
            support::PASTE_LOGIN,
            &[
                ("ALL_PROXY", socks.as_str()),
                ("HTTPS_PROXY", connect_url.as_str()),
            ],
        )
        .expect(6)
        .stderr_has("(from HTTPS_PROXY)");
    assert_eq!(connect.connects(), [format!("{FAR_HOST}:{}", idp.port)]);
    // A provider on this machine is never proxied from the environment: the whole login, direct.
    let direct = trusting_https(idp, "");
    direct.set_env("ALL_PROXY", &socks);
    paste_login(&direct, idp).expect(0);
    assert_eq!(
        opened(&sshd, FAR_HOST, idp.port),
        through_all,
        "{}",
        sshd.log()
    );
    assert_eq!(opened(&sshd, "127.0.0.1", idp.port), 0, "{}", sshd.log());
}

#[test]
fn a_new_networks_socks_proxy_is_fine_for_tls_but_never_for_plain_http_tokens() {
    let (sshd, forward) = forward();
    let socks = forward.url("socks5h");
    // Logged in directly; refreshed through a SOCKS proxy set later (LATCHKEY_PROXY): it
    // tunnels TLS and reads nothing, so the store's binding allows it.
    let idp = Idp::shared_https();
    let world = trusting_https(idp, "");
    paste_login(&world, idp).expect(0);
    world.set_env("LATCHKEY_PROXY", &socks);
    refresh(&world).expect(0);
    opened_at_least(&sshd, "127.0.0.1", idp.port, 1);

    // A plain-http provider's refresh token would cross the proxy in the clear: refused before
    // anything is sent.
    let plain = Idp::shared();
    let world = World::for_idp(plain, "");
    paste_login(&world, plain).expect(0);
    world.set_env("LATCHKEY_PROXY", &socks);
    refresh(&world)
        .expect(3)
        .stderr_has(&format!("in clear text through proxy {socks}"));
    assert_eq!(opened(&sshd, "127.0.0.1", plain.port), 0, "{}", sshd.log());
}

#[test]
fn doctor_and_profiles_show_name_the_socks_proxy_without_its_password() {
    let idp = Idp::shared_https();
    let (sshd, forward) = forward();
    // ssh -D asks for no authentication: the password is offered, and not needed.
    let proxy = format!("socks5h://alice:s3cret@127.0.0.1:{}", forward.port);
    let shown = format!("socks5h://alice:****@127.0.0.1:{}", forward.port);
    let world = trusting_https(idp, &format!("proxy = \"{proxy}\""));
    let doctor = world.run(&["doctor"]);
    doctor.stdout_has(&format!(
        "proxy: requests go through proxy {shown} (from the profile's `proxy`)"
    ));
    opened_at_least(&sshd, "127.0.0.1", idp.port, 1);
    let show = world.run(&["profiles", "show"]).expect(0);
    show.stdout_has(&shown);
    for run in [&doctor, &show] {
        assert!(
            !run.stdout.contains("s3cret") && !run.stderr.contains("s3cret"),
            "{run:?}"
        );
    }
}
