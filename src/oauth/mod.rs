//! Layer 4, the protocol: PKCE, the authorize URL and its response, the token endpoint, the device
//! grant, revocation, provider metadata and keys, ID tokens and JWTs — each the one place its RFC
//! lives. Stores nothing but the metadata cache. May use `base`, `terminal`, `net` and `config`.

pub mod auth_response;
pub mod authorize;
pub mod client_auth;
pub mod device;
pub mod endpoints;
pub mod hints;
pub mod id_token;
pub mod jwt;
pub mod pkce;
pub mod revocation;
pub mod token_endpoint;
pub mod userinfo;
