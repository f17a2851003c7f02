//! Text pasted at the login prompt (auth_response::from_pasted): a redirect URL, a query string
//! or a bare code, and whatever else lands on the terminal.
#![no_main]

use latchkey::base::secret::State;
use latchkey::oauth::auth_response::{AuthResponse, Issuer, Rejection, from_pasted};
use latchkey_fuzz::{ISSUER, STATE, assert_printable, form_decode, secret_like, sender_knew};
use libfuzzer_sys::fuzz_target;

/// Longest bare code from_pasted accepts (auth_response.rs's MAX_BARE_CODE_LEN).
const MAX_BARE_CODE_LEN: usize = 2048;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let state = State::new(STATE);
    let results = [false, true].map(|required| {
        let issuer = Issuer {
            value: ISSUER,
            required,
        };
        let result = from_pasted(&text, &state, issuer);
        match &result {
            Ok(response) => check_accepted(&text, response),
            Err(rejection) => check_rejected(&text, rejection),
        }
        result.is_ok()
    });
    // Requiring `iss` only ever takes acceptance away.
    if results[1] {
        assert!(results[0]);
    }
});

fn check_accepted(text: &str, response: &AuthResponse) {
    if sender_knew(text.as_bytes(), STATE) {
        return;
    }
    // Without our state, only a bare code gets through: the pasted text itself, unwrapped.
    let AuthResponse::Code { code, iss } = response else {
        panic!("a refusal accepted without the state: {text:?}");
    };
    let code = code.secret();
    assert!(iss.is_none());
    assert!((1..=MAX_BARE_CODE_LEN).contains(&code.len()));
    assert!(
        code.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b)),
        "{code:?}"
    );
    assert!(text.contains(code));
}

fn check_rejected(text: &str, rejection: &Rejection) {
    let message = rejection.to_string();
    assert_printable("rejection", &message);
    let shown = format!("{message} {rejection:?}");
    // The issuer named in a mismatch is shown (quoted and shortened); nothing else the user
    // pasted is, and never any state value: neither ours nor the one in the paste.
    let iss_shown = match rejection {
        Rejection::IssuerMismatch { got, .. } => got.as_str(),
        _ => "",
    };
    let pasted_states = text
        .split(['?', '&', '#'])
        .filter_map(|part| part.strip_prefix("state="))
        .filter_map(form_decode);
    for value in pasted_states.chain([STATE.to_owned()]) {
        if secret_like(&value) && !iss_shown.contains(&value) {
            assert!(!shown.contains(&value), "{value:?} shown in {shown:?}");
        }
    }
}
