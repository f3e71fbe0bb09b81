//! kubernetes.core's proxy options on the kube client's configuration: `no_proxy` (the
//! hosts, domains, IP addresses and CIDRs reached without the proxy) and `proxy_headers`
//! (the proxy's credentials, the `User-Agent`).

use std::net::IpAddr;

use anyhow::{anyhow, Context, Result};
use http::{HeaderValue, Uri};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::options::ProxyHeaders;

/// Applies `no_proxy` and `headers` to `config` (after its `proxy_url` is settled).
pub(super) fn apply(
    config: &mut kube::Config,
    no_proxy: Option<&str>,
    headers: &ProxyHeaders,
) -> Result<()> {
    if let Some(agent) = &headers.user_agent {
        let value = HeaderValue::from_str(agent)
            .map_err(|_| anyhow!("proxy_headers.user_agent is not a valid header value"))?;
        config.headers.push((http::header::USER_AGENT, value));
    }
    let Some(proxy) = config.proxy_url.clone() else {
        return Ok(());
    };
    if let Some(list) = no_proxy {
        if bypasses(list, &config.cluster_url) {
            config.proxy_url = None;
            return Ok(());
        }
    }
    if let Some(credentials) = headers.proxy_credentials() {
        config.proxy_url = Some(with_credentials(&proxy, credentials)?);
    }
    Ok(())
}

/// The proxy URL carrying `user:password` (percent-encoded; the client decodes it into
/// `Proxy-Authorization: Basic`). Never quotes the credentials in an error.
fn with_credentials(proxy: &Uri, credentials: &str) -> Result<Uri> {
    let (user, password) = credentials
        .split_once(':')
        .ok_or_else(|| anyhow!("proxy_headers: the proxy credentials must be `user:password`"))?;
    let authority = proxy
        .authority()
        .map(|a| a.as_str())
        .ok_or_else(|| anyhow!("the proxy URL has no host"))?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let scheme = proxy.scheme_str().unwrap_or("http");
    let encode = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    format!(
        "{scheme}://{}:{}@{host_port}{}",
        encode(user),
        encode(password),
        proxy.path_and_query().map_or("", |p| p.as_str())
    )
    .parse()
    .context("building the proxy URL with its credentials")
}

/// Whether `no_proxy` (comma-separated) names the server of `url`: `*`; an IP address or
/// a CIDR holding the server's address; a domain that is the server's host or a parent of
/// it (`example.com` and `.example.com` both match `api.example.com`, not
/// `badexample.com`); each optionally with `:port`, which must then be the server's.
pub fn bypasses(no_proxy: &str, url: &Uri) -> bool {
    let Some(host) = url.host() else {
        return false;
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = url
        .port_u16()
        .unwrap_or(if url.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    let ip = host.parse::<IpAddr>().ok();
    no_proxy
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .any(|entry| entry == "*" || matches_entry(&entry, &host, ip, port))
}

fn matches_entry(entry: &str, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
    if let Some((net, bits)) = entry.split_once('/') {
        return match (ip, net.parse::<IpAddr>(), bits.parse::<u8>()) {
            (Some(ip), Ok(net), Ok(bits)) => in_network(ip, net, bits),
            _ => false,
        };
    }
    let bare = entry.trim_start_matches('[').trim_end_matches(']');
    if let Ok(entry_ip) = bare.parse::<IpAddr>() {
        return ip == Some(entry_ip);
    }
    // `host:port` or `[v6]:port`.
    let (name, entry_port) = match entry
        .rsplit_once(':')
        .and_then(|(name, p)| Some((name, p.parse::<u16>().ok()?)))
    {
        Some((name, p)) => (name, Some(p)),
        None => (entry, None),
    };
    if entry_port.is_some_and(|p| p != port) {
        return false;
    }
    let name = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(entry_ip) = name.parse::<IpAddr>() {
        return ip == Some(entry_ip);
    }
    let domain = name.trim_start_matches("*.").trim_start_matches('.');
    !domain.is_empty()
        && (host == domain
            || host
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.')))
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by(list: &str, url: &str) -> bool {
        bypasses(list, &url.parse().unwrap())
    }

    #[test]
    fn no_proxy_matches_hosts_domains_ips_cidrs_and_ports() {
        let api = "https://api.cluster.example.com:6443";
        assert!(by("*", api));
        assert!(by("example.com", api));
        assert!(by(".example.com", api));
        assert!(by("*.example.com", api));
        assert!(by("localhost, api.cluster.example.com", api));
        assert!(by("api.cluster.example.com:6443", api));
        assert!(!by("api.cluster.example.com:443", api));
        assert!(!by("ample.com", api));
        assert!(!by("badexample.com", "https://example.com"));
        assert!(!by("", api));
        assert!(by("10.0.0.0/8", "https://10.1.2.3:6443"));
        assert!(!by("10.0.0.0/8", "https://11.1.2.3:6443"));
        assert!(by("127.0.0.1", "http://127.0.0.1:8080"));
        assert!(by("127.0.0.1:8080", "http://127.0.0.1:8080"));
        assert!(!by("127.0.0.1:80", "http://127.0.0.1:8080"));
        assert!(by("::1", "https://[::1]:6443"));
        assert!(by("fd00::/8", "https://[fd00::5]:6443"));
        assert!(!by("fd00::/8", "https://[fe80::5]:6443"));
        assert!(by("0.0.0.0/0", "https://1.2.3.4"));
        assert!(!by("10.0.0.0/99", "https://10.1.2.3"));
    }

    #[test]
    fn proxy_credentials_go_into_the_url_percent_encoded() {
        let proxy: Uri = "http://proxy.example.com:3128".parse().unwrap();
        let with = with_credentials(&proxy, "me:p@ss:w/rd").unwrap();
        assert_eq!(
            with.to_string(),
            "http://me:p%40ss%3Aw%2Frd@proxy.example.com:3128/"
        );
        let err = with_credentials(&proxy, "no-colon")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("no-colon"), "{err}");
    }
}
