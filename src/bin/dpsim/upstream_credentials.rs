//! Where `dpsim proxy` gets what it signs forwarded calls with, in the order AWS tools look:
//! `--upstream-credentials`, then the standard environment variables, then the shared
//! profile (`AWS_PROFILE` or `default` in `~/.aws/credentials` and `~/.aws/config`, or the
//! files `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` name: static keys, assume-role,
//! SSO, `credential_process`, all resolved by the AWS SDK's own providers). The SDK's whole
//! default chain (container and instance roles too) only when asked with
//! `--upstream-credential-chain`: probing the instance metadata address from every machine
//! with no credentials would send traffic nobody asked for.

use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials as AwsCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use dpsim::serve::Credentials;

/// The provider to sign with and, for the startup line, where it came from (never the keys);
/// None when nothing is configured (calls go upstream unsigned).
pub async fn resolve(
    given: Option<Credentials>,
    chain: bool,
    region: &str,
) -> Option<(SharedCredentialsProvider, String)> {
    let fixed = |c: Credentials, token: Option<String>| {
        SharedCredentialsProvider::new(AwsCredentials::new(c.access_key_id, c.secret_access_key, token, None, "dpsim"))
    };
    if let Some(c) = given {
        return Some((fixed(c, None), "--upstream-credentials".into()));
    }
    let config = || {
        let http =
            aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https();
        ProviderConfig::without_region()
            .with_region(Some(aws_config::Region::new(region.to_string())))
            .with_http_client(http)
    };
    if chain {
        let provider = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
            .configure(config())
            .build()
            .await;
        // The proxy asks it once at start, and stops there if it has nothing to give.
        return Some((SharedCredentialsProvider::new(provider), "the AWS SDK's default credential chain".into()));
    }
    if let (Some(c), token) = crate::or_environment(None) {
        return Some((fixed(c, token), "the environment (AWS_ACCESS_KEY_ID)".into()));
    }
    let profile = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "default".into());
    let profile_provider =
        || aws_config::profile::ProfileFileCredentialsProvider::builder().configure(&config()).build();
    let provider = profile_provider();
    let provider = match provider.provide_credentials().await {
        // No files, or no such profile with credentials: nothing is configured.
        Err(CredentialsError::CredentialsNotLoaded(_)) => return None,
        Ok(_) => provider,
        // Anything else is the proxy's to say at start (half a key pair, an expired SSO
        // session); a fresh provider, since one keeps only the first answer to a failed start.
        Err(_) => profile_provider(),
    };
    Some((SharedCredentialsProvider::new(provider), format!("the shared AWS profile {profile:?}")))
}
