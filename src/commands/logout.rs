//! `latchkey logout`: revoke at the provider (RFC 7009), then delete the local tokens — the
//! local file goes even when revocation fails, and the user is told what is still live.

use super::Globals;
use crate::base::error::{Error, Result};
use crate::cli::LogoutArgs;
use crate::config::Profile;
use crate::net::http::Http;
use crate::oauth::endpoints::Provider;
use crate::oauth::revocation::revoke;
use crate::store::{StoredTokens, TokenStore};

pub fn run(globals: &Globals, args: LogoutArgs) -> Result<()> {
    let file = globals.load_profiles()?;
    let profiles = globals.profiles(&file, args.profile.as_deref(), args.all)?;
    let store = TokenStore::open()?;
    let mut first_error = None;
    let several = profiles.len() > 1;
    for profile in &profiles {
        if let Err(e) = logout(profile, &store, args.local) {
            if several {
                eprintln!("error: {}", e.message());
            }
            if first_error.is_none() {
                first_error = Some(e);
            }
        }
    }
    match first_error {
        Some(e) if !several => Err(e),
        Some(e) => Err(Error::new(
            e.exit_code(),
            "logging out of some profiles failed (see above)",
        )),
        None => Ok(()),
    }
}

fn logout(profile: &Profile, store: &TokenStore, local: bool) -> Result<()> {
    let _lock = store.lock(&profile.name)?;
    if !store.exists(&profile.name) {
        eprintln!("profile `{}` is not logged in; nothing to do", profile.name);
        return Ok(());
    }
    let revoked = if local {
        Ok(false)
    } else {
        // A file that cannot be decrypted still gets deleted: that is what logging out means.
        match store.load(&profile.name, || {
            store.key_for_reading(&profile.key_source, &profile.name)
        }) {
            Ok(Some(tokens)) => revoke_all(profile, store, &tokens).map(|()| true),
            Ok(None) => Ok(false),
            Err(e) => Err(e),
        }
    };
    store.delete(&profile.name)?;
    match revoked {
        Ok(true) => {
            eprintln!("Logged out of profile `{}`: tokens revoked at the provider and deleted here.", profile.name);
            Ok(())
        }
        Ok(false) => {
            eprintln!(
                "Logged out of profile `{}` locally: tokens deleted here{}.",
                profile.name,
                if local { ", not revoked (--local)" } else { "" }
            );
            Ok(())
        }
        Err(e) => Err(Error::new(
            e.exit_code(),
            format!(
                "profile `{}`: the local tokens were deleted, but revoking them failed: {} — the provider still holds a live refresh token",
                profile.name,
                e.message()
            ),
        )
        .hint("it expires on its own; to end it now, revoke the session in the provider's dashboard")),
    }
}

/// The refresh token first: it is the long-lived one.
fn revoke_all(profile: &Profile, store: &TokenStore, tokens: &StoredTokens) -> Result<()> {
    // Revoking twice is harmless (RFC 7009 §2.2), so revocation is resent after timeouts too.
    let http = Http::new(profile.http_settings(crate::net::retry::Resend::Transient));
    let endpoints =
        Provider::new(profile, &http, Some(store.metadata_path(&profile.name))).endpoints()?;
    let Some(url) = endpoints.revocation else {
        return Err(Error::provider(
            "the provider has no revocation endpoint (set `revocation_endpoint` in the profile if it has one)",
        ));
    };
    if let Some(refresh_token) = &tokens.refresh_token {
        revoke(
            &http,
            &url,
            profile,
            refresh_token.secret(),
            "refresh_token",
        )?;
    }
    revoke(
        &http,
        &url,
        profile,
        tokens.access_token.secret(),
        "access_token",
    )
}
