//! Hardening, whole binary against the real provider in `tests/idp`:
//!
//! - crash safety: `latchkey` SIGKILLed at random moments while a login stores its tokens and
//!   while `token` refreshes leaves the old or the new complete token file, never a lock held,
//!   and no temporary files beyond what a kill mid-write leaves (cleaned by a later write);
//! - the loopback listener under abuse (slowloris, endless headers, a 1 MB request line,
//!   non-HTTP bytes, 200 idle connections, wrong method, path and state, markup in
//!   `error_description`) stays bounded and still completes the login;
//! - secrets (tokens, code, PKCE verifier, state, nonce, device code, key, passphrase) never
//!   reach any output, even with `LATCHKEY_LOG=debug`, nor the browser's argv or environment;
//! - files 0600 and directories 0700 whatever the umask.
//!
//! The kill tests run a few iterations by default. `LATCHKEY_SOAK=1` runs 200 of each (or
//! `LATCHKEY_SOAK=N` for N ≥ 200); `LATCHKEY_SOAK_SEED` replays a run's random kill moments.

use crate::support::hardening::{
    lock_is_free, mode_of, open_token_file, run_bounded, temp_files, wait_bounded,
};
use crate::support::{
    Idp, PASTE_LOGIN, Run, Session, World, age_tokens, approve, approved_paste_login, browse,
    deliver_redirect, logged_in, loopback_login, loopback_port, paste_login, query_param, stored,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// Longest any single latchkey run may take before the test calls it hung.
const RUN_BOUND: Duration = Duration::from_secs(20);
/// Forces a refresh with the 30 s access tokens of the refresh provider.
const REFRESH: &[&str] = &["token", "--min-valid", "60"];

// ---------------------------------------------------------------------------------------------
// Crash safety

const SOAK_ITERATIONS: usize = 200;
const DEFAULT_REFRESH_KILLS: usize = 20;
/// Each login iteration drives the provider's pages (about a second), so CI runs fewer.
const DEFAULT_LOGIN_KILLS: usize = 8;

/// How many kills, and the seeded randomness that places them.
struct KillPlan {
    name: &'static str,
    iterations: usize,
    seed: u64,
    rng: StdRng,
}

impl KillPlan {
    fn new(name: &'static str, default_iterations: usize) -> KillPlan {
        let iterations = match std::env::var("LATCHKEY_SOAK") {
            Ok(value) => value
                .trim()
                .parse::<usize>()
                .unwrap_or(0)
                .max(SOAK_ITERATIONS),
            Err(_) => default_iterations,
        };
        let seed = std::env::var("LATCHKEY_SOAK_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64)
            });
        // Shown by the harness when the test fails, and with --nocapture.
        eprintln!(
            "{name}: {iterations} kills, seed {seed} (replay with LATCHKEY_SOAK_SEED={seed})"
        );
        KillPlan {
            name,
            iterations,
            seed,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// A kill moment within `window` (a little longer than an uncut run): half spread evenly
    /// over all of it, half over its last 40 %, where the tokens are encrypted and written.
    fn delay(&mut self, window: Duration) -> Duration {
        let micros = u64::try_from(window.as_micros()).unwrap_or(u64::MAX);
        let from = if self.rng.r#gen::<bool>() {
            0
        } else {
            micros / 10 * 6
        };
        Duration::from_micros(self.rng.gen_range(from..=micros))
    }

    /// What a failure message needs to reproduce the run.
    fn context(&self, iteration: usize) -> String {
        format!(
            "{} kill {}/{} (LATCHKEY_SOAK_SEED={})",
            self.name,
            iteration + 1,
            self.iterations,
            self.seed
        )
    }
}

/// What one kill found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Killed before the new file replaced the old one.
    KilledOld,
    /// Killed after the new file was in place.
    KilledNew,
    /// The run had finished before the kill came.
    Finished,
}

#[derive(Debug, Default)]
struct Tally {
    killed_old: usize,
    killed_new: usize,
    finished: usize,
    /// Kills between the provider's rotation and the save: the grant was lost, not the file.
    grants_lost: usize,
    /// Temporary files kills left behind, and the most present at once.
    temps_left: usize,
    most_temps_at_once: usize,
}

impl Tally {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::KilledOld => self.killed_old += 1,
            Outcome::KilledNew => self.killed_new += 1,
            Outcome::Finished => self.finished += 1,
        }
    }
}

/// One kill test from kill to kill: its plan, the recent uncut timings the kills are spread
/// over, what the kills found, and which processes were killed (their temporary files may
/// stay). Both kill tests run the same loop around it.
struct Soak {
    plan: KillPlan,
    recent: RecentTimings,
    tally: Tally,
    killed: HashSet<u32>,
}

impl Soak {
    fn new(name: &'static str, default_iterations: usize) -> Soak {
        Soak {
            plan: KillPlan::new(name, default_iterations),
            recent: RecentTimings::default(),
            tally: Tally::default(),
            killed: HashSet::new(),
        }
    }

