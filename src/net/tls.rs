//! Which certificate authorities latchkey trusts — the system's store (or `SSL_CERT_FILE` /
//! `SSL_CERT_DIR`), Mozilla's roots built in, and the profile's `ca_file` — and what a
//! certificate failure means for the user.

use crate::base::error::{Error, Result};
use rustls::pki_types::TrustAnchor;
use std::path::{Path, PathBuf};
use ureq::tls::{Certificate, PemItem, RootCerts};

/// The trusted roots for one process, with where they came from for messages.
pub struct TrustStore {
    roots: RootCerts,
    pub summary: TrustSummary,
    /// What `ca_file` added, read from the same bytes the roots were made of.
    pub added: AddedRoots,
}

/// The certificates a profile's `ca_file` adds to the trusted roots, by SHA-256 of their DER
/// (lower-case hex, sorted, without repeats): what a login records, so that its tokens are
/// later sent only over TLS that trusts nothing more (see `store::binding`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddedRoots {
    /// The file they came from; `None` when the profile adds none.
    pub ca_file: Option<PathBuf>,
    pub fingerprints: Vec<String>,
}

impl AddedRoots {
    fn of(path: &Path, certs: &[Certificate<'static>]) -> AddedRoots {
        use sha2::{Digest, Sha256};
        let mut fingerprints: Vec<String> = certs
            .iter()
            .map(|cert| {
                Sha256::digest(cert.der())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect();
        fingerprints.sort();
        fingerprints.dedup();
        AddedRoots {
            ca_file: Some(path.to_path_buf()),
            fingerprints,
        }
    }
}

/// How many roots came from each source, and what went wrong reading the system's.
#[derive(Debug, Clone, Default)]
pub struct TrustSummary {
    /// `SSL_CERT_FILE=...` / `SSL_CERT_DIR=...` when set, else "the system store".
    pub system_source: String,
    pub system: usize,
    /// Problems reading the system store (a missing `SSL_CERT_FILE`, an unreadable file).
    pub system_problems: Vec<String>,
    pub bundled: usize,
    pub ca_file: Option<(PathBuf, usize)>,
}

impl TrustSummary {
    /// One line: the sources and their counts, for the hint of a certificate failure.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{} from {}", self.system, self.system_source)];
        parts.push(format!("{} bundled Mozilla roots", self.bundled));
        if let Some((path, count)) = &self.ca_file {
            parts.push(format!("{count} from ca_file {}", path.display()));
        }
        let mut text = format!("trusted now: {}", parts.join(", "));
        if !self.system_problems.is_empty() {
            text.push_str(&format!(
                " (could not read: {})",
                self.system_problems.join("; ")
            ));
        }
        text
    }
}

impl TrustStore {
    /// Reads the system store, adds Mozilla's roots and the profile's `ca_file`. Called only
    /// when a TLS connection is about to be made: reading the system store costs milliseconds
    /// that `latchkey token` with a cached token must not pay.
    pub fn load(ca_file: Option<&Path>) -> Result<TrustStore> {
        // ureq's custom roots replace its built-in Mozilla set, so everything goes in one list.
        let mut certs: Vec<Certificate<'static>> = Vec::new();
        let mut summary = TrustSummary {
            system_source: system_source(),
            ..TrustSummary::default()
        };

        let native = rustls_native_certs::load_native_certs();
        summary.system = native.certs.len();
        summary.system_problems = native.errors.iter().map(|e| e.to_string()).collect();
        certs.extend(
            native
                .certs
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned()),
        );

        // The fallback for minimal containers without a store, and for stores that lag behind.
        summary.bundled = webpki_roots::TLS_SERVER_ROOTS.len();
        certs.extend(
            webpki_roots::TLS_SERVER_ROOTS
                .iter()
                .map(|anchor| Certificate::from_der(&certificate_for_anchor(anchor)).to_owned()),
        );

        let mut added = AddedRoots::default();
        if let Some(path) = ca_file {
            let extra = read_ca_file(path)?;
            summary.ca_file = Some((path.to_path_buf(), extra.len()));
            added = AddedRoots::of(path, &extra);
            certs.extend(extra);
        }
        Ok(TrustStore {
            roots: RootCerts::new_with_certs(&certs),
            summary,
            added,
        })
    }

    pub fn root_certs(&self) -> RootCerts {
        self.roots.clone()
    }
}

fn system_source() -> String {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    match (var("SSL_CERT_FILE"), var("SSL_CERT_DIR")) {
        (Some(file), Some(dir)) => format!(
            "SSL_CERT_FILE={} and SSL_CERT_DIR={}",
            Path::new(&file).display(),
            Path::new(&dir).display()
        ),
        (Some(file), None) => format!("SSL_CERT_FILE={}", Path::new(&file).display()),
        (None, Some(dir)) => format!("SSL_CERT_DIR={}", Path::new(&dir).display()),
        (None, None) => "the system store".to_owned(),
    }
}

/// The certificates of a PEM file (one or more `BEGIN CERTIFICATE` blocks; anything else in
/// it, a private key say, is ignored).
fn read_ca_file(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let fix = "set `ca_file` to a PEM file holding the certificate authorities to trust \
               (-----BEGIN CERTIFICATE----- blocks)";
    let pem = std::fs::read(path).map_err(|e| {
        Error::config(format!("cannot read ca_file {}: {e}", path.display())).hint(fix)
    })?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::config(format!(
                    "ca_file {} is not valid PEM: {e}",
                    path.display()
                ))
                .hint(fix));
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::config(format!(
            "ca_file {} holds no PEM certificate",
            path.display()
        ))
        .hint(fix));
    }
    Ok(certs)
}

