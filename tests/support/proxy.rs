//! A tiny HTTP CONNECT proxy on 127.0.0.1 for the network tests: it records every CONNECT
//! target and tunnels to that port on 127.0.0.1, whatever the host name (so a made-up name
//! like `idp.latchkey.test` reaches the test provider). It stops when dropped, and by itself
//! after `LIFETIME`, so a failing test cannot leave it behind.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LIFETIME: Duration = Duration::from_secs(120);
/// A tunnel idle this long is closed.
const IDLE: Duration = Duration::from_secs(30);
const MAX_HEAD: usize = 8 * 1024;

pub struct ConnectProxy {
    pub port: u16,
    connects: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl ConnectProxy {
    /// A proxy that opens every tunnel it is asked for.
    pub fn start() -> ConnectProxy {
        Self::answering(None)
    }

    /// A proxy that refuses every CONNECT with this status (407, 403, ...).
    pub fn refusing(status: u16) -> ConnectProxy {
        Self::answering(Some(status))
    }

    fn answering(refusal: Option<u16>) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test proxy");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let connects = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (connects.clone(), stop.clone());
        std::thread::spawn(move || {
            let until = Instant::now() + LIFETIME;
            while !stopped.load(Ordering::Relaxed) && Instant::now() < until {
                match listener.accept() {
                    Ok((client, _)) => {
                        let seen = seen.clone();
                        std::thread::spawn(move || serve(client, &seen, refusal));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        ConnectProxy {
            port,
            connects,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every CONNECT target so far (`host:port`), in order.
    pub fn connects(&self) -> Vec<String> {
        self.connects.lock().unwrap().clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(mut client: TcpStream, seen: &Mutex<Vec<String>>, refusal: Option<u16>) {
    let _ = client.set_nonblocking(false);
    let _ = client.set_read_timeout(Some(IDLE));
    let Some(head) = read_head(&mut client) else {
        return;
    };
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let mut parts = request_line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    seen.lock().unwrap().push(target.to_owned());
    if let Some(status) = refusal {
        let _ = write!(
            client,
            "HTTP/1.1 {status} Refused by the test proxy\r\ncontent-length: 0\r\n\r\n"
        );
        return;
    }
    let port = target
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok());
    let Some(upstream) = port.and_then(|p| TcpStream::connect(("127.0.0.1", p)).ok()) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .is_err()
    {
        return;
    }
    let _ = upstream.set_read_timeout(Some(IDLE));
    let (Ok(client_reader), Ok(upstream_writer)) = (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let forward = std::thread::spawn(move || pipe(client_reader, upstream_writer));
    pipe(upstream, client);
    let _ = forward.join();
}

/// The request head, up to the blank line, read a byte at a time so nothing of the tunnel
/// that follows is consumed.
fn read_head(client: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_HEAD || client.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).ok()
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}
