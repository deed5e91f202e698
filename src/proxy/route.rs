//! How the proxy reaches its upstream: directly, or through an HTTP proxy's CONNECT tunnel
//! (`HTTPS_PROXY`, as curl and the AWS SDKs take it), with TLS to the upstream on top for
//! `https://` (certificates checked against the Mozilla roots, plus any the user trusts).

use std::error::Error as StdError;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Which proxy, if any, the proxy's own calls to the upstream go through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum UpstreamProxy {
    /// The one the environment names for an `https://` upstream (`HTTPS_PROXY`,
    /// `https_proxy`, `ALL_PROXY`, `all_proxy`), unless `NO_PROXY` covers the upstream's host,
    /// as curl and the AWS SDKs read them; directly when none does. An `http://` upstream (a
    /// stand-in on this machine) is reached directly.
    #[default]
    FromEnvironment,
    /// Directly, whatever the environment says.
    Direct,
    /// Through this HTTP proxy (`http://[user:password@]host:port`), with CONNECT, for any
    /// upstream.
    Via(Uri),
}

/// The tunnel to use for `upstream`, if any, and the proxy's address for humans (without
/// its credentials).
fn tunnel_for(upstream: &Uri, choice: &UpstreamProxy) -> Result<Option<(Tunnel<HttpConnector>, String)>, String> {
    let matcher = match choice {
        UpstreamProxy::Direct => return Ok(None),
        UpstreamProxy::FromEnvironment if upstream.scheme_str() != Some("https") => return Ok(None),
        UpstreamProxy::FromEnvironment => Matcher::from_env(),
        UpstreamProxy::Via(uri) => {
            if uri.scheme_str() != Some("http") || uri.host().is_none() {
                return Err(format!("the upstream proxy {} is not http://host:port", without_userinfo(uri)));
            }
            Matcher::builder().all(uri.to_string()).build()
        }
    };
    // The matcher decides by the upstream's scheme; a chosen proxy carries every scheme.
    let probe = match choice {
        UpstreamProxy::Via(_) => Uri::builder()
            .scheme("https")
            .authority(upstream.authority().map_or("upstream", |a| a.as_str()))
            .path_and_query("/")
            .build()
            .map_err(|e| e.to_string())?,
        _ => upstream.clone(),
    };
    let Some(intercept) = matcher.intercept(&probe) else { return Ok(None) };
    let mut tunnel = Tunnel::new(intercept.uri().clone(), plain_connector());
    if let Some(auth) = intercept.basic_auth() {
        tunnel = tunnel.with_auth(auth.clone());
    }
    Ok(Some((tunnel, without_userinfo(intercept.uri()))))
}

/// A URI as it may be shown: never a password.
fn without_userinfo(uri: &Uri) -> String {
    let authority = uri.authority().map_or("", |a| a.as_str());
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    format!("{}://{host}", uri.scheme_str().unwrap_or("http"))
}

fn plain_connector() -> HttpConnector {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    http.enforce_http(false);
    http
}

/// The TCP connection under everything: straight to the upstream, or a CONNECT tunnel.
#[derive(Clone, Debug)]
pub(crate) enum Route {
    Direct(HttpConnector),
    Tunnel(Tunnel<HttpConnector>),
}

type Connecting = Pin<Box<dyn Future<Output = Result<TokioIo<TcpStream>, Box<dyn StdError + Send + Sync>>> + Send>>;

impl tower_service::Service<Uri> for Route {
    type Response = TokioIo<TcpStream>;
    type Error = Box<dyn StdError + Send + Sync>;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self {
            Route::Direct(c) => c.poll_ready(cx).map_err(Into::into),
            Route::Tunnel(t) => t.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, dst: Uri) -> Connecting {
        match self {
            Route::Direct(c) => {
                let connecting = c.call(dst);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
            Route::Tunnel(t) => {
                let connecting = t.call(dst);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
        }
    }
}

/// How the proxy connects: TLS with certificates checked for https:// upstreams, plain TCP
/// for http:// (the `tls` feature; without it, http:// only), over the route.
#[cfg(feature = "tls")]
pub(crate) type Connector = hyper_rustls::HttpsConnector<Route>;
#[cfg(not(feature = "tls"))]
pub(crate) type Connector = Route;

/// The connector for `upstream`, and the proxy it goes through (for the startup line).
pub(crate) fn connector(
    upstream: &Uri,
    choice: &UpstreamProxy,
    extra_roots: Option<&Path>,
) -> Result<(Connector, Option<String>), String> {
    let (route, via) = match tunnel_for(upstream, choice)? {
        Some((tunnel, via)) => (Route::Tunnel(tunnel), Some(via)),
        None => (Route::Direct(plain_connector()), None),
    };
    #[cfg(feature = "tls")]
    {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(extra_roots)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(route);
        Ok((connector, via))
    }
    #[cfg(not(feature = "tls"))]
    {
        if let Some(path) = extra_roots {
            return Err(format!("{}: this build has no TLS (the `tls` feature)", path.display()));
        }
        Ok((route, via))
    }
}

/// The Mozilla roots, plus the certificates in `extra` (PEM) for an upstream whose
/// certificate another authority signed (a staging endpoint, a TLS-inspecting proxy).
#[cfg(feature = "tls")]
fn tls_config(extra: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = extra {
        let shown = path.display();
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| format!("{shown}: {e}"))? {
            let cert = cert.map_err(|e| format!("{shown}: {e}"))?;
            roots.add(cert).map_err(|e| format!("{shown}: not a usable certificate: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("{shown}: no PEM certificate in it"));
        }
    }
    // ring, as hyper-rustls uses it for the Mozilla roots alone: it builds with no C
    // toolchain beyond cc (aws-lc-rs needs cmake); rustls marks it deprecated for its lack of
    // post-quantum key exchange, which testing a fleet against an endpoint does not need.
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
