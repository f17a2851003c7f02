//! The profiles file (config::ProfilesFile::parse), then every profile in it resolved and
//! validated as `latchkey login -p NAME` would.
#![no_main]

use latchkey::config::paths::ConfigOrigin;
use latchkey::config::{FlagOverrides, ProfileSettings, ProfilesFile, parse_endpoint};
use latchkey::net::url::{Url, is_loopback_host};
use latchkey_fuzz::{assert_error_printable, assert_printable};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/fuzz/profiles.toml");
    let file = match ProfilesFile::parse(path, ConfigOrigin::Flag, text.to_owned()) {
        Ok(file) => file,
        Err(error) => {
            assert_error_printable(&error);
            return;
        }
    };
    let names: Vec<String> = file.profile_names().map(str::to_owned).collect();
    for name in &names {
        // Profile names become token file names.
        assert!(
            (1..=64).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{name:?}"
        );
        match file.resolve(name, &FlagOverrides::default()) {
            Ok((profile, sources)) => {
                assert_eq!(&profile.name, name);
                assert!(!profile.client_id.trim().is_empty());
                assert!(!profile.scopes.is_empty());
                assert!(profile.callback_path.starts_with('/'));
                assert!(!profile.callback_path.contains(['?', '#', ' ']));
                assert!(!profile.http_timeout.is_zero() && !profile.connect_timeout.is_zero());
                assert!(profile.issuer.query().is_none() && profile.issuer.fragment().is_none());
                let endpoints = &profile.endpoints;
                for url in [Some(&profile.issuer), profile.paste_redirect_uri.as_ref()]
                    .into_iter()
                    .chain([
                        endpoints.authorize.as_ref(),
                        endpoints.token.as_ref(),
                        endpoints.revocation.as_ref(),
                        endpoints.device_authorization.as_ref(),
                    ])
                    .flatten()
                {
                    check_endpoint(url);
                }
                let settings = ProfileSettings::new(&profile, sources);
                for row in &settings.rows {
                    if let Some(shown) = &row.display {
                        // `profiles show` prints one value per line, to a terminal.
                        assert_printable("a setting", shown);
                    }
                }
            }
            Err(error) => assert_error_printable(&error),
        }
    }
    match file.select(None) {
        Ok((name, _)) => assert!(names.contains(&name)),
        Err(error) => assert_error_printable(&error),
    }
});

/// https, or http to a loopback host; and the URL reads back as itself.
fn check_endpoint(url: &Url) {
    assert!(
        url.scheme() == "https" || (url.scheme() == "http" && is_loopback_host(url.host())),
        "{url}"
    );
    let again = parse_endpoint(&url.to_string()).expect("an endpoint parses again");
    assert_eq!(&again, url);
}
