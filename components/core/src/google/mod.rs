//! Google APIs reached with an OAuth refresh token: the token exchange
//! every Google integration shares ([`oauth`]: Gmail alerts and Drive
//! uploads use the same code) and Drive's multipart upload ([`drive`]).

pub mod drive;
pub mod oauth;
