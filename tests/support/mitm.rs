//! The attacker's proxy: `tests/idp/mitm.js`, a TLS-intercepting proxy with a CA of its own.
//! Whatever latchkey sends through it over TLS it decrypts and records, when latchkey trusts
//! its CA; plain-http proxy requests it records as they are. It exits with the test binary.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

pub struct Mitm {
    pub port: u16,
    /// The attacker's CA certificate (PEM): what a planted `ca_file` would name.
    pub ca: PathBuf,
    _stdin: ChildStdin,
    child: Child,
}

impl Mitm {
    pub fn start() -> Mitm {
        let mut child = Command::new("node")
            .arg(super::idp_dir().join("mitm.js"))
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/idp/mitm.js (Node.js is required)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the intercepting proxy's readiness line");
        let ready: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("mitm.js did not say it was ready ({e}): {line:?}"));
        Mitm {
            port: ready["port"].as_u64().expect("port") as u16,
            ca: PathBuf::from(ready["ca"].as_str().expect("ca")),
            _stdin: child.stdin.take().unwrap(),
            child,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn get(&self, path: &str) -> serde_json::Value {
        let body = ureq::get(format!("{}{path}", self.url()))
            .call()
            .expect("ask the intercepting proxy")
            .into_body()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    /// Every request it read in the clear (decrypted, or sent to it as plain http).
    pub fn seen(&self) -> Vec<serde_json::Value> {
        self.get("/__mitm/seen")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Every tunnel it was asked to open (`host:port`).
    pub fn tunnels(&self) -> Vec<String> {
        self.get("/__mitm/tunnels")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect()
    }

    /// The bodies of what it read: where a refresh token would show.
    pub fn bodies(&self) -> String {
        self.seen()
            .iter()
            .map(|entry| entry["body"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Mitm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
