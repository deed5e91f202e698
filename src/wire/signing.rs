//! SigV4 signing of the calls dpsim makes itself: the proxy's forwarded calls (a client's own
//! signature covers the proxy's host, so it cannot be passed on) and dpsim's runner on a real
//! network. The checking side is [`super::sigv4`]; this side uses the AWS SDK's own signer.

use std::time::SystemTime;

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use super::sigv4::Credentials;

/// What outgoing calls are signed with.
#[derive(Clone)]
pub(crate) struct Signer {
    pub credentials: Credentials,
    /// A session token beside temporary credentials.
    pub session_token: Option<String>,
    pub region: String,
}

impl Signer {
    /// Adds the signature headers (`Authorization`, `X-Amz-Date`, a session token) to
    /// `headers`, which must already hold `Host` and everything else that is sent.
    pub(crate) fn sign(&self, method: &Method, uri: &Uri, headers: &mut HeaderMap, body: &[u8]) -> Result<(), String> {
        let c = &self.credentials;
        let identity =
            AwsCredentials::new(&c.access_key_id, &c.secret_access_key, self.session_token.clone(), None, "dpsim")
                .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("datapipeline")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let pairs: Vec<(&str, &str)> =
            headers.iter().filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v))).collect();
        let signable =
            SignableRequest::new(method.as_str(), uri.to_string(), pairs.into_iter(), SignableBody::Bytes(body))
                .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
        for (name, value) in instructions.headers() {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?,
                HeaderValue::from_str(value).map_err(|e| e.to_string())?,
            );
        }
        Ok(())
    }
}
