//! Outbound requests to URLs a registrant chose (S14): the back-channel
//! logout POST, and the `request_uri` and `sector_identifier_uri` fetches
//! ([`fetch_limited`]).
//!
//! Unless the operator allows private targets
//! ([`crate::Settings::allow_private_outbound`]), such a request reaches only
//! public unicast addresses:
//!
//! - at registration, [`check_registered`] refuses IP literals that are not
//!   public, `localhost` and `*.localhost`, and names with a trailing dot;
//! - at send time, [`check_target`] refuses IP literals that are not public
//!   (a literal never reaches a resolver), and [`PublicAddresses`] — the DNS
//!   resolver of the provider's default HTTP client — resolves every other
//!   name, refuses it when any of its addresses is not public, and hands
//!   the client only the checked addresses, so it connects to what was
//!   checked (no second lookup an attacker's DNS could answer differently).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Whether `ip` is a public unicast address: not unspecified, loopback,
/// private (RFC 1918, unique local), link-local, shared (CGNAT), multicast,
/// broadcast, reserved or documentation space, and not an IPv6 form that
/// embeds an IPv4 address (mapped, compatible; NAT64 and 6to4 only when the
/// embedded address is public itself).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0 // "this network", 0.0.0.0 included
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // protocol assignments, TEST-NET-1
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[..5] == [0; 5] && (s[5] == 0 || s[5] == 0xffff) {
        // ::/96 (unspecified, loopback, IPv4-compatible) and ::ffff:0:0/96 (IPv4-mapped).
        return false;
    }
    match s[0] {
        0x0064 if s[1] == 0xff9b && s[2..6] == [0; 4] => is_public_v4(embedded(s[6], s[7])),
        0x2002 => is_public_v4(embedded(s[1], s[2])),
        0x0100 if s[1..4] == [0; 3] => false, // discard-only
        0x2001 if s[1] == 0 || s[1] == 0x0db8 => false, // Teredo, documentation
        first => {
            first & 0xfe00 != 0xfc00 // unique local
                && first & 0xffc0 != 0xfe80 // link-local
                && first & 0xffc0 != 0xfec0 // site-local (deprecated)
                && first & 0xff00 != 0xff00 // multicast
        }
    }
}

/// The host check of a registrant-chosen URL at registration: an IP literal
/// must be public; `localhost`, `*.localhost` and names ending in a dot are
/// refused. `Err` says why, for `invalid_client_metadata`.
pub(crate) fn check_registered(url: &Url) -> Result<(), &'static str> {
    match url.host() {
        None => Err("has no host"),
        Some(Host::Ipv4(ip)) if !is_public_v4(ip) => Err("is not a public address"),
        Some(Host::Ipv6(ip)) if !is_public_v6(ip) => Err("is not a public address"),
        Some(Host::Domain(d)) if d.ends_with('.') => Err("ends with a dot"),
        Some(Host::Domain(d))
            if d.eq_ignore_ascii_case("localhost")
                || d.to_ascii_lowercase().ends_with(".localhost") =>
        {
            Err("is a loopback name")
        }
        Some(_) => Ok(()),
    }
}

/// The send-time check of a registrant-chosen URL, for what the resolver
/// never sees: an IP literal must be public. Names are left to
/// [`PublicAddresses`]. `allow_private`: the operator's switch.
pub(crate) fn check_target(uri: &str, allow_private: bool) -> Result<(), &'static str> {
    if allow_private {
        return Ok(());
    }
    let url = Url::parse(uri).map_err(|_| "is not a URL")?;
    match url.host() {
        None => Err("has no host"),
        Some(Host::Ipv4(ip)) if !is_public_v4(ip) => Err("is not a public address"),
        Some(Host::Ipv6(ip)) if !is_public_v6(ip) => Err("is not a public address"),
        Some(_) => Ok(()),
    }
}

/// A DNS resolver for `reqwest` that answers only with public addresses:
/// it resolves the name (with the system resolver, or the one it wraps),
/// and fails when **any** address is not a public unicast address — a name that also
/// points inside is refused whole.
///
/// The provider's default HTTP client uses it unless
/// [`crate::Settings::allow_private_outbound`] is on. An application that
/// hands the provider its own client
/// ([`crate::ProviderBuilder::with_http_client`]) installs it itself:
///
/// ```
/// use std::sync::Arc;
/// let http = reqwest::Client::builder()
///     .dns_resolver(Arc::new(sesame_op::PublicAddresses::new()))
///     .no_proxy()
///     .build()?;
/// # Ok::<(), reqwest::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct PublicAddresses {
    inner: Option<Arc<dyn Resolve>>,
}

impl std::fmt::Debug for PublicAddresses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicAddresses")
            .field("wraps_a_resolver", &self.inner.is_some())
            .finish()
    }
}

impl PublicAddresses {
    /// Over the system resolver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Over another resolver (a caching one, or a fixed table in tests).
    pub fn wrapping(inner: impl Resolve + 'static) -> Self {
        Self {
            inner: Some(Arc::new(inner)),
        }
    }
}

/// Why a name was not resolved for an outbound request.
#[derive(Debug, thiserror::Error)]
#[error("{name} resolves to {addr}, which is not a public address")]
struct NotPublic {
    name: String,
    addr: IpAddr,
}