/// A minimal X.509 v3 certificate carrying a bundled trust anchor's subject, key and name
/// constraints: ureq takes roots only as certificates, and webpki-roots holds them already
/// reduced to anchors. Parsing a trusted root reads exactly these fields (RFC 5280 §6.1.1 —
/// its signature, issuer and validity are never checked), so the anchor comes back unchanged;
/// a unit test checks that for every bundled root. Building these costs no extra binary size,
/// unlike a second, certificate-shaped copy of the Mozilla set.
fn certificate_for_anchor(anchor: &TrustAnchor<'_>) -> Vec<u8> {
    // ecdsa-with-SHA256: any algorithm will do, it is never used to verify anything.
    const ALGORITHM: &[u8] = &[
        0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
    ];
    const VERSION_3: &[u8] = &[0xa0, 0x03, 0x02, 0x01, 0x02];
    const SERIAL: &[u8] = &[0x02, 0x01, 0x01];
    const EMPTY_VALIDITY: &[u8] = &[0x30, 0x00];
    const NAME_CONSTRAINTS_OID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x1e];

    let subject = der(0x30, &anchor.subject);
    let mut tbs = [
        VERSION_3,
        SERIAL,
        ALGORITHM,
        &subject,
        EMPTY_VALIDITY,
        &subject,
    ]
    .concat();
    tbs.extend(der(0x30, &anchor.subject_public_key_info));
    if let Some(constraints) = &anchor.name_constraints {
        let value = der(0x04, &der(0x30, constraints));
        let extension = der(0x30, &[NAME_CONSTRAINTS_OID, &value].concat());
        tbs.extend(der(0xa3, &der(0x30, &extension)));
    }
    let empty_signature: &[u8] = &[0x03, 0x01, 0x00];
    der(
        0x30,
        &[&der(0x30, &tbs), ALGORITHM, empty_signature].concat(),
    )
}

/// One DER element: tag, definite length, contents.
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// What a certificate failure means and what to do about it.
#[derive(Debug)]
pub struct CertificateProblem {
    pub problem: String,
    pub fix: String,
    /// Whether trusting another authority would fix it (then the trusted sources are worth
    /// listing).
    pub about_trust: bool,
}

/// The fix for a certificate signed by an authority not trusted here; when it is the fix, the
/// trusted sources are worth listing.
const TRUST_FIX: &str = "if a TLS-inspecting proxy or a private certificate authority signs it, \
    add that authority's PEM certificate to the profile's `ca_file` (or point SSL_CERT_FILE at a \
    bundle that holds it)";

/// The fix for a certificate used outside its validity: most often this host's clock is wrong.
const CLOCK_FIX: &str = "check this host's clock (date -u); if it is right, the provider or a \
    proxy in between serves a certificate outside its validity";

/// Explains a failure with the certificate of `name` (the host) at `host` (`name:port`);
/// `None` for TLS failures that are not about the server's certificate.
pub fn explain_certificate_error(
    error: &rustls::Error,
    name: &str,
    host: &str,
) -> Option<CertificateProblem> {
    let rustls::Error::InvalidCertificate(problem) = error else {
        return None;
    };
    let (problem, fix) = name_mismatch(problem, name, host)
        .map(|problem| (problem, name_fix()))
        .or_else(|| outside_validity(problem, host).map(|problem| (problem, CLOCK_FIX.to_owned())))
        .unwrap_or_else(|| refused_certificate(problem, host));
    let about_trust = fix == TRUST_FIX;
    Some(CertificateProblem {
        problem,
        fix,
        about_trust,
    })
}

