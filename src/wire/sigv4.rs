//! PLACEHOLDER until the SigV4 verifier lands (replaced wholesale).
use std::time::SystemTime;
/// Static credentials the service accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}
impl std::str::FromStr for Credentials {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s.split_once(':').ok_or("expected ACCESS_KEY:SECRET")?;
        Ok(Credentials { access_key_id: a.into(), secret_access_key: b.into() })
    }
}
/// Why a request failed authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    Incomplete(String),
    UnknownAccessKey,
    SignatureMismatch,
    Expired { request_time: String, server_time: String },
}
impl AuthError {
    /// Code.
    pub fn code(&self) -> &'static str {
        "InvalidSignatureException"
    }
    /// Message.
    pub fn message(&self) -> String {
        String::new()
    }
}
/// Verify.
pub fn verify(_p: &http::request::Parts, _b: &[u8], _c: &Credentials, _n: SystemTime) -> Result<(), AuthError> {
    Err(AuthError::Missing)
}