/// Whether a request failed because [`PublicAddresses`] refused its host
/// (no point in retrying).
pub(crate) fn refused(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<NotPublic>() {
            return true;
        }
        source = s.source();
    }
    false
}

impl Resolve for PublicAddresses {
    fn resolve(&self, name: Name) -> Resolving {
        let inner = self.inner.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = match inner {
                Some(r) => r.resolve(name).await?.collect(),
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(Box::new(NotPublic {
                    name: host,
                    addr: bad.ip(),
                }) as _);
            }
            if addrs.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for refused in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "2001:db8::1",
            "2001::1",
            "100::1",
        ] {
            assert!(!is_public(refused.parse().unwrap()), "{refused}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.0.1",
            "172.32.0.1",
            "169.253.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::1",
            "64:ff9b::808:808",
            "2002:808:808::",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn registration_refuses_private_literals_loopback_names_and_trailing_dots() {
        for refused in [
            "https://0.0.0.0/",
            "https://[::ffff:127.0.0.1]/",
            "https://localhost./",
            "https://localhost/",
            "https://LOCALHOST/",
            "https://app.localhost/",
            "https://rp.example./logout",
            "https://10.0.0.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://[fc00::1]/",
            "https://[::1]/",
            "https://127.0.0.1/",
            "https://100.64.0.1/",
            "https://[ff02::1]/",
        ] {
            let url = Url::parse(refused).unwrap();
            assert!(check_registered(&url).is_err(), "{refused}");
        }
        for ok in [
            "https://rp.example/logout",
            "https://8.8.8.8/",
            "https://[2606:4700::1111]/",
        ] {
            assert!(check_registered(&Url::parse(ok).unwrap()).is_ok(), "{ok}");
        }
    }

    #[test]
    fn the_send_time_check_refuses_literals_unless_allowed() {
        assert!(check_target("http://127.0.0.1:8080/bc", false).is_err());
        assert!(check_target("http://[::ffff:7f00:1]/bc", false).is_err());
        assert!(check_target("http://0.0.0.0/bc", false).is_err());
        assert!(check_target("http://127.0.0.1:8080/bc", true).is_ok());
        // Names go to the resolver.
        assert!(check_target("https://rp.example/bc", false).is_ok());
    }

    struct Fixed(Vec<IpAddr>);

    impl Resolve for Fixed {
        fn resolve(&self, _: Name) -> Resolving {
            let addrs: Vec<SocketAddr> = self.0.iter().map(|ip| SocketAddr::new(*ip, 0)).collect();
            Box::pin(async move { Ok(Box::new(addrs.into_iter()) as Addrs) })
        }
    }

    async fn resolve(addrs: &[&str]) -> Result<Vec<SocketAddr>, String> {
        let r =
            PublicAddresses::wrapping(Fixed(addrs.iter().map(|a| a.parse().unwrap()).collect()));
        match r.resolve("rp.example".parse().unwrap()).await {
            Ok(a) => Ok(a.collect()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[tokio::test]
    async fn the_resolver_answers_only_with_public_addresses() {
        assert_eq!(resolve(&["8.8.8.8"]).await.unwrap().len(), 1);
        let e = resolve(&["8.8.8.8", "10.1.2.3"]).await.unwrap_err();
        assert!(
            e.contains("10.1.2.3") && e.contains("not a public address"),
            "{e}"
        );
        assert!(resolve(&["::ffff:127.0.0.1"]).await.is_err());
        assert!(resolve(&[]).await.is_err());
        // The system resolver: localhost is loopback.
        let e = PublicAddresses::new()
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("localhost refused");
        assert!(e.to_string().contains("not a public address"), "{e}");
    }
}

/// Why [`fetch_limited`] got no document.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The URL's host is not one the provider sends requests to.
    #[error("{0}")]
    Refused(&'static str),
    /// No answer (connection, DNS, the public-address guard).
    #[error("could not be fetched")]
    Unreachable,
    /// An answer that is not 2xx.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// More than the limit.
    #[error("holds more than {} KiB", .0 / 1024)]
    TooLarge(usize),
    /// Not within the time limit.
    #[error("did not answer within {} seconds", .0.as_secs())]
    Timeout(std::time::Duration),
}

/// GETs a registrant-chosen `url` (its fragment dropped) through `http`
/// (the provider's client, with [`PublicAddresses`]): at most `max` bytes,
/// within `timeout`, a 2xx answer.
pub(crate) async fn fetch_limited(
    http: &reqwest::Client,
    url: &str,
    allow_private: bool,
    accept: &'static str,
    max: usize,
    timeout: std::time::Duration,
) -> Result<Vec<u8>, FetchError> {
    check_target(url, allow_private).map_err(FetchError::Refused)?;
    let target = url.split('#').next().unwrap_or_default().to_owned();
    let fetched = async {
        let mut response = http
            .get(&target)
            .header("accept", accept)
            .send()
            .await
            .map_err(|e| {
                tracing::info!(error = %e, refused = refused(&e), "outbound fetch failed");
                FetchError::Unreachable
            })?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| FetchError::Unreachable)?
        {
            if body.len() + chunk.len() > max {
                return Err(FetchError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, fetched)
        .await
        .map_err(|_| FetchError::Timeout(timeout))?
}