/// The problem when the certificate is for another name than `name`, with the names it is
/// for when rustls says; `None` for other problems.
fn name_mismatch(problem: &rustls::CertificateError, name: &str, host: &str) -> Option<String> {
    use rustls::CertificateError as E;
    match problem {
        E::NotValidForName => Some(format!(
            "the certificate of {host} is not valid for the name {name} (name mismatch)"
        )),
        E::NotValidForNameContext { presented, .. } => Some(format!(
            "the certificate of {host} is not valid for the name {name} (name mismatch: it is for {})",
            if presented.is_empty() {
                "no name".to_owned()
            } else {
                presented
                    .iter()
                    .map(|p| presented_name(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )),
        _ => None,
    }
}

/// The problem when the certificate has expired or is not valid yet, with the date when
/// rustls says; `None` for other problems.
fn outside_validity(problem: &rustls::CertificateError, host: &str) -> Option<String> {
    use rustls::CertificateError as E;
    let problem = match problem {
        E::Expired => format!("the certificate of {host} has expired"),
        E::ExpiredContext { not_after, .. } => format!(
            "the certificate of {host} expired on {}",
            crate::base::duration::rfc3339(not_after.as_secs())
        ),
        E::NotValidYet => format!("the certificate of {host} is not valid yet"),
        E::NotValidYetContext { not_before, .. } => format!(
            "the certificate of {host} is not valid before {}",
            crate::base::duration::rfc3339(not_before.as_secs())
        ),
        _ => return None,
    };
    Some(problem)
}

/// The problem and fix for every other refusal: an issuer or signature not trusted here (and
/// anything unrecognised) is fixed by trusting another authority; a revoked certificate is
/// the provider's to replace.
fn refused_certificate(problem: &rustls::CertificateError, host: &str) -> (String, String) {
    use rustls::CertificateError as E;
    match problem {
        E::UnknownIssuer => (
            format!(
                "the certificate of {host} is signed by an unknown issuer (a certificate authority not trusted here)"
            ),
            TRUST_FIX.to_owned(),
        ),
        E::BadSignature => (
            format!("the certificate of {host} has a signature that does not verify"),
            TRUST_FIX.to_owned(),
        ),
        E::Revoked => (
            format!("the certificate of {host} has been revoked"),
            "the provider must replace its certificate; nothing to fix here".to_owned(),
        ),
        other => (
            format!("the certificate of {host} was refused: {other:?}"),
            TRUST_FIX.to_owned(),
        ),
    }
}

/// `localhost` for rustls's `DnsName("localhost")`, `127.0.0.1` for `IpAddress(127.0.0.1)`.
fn presented_name(debug: &str) -> &str {
    debug
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .map(|inner| inner.trim_matches('"'))
        .unwrap_or(debug)
}

fn name_fix() -> String {
    "check the host in the profile's issuer, domain or endpoint URLs; a proxy that intercepts TLS \
     would present a certificate for another name"
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_root_survives_the_trip_through_a_certificate() {
        let certs: Vec<_> = webpki_roots::TLS_SERVER_ROOTS
            .iter()
            .map(|a| rustls::pki_types::CertificateDer::from(certificate_for_anchor(a)))
            .collect();
        let mut store = rustls::RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(certs);
        assert_eq!(ignored, 0);
        assert_eq!(added, webpki_roots::TLS_SERVER_ROOTS.len());
        assert_eq!(store.roots, webpki_roots::TLS_SERVER_ROOTS);
        assert!(
            webpki_roots::TLS_SERVER_ROOTS
                .iter()
                .any(|a| a.name_constraints.is_some()),
            "the name-constraints branch is exercised"
        );
    }

    #[test]
    fn der_lengths() {
        assert_eq!(der(0x04, &[1, 2]), [0x04, 2, 1, 2]);
        assert_eq!(&der(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(&der(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn ca_file_problems_are_config_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = read_ca_file(&missing).err().unwrap();
        assert_eq!(err.exit_code(), crate::base::error::ExitCode::Config);
        assert!(err.message().contains("missing.pem"), "{}", err.message());
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = read_ca_file(&empty).err().unwrap();
        assert!(
            err.message().contains("holds no PEM certificate"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn certificate_errors_name_the_problem_and_the_fix() {
        let unknown = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let explained = explain_certificate_error(&unknown, "idp", "idp:443").unwrap();
        assert!(
            explained.problem.contains("unknown issuer"),
            "{explained:?}"
        );
        assert!(
            explained.fix.contains("ca_file") && explained.fix.contains("SSL_CERT_FILE"),
            "{explained:?}"
        );
        assert!(explained.about_trust);
        let expired = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        let explained = explain_certificate_error(&expired, "idp", "idp:443").unwrap();
        assert!(explained.problem.contains("expired"), "{explained:?}");
        assert!(explained.fix.contains("clock"), "{explained:?}");
        let name = rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName);
        let explained = explain_certificate_error(&name, "idp", "idp:443").unwrap();
        assert!(explained.problem.contains("name mismatch"), "{explained:?}");
        assert!(!explained.about_trust);
        assert!(explain_certificate_error(&rustls::Error::DecryptError, "idp", "idp:1").is_none());
        assert_eq!(presented_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(presented_name("IpAddress(127.0.0.1)"), "127.0.0.1");
    }
}