    /// Times `runs` uncut runs before the first kill, so the first spread fits the machine.
    fn calibrate(&mut self, runs: usize, mut uncut: impl FnMut() -> Duration) {
        for _ in 0..runs {
            self.recent.add(uncut());
        }
        eprintln!(
            "{}: uncut runs take about {:?} at first",
            self.plan.name,
            self.recent.median()
        );
    }

    /// The next kill moment, spread over the median uncut run and a little more: most kills
    /// land while a run is under way, some after it has finished.
    fn next_delay(&mut self) -> Duration {
        self.plan.delay(self.recent.median() * 11 / 10)
    }

    /// What the kills found (shown with --nocapture, and when the test fails).
    fn report(&self) {
        eprintln!(
            "{}: {:?}; uncut runs lately took about {:?}",
            self.plan.name,
            self.tally,
            self.recent.median()
        );
    }

    /// Classifies a kill and checks what it left: the token file is the old one or a new complete
    /// one, the lock is free, and every temporary file is a private one of a killed process.
    fn check_after_kill(
        &mut self,
        world: &World,
        old_file: &[u8],
        status: ExitStatus,
        pid: u32,
        ctx: &str,
    ) -> Outcome {
        let was_killed = status.signal() == Some(libc::SIGKILL);
        if was_killed {
            self.killed.insert(pid);
        } else {
            assert_eq!(
                status.code(),
                Some(0),
                "{ctx}: latchkey failed on its own ({status})"
            );
        }
        let now = std::fs::read(world.token_file())
            .unwrap_or_else(|e| panic!("{ctx}: the token file is gone: {e}"));
        let tokens = open_token_file(world)
            .unwrap_or_else(|why| panic!("{ctx}: the token file is not a complete one: {why}"));
        assert!(
            !tokens.access_token.secret().is_empty(),
            "{ctx}: an empty access token"
        );
        let outcome = match (was_killed, now.as_slice() == old_file) {
            (false, _) => Outcome::Finished,
            (true, true) => Outcome::KilledOld,
            (true, false) => Outcome::KilledNew,
        };
        if let Err(why) = lock_is_free(world) {
            panic!("{ctx}: the killed latchkey left its lock held: {why}");
        }
        for dir in [world.tokens_dir(), world.store_dir()] {
            let temps = temp_files(&dir);
            for temp in &temps {
                assert!(
                    self.killed.contains(&temp.pid),
                    "{ctx}: {} was left by a latchkey that was not killed (pid {})",
                    temp.path.display(),
                    temp.pid
                );
                assert_eq!(
                    temp.mode,
                    0o600,
                    "{ctx}: {} is not private",
                    temp.path.display()
                );
            }
            if temps.iter().any(|t| t.pid == pid) {
                self.tally.temps_left += 1;
            }
            self.tally.most_temps_at_once = self.tally.most_temps_at_once.max(temps.len());
        }
        self.tally.count(outcome);
        outcome
    }
}

/// Makes every temporary file look minutes old, as leftovers of long-dead processes would.
fn age_temp_files(world: &World) -> usize {
    let old = SystemTime::now() - Duration::from_secs(600);
    let mut aged = 0;
    for dir in [world.tokens_dir(), world.store_dir()] {
        for temp in temp_files(&dir) {
            let file = std::fs::File::options()
                .write(true)
                .open(&temp.path)
                .unwrap_or_else(|e| panic!("{}: {e}", temp.path.display()));
            file.set_modified(old).unwrap();
            aged += 1;
        }
    }
    aged
}

fn assert_no_temp_files(world: &World, ctx: &str) {
    for dir in [world.tokens_dir(), world.store_dir()] {
        let temps = temp_files(&dir);
        assert!(
            temps.is_empty(),
            "{ctx}: stale temporary files were not cleaned: {temps:?}"
        );
    }
}

/// The latest few durations of something, for a median that follows the machine's load.
#[derive(Default)]
struct RecentTimings(std::collections::VecDeque<Duration>);

impl RecentTimings {
    const KEPT: usize = 9;

    fn add(&mut self, took: Duration) {
        if self.0.len() == Self::KEPT {
            self.0.pop_front();
        }
        self.0.push_back(took);
    }

    fn median(&self) -> Duration {
        let mut sorted: Vec<Duration> = self.0.iter().copied().collect();
        sorted.sort();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    }
}

fn token_requests(idp: &Idp) -> u64 {
    idp.counters()["token"].as_u64().unwrap_or(0)
}

