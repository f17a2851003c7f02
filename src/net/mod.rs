//! Layer 2, the network: URLs, trusted roots, proxies, retries and the HTTP client that talks to
//! the provider. Knows nothing about profiles or OAuth. May use `base` and `terminal`.

pub mod http;
pub mod proxy;
pub mod retry;
pub mod tls;
pub mod url;
