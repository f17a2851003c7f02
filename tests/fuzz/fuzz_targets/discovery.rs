//! A provider's discovery document (endpoints::parse_discovery) against a configured issuer.
//!
//! Input: the issuer's line (used only when it is a valid issuer URL, as a profile's would be),
//! then the document.
#![no_main]

use latchkey::config::parse_endpoint;
use latchkey::net::url::is_loopback_host;
use latchkey::oauth::endpoints::parse_discovery;
use latchkey_fuzz::assert_error_printable;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Some((issuer_line, body)) = text.split_once('\n') else {
        return;
    };
    let Ok(issuer) = parse_endpoint(issuer_line) else {
        return;
    };
    let issuer = issuer.to_string();
    match parse_discovery(body, &issuer) {
        Ok(document) => {
            assert_eq!(document.issuer, issuer);
            let endpoints = [
                Some(&document.authorization_endpoint),
                Some(&document.token_endpoint),
                document.revocation_endpoint.as_ref(),
                document.device_authorization_endpoint.as_ref(),
                document.jwks_uri.as_ref(),
            ];
            for endpoint in endpoints.into_iter().flatten() {
                let url = parse_endpoint(endpoint).expect("a checked endpoint parses");
                assert!(
                    url.scheme() == "https" || is_loopback_host(url.host()),
                    "{endpoint:?}"
                );
            }
        }
        Err(error) => assert_error_printable(&error),
    }
});