#[test]
fn sigkill_during_refresh_leaves_the_old_or_the_new_file_and_no_lock() {
    let mut soak = Soak::new("refresh", DEFAULT_REFRESH_KILLS);
    let idp = Idp::start(&["--access-ttl", "30"]);
    let world = logged_in(&idp, "");

    // How long an uncut refresh takes here: the kills are spread over that and a little more,
    // so most land while one runs and some after it has finished. It varies with the load, so
    // it is the median of the latest uncut refreshes, which each iteration adds to.
    soak.calibrate(5, || {
        age_tokens(&world, 10);
        let started = Instant::now();
        run_bounded(world.cmd(REFRESH), RUN_BOUND, "a refresh").expect(0);
        started.elapsed()
    });

    for iteration in 0..soak.plan.iterations {
        let ctx = soak.plan.context(iteration);
        // Past the just-issued window, with less than --min-valid left: this run refreshes.
        age_tokens(&world, 10);
        let old_file = std::fs::read(world.token_file()).unwrap();
        let requests_before = token_requests(&idp);
        let delay = soak.next_delay();
        let started = Instant::now();
        let mut child = world
            .cmd(REFRESH)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        // A run that ends before its kill is timed too: when the spread is too wide for the
        // machine's pace now, these pull it back.
        if wait_bounded(&mut child, delay.saturating_sub(started.elapsed())).is_some() {
            soak.recent.add(started.elapsed());
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        let outcome = soak.check_after_kill(&world, &old_file, status, pid, &ctx);

        // The next latchkey is not held up by anything the killed one left.
        let file_before_next = std::fs::read(world.token_file()).unwrap();
        let started = Instant::now();
        let next = run_bounded(world.cmd(REFRESH), RUN_BOUND, &ctx);
        if next.code == 0 && std::fs::read(world.token_file()).unwrap() != file_before_next {
            soak.recent.add(started.elapsed());
        }
        if next.code != 0 {
            // A kill after the provider rotated the refresh token but before the new one was
            // stored loses the grant (the old token is now a replay, and the provider revokes
            // the grant on reuse): the next run must say so and keep the file readable.
            let killed_request_arrived = token_requests(&idp) >= requests_before + 2;
            assert!(
                next.code == 4
                    && next.stderr.contains("invalid_grant")
                    && outcome == Outcome::KilledOld
                    && killed_request_arrived,
                "{ctx}: after a {outcome:?} kill the next refresh failed\n--- stderr\n{}",
                next.stderr
            );
            open_token_file(&world).unwrap_or_else(|why| panic!("{ctx}: {why}"));
            soak.tally.grants_lost += 1;
            paste_login(&world, &idp).expect(0);
        }
    }
    soak.report();

    // Leftovers of long-dead writers go with the next successful write.
    let aged = age_temp_files(&world);
    age_tokens(&world, 10);
    run_bounded(world.cmd(REFRESH), RUN_BOUND, "the last refresh").expect(0);
    assert_no_temp_files(&world, &format!("after {aged} leftovers were aged"));
    assert_eq!(
        soak.tally.killed_old + soak.tally.killed_new + soak.tally.finished,
        soak.plan.iterations
    );
}

/// A whole login by paste, timed from the paste to the exit.
fn timed_login(world: &World, idp: &Idp) -> Duration {
    let (mut session, _, redirect) = approved_paste_login(world, idp, &[]);
    session.paste(&redirect);
    let started = Instant::now();
    let status = session.wait_exit(RUN_BOUND).expect("an uncut login ends");
    assert!(status.success(), "{status}");
    started.elapsed()
}

#[test]
fn sigkill_during_login_storage_leaves_the_old_or_the_new_file_and_no_lock() {
    let mut soak = Soak::new("login", DEFAULT_LOGIN_KILLS);
    let idp = Idp::start(&[]);
    let world = World::for_idp(&idp, "");

    // A few uncut logins first, timed from the paste: the first leaves the old file every kill
    // is checked against, and the kills are spread over the median stretch (the code
    // exchange, the ID token's check, encryption and the write) and a little more.
    soak.calibrate(3, || timed_login(&world, &idp));
    for iteration in 0..soak.plan.iterations {
        let ctx = soak.plan.context(iteration);
        // The pace changes with the load (a soak runs for minutes): now and then an uncut
        // login keeps the spread in step.
        if iteration % 20 == 19 {
            soak.recent.add(timed_login(&world, &idp));
        }
        let old_file = std::fs::read(world.token_file()).unwrap();
        let (mut session, _, redirect) = approved_paste_login(&world, &idp, &[]);
        let delay = soak.next_delay();
        session.paste(&redirect);
        thread::sleep(delay);
        let pid = session.pid();
        let status = session.kill();
        let outcome = soak.check_after_kill(&world, &old_file, status, pid, &ctx);
        if outcome != Outcome::KilledOld {
            let tokens = open_token_file(&world).unwrap();
            assert!(
                latchkey::base::clock::unix_now().saturating_sub(tokens.obtained_at) < 60,
                "{ctx}: the replaced file does not hold this login's tokens"
            );
        }
    }
    soak.report();

    // Whatever the kills left, the stored login works, and a later login cleans up.
    run_bounded(world.cmd(&["token"]), RUN_BOUND, "token after the kills").expect(0);
    let aged = age_temp_files(&world);
    paste_login(&world, &idp).expect(0);
    assert_no_temp_files(&world, &format!("after {aged} leftovers were aged"));
}

// ---------------------------------------------------------------------------------------------
// The loopback listener under abuse

/// The listener's limits (src/login/callback.rs): a read may wait 10 s, a connection lives 15 s.
const LISTENER_READ_TIMEOUT: Duration = Duration::from_secs(10);
const LISTENER_DEADLINE: Duration = Duration::from_secs(15);
/// Slack over those limits for a loaded 2-core machine.
const SLACK: Duration = Duration::from_secs(3);
/// Well-formed requests are answered at once, however many abusers are connected.
const PROMPT: Duration = Duration::from_secs(3);

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect to the listener");
    stream
        .set_read_timeout(Some(LISTENER_DEADLINE + SLACK))
        .unwrap();
    stream
}

