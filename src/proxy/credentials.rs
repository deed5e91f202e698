//! Where the proxy's signatures for the upstream come from: a credentials provider (static
//! keys, or whatever the AWS SDK's providers resolve: profiles, SSO, instance roles), asked
//! once and again only when what it gave is about to expire, so a forwarded call costs no
//! STS or IMDS round trip.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials as AwsCredentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::wire::signing::Signer;
use crate::wire::sigv4::Credentials;

/// Credentials are asked for again this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// The provider, its region and its last answer.
pub(crate) struct UpstreamSigning {
    provider: SharedCredentialsProvider,
    region: String,
    cached: Mutex<Option<AwsCredentials>>,
}

impl UpstreamSigning {
    pub(crate) fn new(provider: SharedCredentialsProvider, region: String) -> UpstreamSigning {
        UpstreamSigning { provider, region, cached: Mutex::new(None) }
    }

    /// Static keys, with a session token for temporary ones.
    pub(crate) fn fixed(credentials: Credentials, session_token: Option<String>, region: String) -> UpstreamSigning {
        let keys = AwsCredentials::new(
            credentials.access_key_id,
            credentials.secret_access_key,
            session_token,
            None,
            "dpsim-proxy",
        );
        UpstreamSigning::new(SharedCredentialsProvider::new(keys), region)
    }

    fn fresh(&self) -> Option<AwsCredentials> {
        let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        cached.clone().filter(|c| c.expiry().is_none_or(|at| SystemTime::now() + REFRESH_BEFORE_EXPIRY < at))
    }

    /// The signer for the next forwarded call.
    pub(crate) async fn signer(&self) -> Result<Signer, String> {
        let credentials = match self.fresh() {
            Some(c) => c,
            None => {
                let c = self.provider.provide_credentials().await.map_err(|e| super::upstream::chain(&e))?;
                *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
                c
            }
        };
        Ok(Signer {
            credentials: Credentials {
                access_key_id: credentials.access_key_id().to_string(),
                secret_access_key: credentials.secret_access_key().to_string(),
            },
            session_token: credentials.session_token().map(str::to_string),
            region: self.region.clone(),
        })
    }
}