/// Reads until the server closes: what arrived, even if the connection was reset after.
fn read_answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => answer.extend_from_slice(&buffer[..read]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status of an HTTP answer; 0 when the server closed without one.
fn status_of(answer: &str) -> u16 {
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// Sends a whole request and returns the answer and how long it took.
fn exchange(port: u16, request: &[u8]) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = connect(port);
    let _ = stream.write_all(request);
    (read_answer(&mut stream), started.elapsed())
}

/// Streams `head`, then `filler` once and again until `limit`, while reading the answer;
/// returns it and how long until the server ended the connection.
fn flood(port: u16, head: &'static [u8], filler: Vec<u8>, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = connect(port);
    let mut writer = stream.try_clone().unwrap();
    let writing = thread::spawn(move || {
        if writer.write_all(head).is_err() {
            return;
        }
        // At least once, then again until the listener stops taking it or `limit` has passed.
        while writer.write_all(&filler).is_ok() && started.elapsed() < limit {}
    });
    let answer = read_answer(&mut stream);
    let took = started.elapsed();
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = writing.join();
    (answer, took)
}

/// Whether a read failed only because its timeout passed: the listener kept the connection
/// open that long.
fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// One byte a second after an unfinished request line: never a read timeout, only the deadline.
fn slowloris(port: u16) -> Duration {
    let mut stream = connect(port);
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    stream.write_all(b"GET /callback?code=").unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return started.elapsed(),
            Ok(read) => panic!(
                "the listener answered a request that never ended: {}",
                String::from_utf8_lossy(&buffer[..read])
            ),
            Err(e) if timed_out(&e) => {
                assert!(
                    started.elapsed() < LISTENER_DEADLINE + SLACK,
                    "a slowloris connection was still open after {:?}",
                    started.elapsed()
                );
                if stream.write_all(b"a").is_err() {
                    return started.elapsed();
                }
            }
            Err(_) => return started.elapsed(),
        }
    }
}

/// Connections that send nothing; returns how long until the last was closed by the listener.
fn idle_until_closed(mut connections: Vec<TcpStream>, started: Instant) -> Duration {
    let mut buffer = [0u8; 64];
    for stream in &mut connections {
        match stream.read(&mut buffer) {
            Ok(0) => {}
            Ok(_) => panic!("the listener answered a connection that sent nothing"),
            Err(e) if timed_out(&e) => {
                panic!(
                    "an idle connection was still open after {:?}",
                    started.elapsed()
                )
            }
            Err(_) => {}
        }
    }
    started.elapsed()
}

fn callback_request(method: &str, target: &str) -> Vec<u8> {
    format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .into_bytes()
}

/// Joins a thread, failing the test with the thread's own panic.
fn joined<T>(handle: thread::JoinHandle<T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[test]
fn the_loopback_listener_survives_abuse_and_the_login_completes() {
    let started = Instant::now();
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let (mut session, url, redirect_uri) = loopback_login(&world, idp);
    let state = query_param(&url, "state");
    let port = loopback_port(&redirect_uri);
    // The provider's redirect is fetched now and delivered only after the abuse.
    let approving = thread::spawn(move || approve(&url, idp, &[]));

    // 200 idle connections first: everything after is served while they are held.
    let idle_started = Instant::now();
    let idle: Vec<TcpStream> = (0..200).map(|_| connect(port)).collect();
    let idle = thread::spawn(move || idle_until_closed(idle, idle_started));
    let slow = thread::spawn(move || slowloris(port));
    let endless_headers = thread::spawn(move || {
        let filler: Vec<u8> = (0..100)
            .flat_map(|i| format!("X-Endless-{i}: {}\r\n", "v".repeat(40)).into_bytes())
            .collect();
        flood(
            port,
            b"GET /callback HTTP/1.1\r\nHost: 127.0.0.1\r\n",
            filler,
            Duration::from_secs(10),
        )
    });
    let huge_line = thread::spawn(move || {
        let mut request = b"GET /callback?pad=".to_vec();
        request.extend(std::iter::repeat_n(b'a', 1 << 20));
        request.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        flood(port, b"", request, Duration::ZERO)
    });
    let not_http = thread::spawn(move || {
        // A TLS ClientHello (someone trying https://) and seeded binary noise.
        let hello =
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\x01\x02\x03\r\n\r\n".to_vec();
        let mut rng = StdRng::seed_from_u64(10);
        let noise: Vec<u8> = (0..4096).map(|_| rng.r#gen()).collect();
        [exchange(port, &hello), exchange(port, &noise)]
    });
    let right_state = state.clone();
    let wrong_requests = thread::spawn(move || {
        let code = "abuse-code";
        [
            exchange(
                port,
                &callback_request(
                    "POST",
                    &format!("/callback?code={code}&state={right_state}"),
                ),
            ),
            exchange(
                port,
                &callback_request(
                    "GET",
                    &format!("/favicon.ico?code={code}&state={right_state}"),
                ),
            ),
            exchange(
                port,
                &callback_request("GET", &format!("/callback?code={code}&state=forged")),
            ),
        ]
    });

    let [
        (post, post_took),
        (other_path, path_took),
        (forged, forged_took),
    ] = joined(wrong_requests);
    assert_eq!(status_of(&post), 405, "{post}");
    assert!(post.contains("Allow: GET\r\n"), "{post}");
    assert_eq!(status_of(&other_path), 404, "{other_path}");
    assert_eq!(status_of(&forged), 400, "{forged}");
    assert!(forged.contains("still waiting"), "{forged}");
    for took in [post_took, path_took, forged_took] {
        assert!(
            took < PROMPT,
            "a plain request took {took:?} among the abusers"
        );
    }
    for (answer, took) in joined(not_http) {
        assert_eq!(status_of(&answer), 400, "{answer}");
        assert!(took < PROMPT, "non-HTTP bytes took {took:?} to refuse");
    }
    // 431 when the answer outran the reset that follows closing on unread input, else nothing.
    for (what, (answer, took)) in [
        ("endless headers", joined(endless_headers)),
        ("a 1 MB request line", joined(huge_line)),
    ] {
        assert!(
            matches!(status_of(&answer), 431 | 0),
            "{what}: {answer:.300}"
        );
        assert!(took < PROMPT + SLACK, "{what} held the connection {took:?}");
        eprintln!("abuse: {what}: HTTP {} after {took:?}", status_of(&answer));
    }
    let idle_took = joined(idle);
    assert!(
        idle_took < LISTENER_READ_TIMEOUT + SLACK,
        "idle connections were held {idle_took:?}"
    );
    let slow_took = joined(slow);
    assert!(
        slow_took < LISTENER_DEADLINE + SLACK,
        "the slowloris connection was held {slow_took:?}"
    );
    eprintln!(
        "abuse: 200 idle connections closed by {idle_took:?}, slowloris cut at {slow_took:?}"
    );

    assert!(
        session.is_running(),
        "latchkey ended during the abuse:\n{:?}",
        session.kill()
    );
    let redirect = joined(approving);
    assert!(redirect.starts_with(&redirect_uri), "{redirect}");
    deliver_redirect(idp, &redirect);
    session
        .finish()
        .expect(0)
        .stderr_has("Logged in as Alice Liddell (alice@example.com)");
    assert!(stored(&world).is_some());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the abuse test took {:?}",
        started.elapsed()
    );
}

#[test]
fn markup_in_error_description_is_escaped_and_ends_the_login_with_exit_5() {
    let idp = Idp::shared();
    let world = World::for_idp(idp, "");
    let (session, url, redirect_uri) = loopback_login(&world, idp);
    let state = query_param(&url, "state");
    let payload = "<script>alert(\"x\")</script><img src=x onerror='alert(1)'>&amp; \u{1b}[2J\u{1b}]0;owned\u{7}";
    let target = format!(
        "{redirect_uri}?error=access_denied&error_description={}&state={state}&iss={}",
        latchkey::net::url::form_encode(payload),
        latchkey::net::url::form_encode(&idp.issuer)
    );
    let mut response = idp.agent().get(&target).call().expect("the refusal");
    assert_eq!(response.status(), 400);
    let csp = response
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let page = response.body_mut().read_to_string().unwrap();
    for raw in ["<script", "<img", "onerror='", "\"x\"", "&amp; "] {
        assert!(
            !page.contains(raw),
            "{raw:?} reached the page unescaped:\n{page}"
        );
    }
    assert!(
        page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=&#39;alert(1)&#39;&gt;&amp;amp;"),
        "{page}"
    );
    let run = session.finish().expect(5);
    run.stderr_has("access_denied");
    assert!(
        !run.stderr.contains('\u{1b}') && !run.stderr.contains('\u{7}'),
        "terminal control characters from the provider reached stderr: {:?}",
        run.stderr
    );
    assert!(!world.token_file().exists());
}

// ---------------------------------------------------------------------------------------------
// Secrets never leak

/// Every secret value seen in a test, and every output latchkey produced in it.
struct LeakCheck {
    /// The authorize URL's line starts with this: it carries state and nonce by design.
    authorize_prefix: String,
    secrets: Vec<(String, String)>,
    outputs: Vec<(String, String, Vec<String>)>,
}

impl LeakCheck {
    fn new(idp: &Idp) -> LeakCheck {
        LeakCheck {
            authorize_prefix: format!("{}/auth?", idp.issuer),
            secrets: Vec::new(),
            outputs: Vec::new(),
        }
    }

    fn secret(&mut self, what: impl Into<String>, value: &str) {
        assert!(!value.is_empty(), "an empty secret");
        self.secrets.push((what.into(), value.to_owned()));
    }

    fn tokens(&mut self, label: &str, tokens: &latchkey::store::StoredTokens) {
        self.secret(
            format!("{label} access token"),
            tokens.access_token.secret(),
        );
        if let Some(refresh) = &tokens.refresh_token {
            self.secret(format!("{label} refresh token"), refresh.secret());
        }
        if let Some(id) = &tokens.id_token {
            self.secret(format!("{label} ID token"), id.secret());
        }
    }

    /// The state and nonce of an authorize URL, and the code and verifier the provider's token
    /// endpoint received last.
    fn code_login(&mut self, label: &str, url: &str, idp: &Idp) {
        self.secret(format!("{label} state"), &query_param(url, "state"));
        self.secret(format!("{label} nonce"), &query_param(url, "nonce"));
        let last = idp.get_json("/__test/last-request?endpoint=token");
        assert_eq!(last["params"]["grant_type"], "authorization_code", "{last}");
        for (name, what) in [
            ("code", "authorization code"),
            ("code_verifier", "PKCE verifier"),
        ] {
            let value = last["params"][name]
                .as_str()
                .expect("a token request param");
            self.secret(format!("{label} {what}"), value);
        }
    }

    /// Runs each of `commands` in `world`, which must succeed, and keeps its output: the
    /// commands after a login that print what latchkey knows, none of it secret.
    fn runs(&mut self, world: &World, commands: &[&[&str]]) {
        for args in commands {
            let run = world.run(args).expect(0);
            self.output(&args.join(" "), &run, &[]);
        }
    }

    /// A run's output; `allowed` values are what the command prints by design (the token it
    /// was asked for). The authorize URL's line carries state and nonce by design.
    fn output(&mut self, label: &str, run: &Run, allowed: &[&str]) {
        let text: String = run
            .stderr
            .lines()
            .filter(|line| !line.starts_with(&self.authorize_prefix))
            .chain(run.stdout.lines())
            .collect::<Vec<_>>()
            .join("\n");
        self.outputs.push((
            label.to_owned(),
            text,
            allowed.iter().map(|s| (*s).to_owned()).collect(),
        ));
    }

    /// No output holds a secret, whole or its last 16 characters (a truncated echo).
    fn assert_clean(&self) {
        assert!(
            self.outputs
                .iter()
                .any(|(_, text, _)| text.contains("debug: ")),
            "LATCHKEY_LOG=debug printed nothing: the check would prove little"
        );
        for (label, text, allowed) in &self.outputs {
            for (what, value) in &self.secrets {
                if allowed.contains(value) {
                    continue;
                }
                let tail = value.get(value.len().saturating_sub(16)..).unwrap_or(value);
                assert!(
                    !text.contains(value.as_str()) && (value.len() < 24 || !text.contains(tail)),
                    "the {what} appears in the output of {label}:\n{text}"
                );
            }
        }
    }
}

/// A world for `idp` (with `extra` profile lines) that logs at debug level, and the check of
/// its outputs: the leak tests must see everything latchkey can print.
fn debug_world(idp: &Idp, extra: &str) -> (World, LeakCheck) {
    let world = World::for_idp(idp, extra);
    world.set_env("LATCHKEY_LOG", "debug");
    (world, LeakCheck::new(idp))
}

/// A `$BROWSER` that records its arguments and environment, then does what a person does.
fn recording_browser(world: &World) -> std::path::PathBuf {
    let dir = world.dir.path().display();
    world.browser_script(
        "recording-browser.sh",
        &format!(
            "printf '%s\\n' \"$#\" > {dir}/browser-argc\n\
             for arg in \"$@\"; do printf '%s\\n' \"$arg\"; done > {dir}/browser-argv\n\
             env > {dir}/browser-env\n"
        ),
    )
}

/// Logs in through the recording browser and checks what it was given: the URL as its one
/// argument, and an environment without latchkey's variables or any secret.
fn browser_login(world: &World, idp: &Idp, check: &mut LeakCheck, label: &str) {
    let run = world
        .login_with_browser(&recording_browser(world))
        .expect(0);
    let url = run
        .stderr
        .lines()
        .find(|line| line.starts_with(&format!("{}/auth?", idp.issuer)))
        .expect("the authorize URL")
        .to_owned();
    check.code_login(label, &url, idp);
    check.output(label, &run, &[]);
    let read = |name: &str| world.read_file(name);
    assert_eq!(read("browser-argc").trim(), "1", "{}", read("browser-argv"));
    assert_eq!(read("browser-argv").trim_end(), url);
    let env = read("browser-env");
    assert!(
        !env.contains("LATCHKEY_"),
        "latchkey's variables reached the browser:\n{env}"
    );
    assert!(
        read("browser.log").starts_with("200"),
        "{}",
        read("browser.log")
    );
    check.outputs.push((
        format!("{label}: the browser's environment"),
        env,
        Vec::new(),
    ));
}

fn identity_key_line(world: &World) -> String {
    std::fs::read_to_string(world.store_dir().join("identity.txt"))
        .unwrap()
        .lines()
        .find(|line| line.starts_with("AGE-SECRET-KEY-"))
        .expect("a key line")
        .to_owned()
}

#[test]
fn no_secret_reaches_any_output_with_debug_logging() {
    let idp = Idp::start(&[]);
    let (world, mut check) = debug_world(&idp, "");

    let (mut session, url, redirect) = approved_paste_login(&world, &idp, &[]);
    session.paste(&redirect);
    let run = session.finish().expect(0);
    check.code_login("paste login", &url, &idp);
    check.output("paste login", &run, &[]);
    check.tokens("first login's", &stored(&world).unwrap());

    browser_login(&world, &idp, &mut check, "loopback login");
    let tokens = stored(&world).unwrap();
    check.tokens("second login's", &tokens);
    check.secret("age identity", &identity_key_line(&world));

    let access = tokens.access_token.secret().to_owned();
    let id = tokens.id_token.as_ref().unwrap().secret().to_owned();
    for format in ["raw", "header", "json", "exec-credential"] {
        let run = world.run(&["token", "--format", format]).expect(0);
        assert!(run.stdout.contains(&access), "{format}: {}", run.stdout);
        check.output(&format!("token --format {format}"), &run, &[&access]);
    }
    let run = world.run(&["token", "--id-token"]).expect(0);
    check.output("token --id-token", &run, &[&id]);

    // A refresh: more than the provider's hour asked for.
    age_tokens(&world, 10);
    let run = world.run(&["token", "--min-valid", "2h"]).expect(0);
    let refreshed = stored(&world).unwrap();
    assert_ne!(refreshed.access_token.secret(), access, "it refreshed");
    check.tokens("refreshed", &refreshed);
    check.output(
        "token (refreshing)",
        &run,
        &[refreshed.access_token.secret()],
    );

    check.runs(
        &world,
        &[
            &["status"],
            &["status", "--json"],
            &["profiles", "show"],
            &["profiles", "show", "--json"],
            &["logout"],
        ],
    );
    check.assert_clean();
}

#[test]
fn no_secret_reaches_any_output_in_passphrase_mode_nor_the_browser() {
    const PASSPHRASE: &str = "hardening-passphrase-k3Qz9vTx";
    let idp = Idp::start(&[]);
    let (world, mut check) = debug_world(&idp, "use_passphrase = true\nscrypt_work_factor = 10");
    world.set_env("LATCHKEY_PASSPHRASE", PASSPHRASE);
    check.secret("passphrase", PASSPHRASE);

    browser_login(&world, &idp, &mut check, "loopback login");
    let store = latchkey::store::TokenStore::at(world.store_dir());
    let key = latchkey::store::Key::Passphrase {
        passphrase: latchkey::base::secret::Passphrase::new(PASSPHRASE),
        work_factor: 10,
    };
    let tokens = store
        .read_sealed("local")
        .unwrap()
        .unwrap()
        .open(&key)
        .unwrap();
    check.tokens("login's", &tokens);
    let access = tokens.access_token.secret().to_owned();

    let run = world.run(&["token"]).expect(0);
    check.output("token", &run, &[&access]);
    check.runs(
        &world,
        &[&["status", "--json"], &["profiles", "show"], &["logout"]],
    );
    check.assert_clean();
}

#[test]
fn no_secret_reaches_any_output_in_the_device_flow() {
    let idp = Idp::start(&[]);
    let (world, mut check) = debug_world(&idp, "");
    let (session, url) = Session::device_login(&world, &idp, &["login", "--device"]);
    browse(&["device", &url], None);
    let run = session.finish().expect(0);
    let last = idp.get_json("/__test/last-request?endpoint=token");
    let device_code = last["params"]["device_code"]
        .as_str()
        .unwrap_or_else(|| panic!("no device_code in {last}"));
    check.secret("device code", device_code);
    check.tokens("device login's", &stored(&world).unwrap());
    check.secret("age identity", &identity_key_line(&world));
    check.output("login --device", &run, &[]);
    check.assert_clean();
}

/// The types that carry secrets through latchkey print none of them in `Debug`, so no
/// diagnostic or error message built from them can.
#[test]
fn debug_output_of_what_holds_secrets_is_redacted() {
    let secrets = latchkey::oauth::pkce::LoginSecrets::generate();
    let shown = format!("{secrets:?}");
    for value in [
        secrets.verifier.secret(),
        secrets.state.secret(),
        secrets.nonce.secret(),
    ] {
        assert!(!shown.contains(value), "{shown}");
    }
    let device: latchkey::oauth::device::DeviceAuthorization =
        serde_json::from_value(serde_json::json!({
            "device_code": "dev1ce-c0de-value", "user_code": "ABCD-EFGH",
            "verification_uri": "https://example.com/device", "expires_in": 600
        }))
        .unwrap();
    assert!(!format!("{device:?}").contains("dev1ce-c0de-value"));
    let key = latchkey::store::Key::Passphrase {
        passphrase: latchkey::base::secret::Passphrase::new("pa55-phrase-value"),
        work_factor: 10,
    };
    assert!(!format!("{key:?}").contains("pa55-phrase-value"));
    let tokens: latchkey::store::StoredTokens = serde_json::from_value(serde_json::json!({
        "version": 1, "access_token": "acc3ss-value", "refresh_token": "refr3sh-value",
        "id_token": "id-t0ken-value", "expires_at": null, "scope": null, "token_type": "Bearer",
        "issuer": "https://example.com", "client_id": "c", "audience": null, "obtained_at": 0
    }))
    .unwrap();
    let shown = format!("{tokens:?}");
    for value in ["acc3ss-value", "refr3sh-value", "id-t0ken-value"] {
        assert!(!shown.contains(value), "{shown}");
    }
}

/// A proxy password in the profile is shown nowhere (`profiles show` prints the proxy).
#[test]
fn a_proxy_password_is_never_shown() {
    const PASSWORD: &str = "pr0xy-Pa55word-7f3a";
    let idp = Idp::shared();
    let world = World::for_idp(
        idp,
        &format!("proxy = \"http://user:{PASSWORD}@127.0.0.1:9\""),
    );
    world.set_env("LATCHKEY_LOG", "debug");
    for args in [
        &["profiles", "show"][..],
        &["profiles", "show", "--json"],
        &["status", "--json"],
        &["token"],
    ] {
        let run = world.run(args);
        assert!(run.code >= 0 && !run.stderr.contains("panicked"), "{run:?}");
        assert!(
            !run.stdout.contains(PASSWORD) && !run.stderr.contains(PASSWORD),
            "{args:?} showed the proxy password: {run:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The umask

#[test]
fn files_0600_and_directories_0700_whatever_the_umask() {
    let idp = Idp::shared();
    for umask in ["000", "077", "0277"] {
        let world = World::for_idp(idp, "");
        let mut session = Session::from_command(world.cmd_under_umask(umask, PASTE_LOGIN));
        let url = session.authorize_url(idp);
        session.paste(&approve(&url, idp, &[]));
        session.finish().expect(0);
        // A refresh under the same umask: it takes the lock file again and rewrites the tokens.
        age_tokens(&world, 10);
        let before = std::fs::read(world.token_file()).unwrap();
        let mut refresh = world.cmd_under_umask(umask, &["token", "--min-valid", "2h"]);
        refresh.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = refresh.spawn().unwrap();
        let status = wait_bounded(&mut child, RUN_BOUND).expect("the refresh ends");
        let mut stderr = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
        assert!(status.success(), "umask {umask}: {status}\n{stderr}");
        assert_ne!(std::fs::read(world.token_file()).unwrap(), before);

        let store = world.store_dir();
        let tokens = world.tokens_dir();
        for (path, expected) in [
            (world.data_home(), 0o700),
            (store.clone(), 0o700),
            (tokens.clone(), 0o700),
            (world.token_file(), 0o600),
            (store.join("identity.txt"), 0o600),
            (tokens.join("local.lock"), 0o600),
            (tokens.join("local.provider.json"), 0o600),
        ] {
            assert_eq!(
                mode_of(&path),
                expected,
                "umask {umask}: {} is {:04o}",
                path.display(),
                mode_of(&path)
            );
        }
        let logout = run_bounded(
            world.cmd_under_umask(umask, &["logout"]),
            RUN_BOUND,
            "logout",
        );
        assert_eq!(logout.code, 0, "umask {umask}: {}", logout.stderr);
    }
}
