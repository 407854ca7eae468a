//! The client's address as Gatehouse trusts it, and the proxies whose forwarding headers it
//! believes. The web layer computes one `ClientAddress` per request (`web::client`); throttles,
//! sessions and `/dev/emails` take it from there.
//!
//! Rules: the socket peer is the client unless the peer is a configured trusted proxy; then the
//! forwarding chain (`Forwarded: for=` or `X-Forwarded-For`) is read from the right, skipping
//! trusted proxies, and the first address that is not one is the client. A malformed chain is
//! ignored (the peer stays the client). Limits count IPv6 clients per /64, the block one
//! subscriber usually holds, so rotating addresses inside it does not evade them.

use core::net::{IpAddr, Ipv6Addr};
use core::str::FromStr;

use ipnet::IpNet;

/// The address a request came from, after the trusted-proxy rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress {
    ip: IpAddr,
    /// Whether the address came through a trusted proxy's forwarding header (not the socket).
    forwarded: bool,
}

impl ClientAddress {
    /// The socket peer itself.
    pub fn direct(ip: IpAddr) -> ClientAddress {
        ClientAddress { ip: canonical(ip), forwarded: false }
    }

    /// An address a trusted proxy (or an API-key holder) vouched for.
    pub fn forwarded(ip: IpAddr) -> ClientAddress {
        ClientAddress { ip: canonical(ip), forwarded: true }
    }

    /// Parses an address an API-key holder sent (`ip_address`); `None` if it is not one.
    pub fn parse_claimed(text: &str) -> Option<ClientAddress> {
        IpAddr::from_str(text.trim()).ok().map(ClientAddress::forwarded)
    }

    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// Whether a proxy or a backend relayed this address (so the request was not made
    /// directly by a program on this machine, whatever the address says).
    pub fn is_relayed(&self) -> bool {
        self.forwarded
    }

    /// Whether the request came straight from this machine over the loopback interface.
    pub fn is_direct_loopback(&self) -> bool {
        !self.forwarded && self.ip.is_loopback()
    }

    /// What per-address limits count under: an IPv4 address, or an IPv6 address's /64.
    pub fn bucket(&self) -> String {
        match self.ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        }
    }
}

impl core::fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.ip.fmt(f)
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, from dual-stack sockets) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The proxies whose `Forwarded` / `X-Forwarded-For` headers are believed (`--trusted-proxies`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `CIDR,CIDR,…`; a bare address means just that address. Empty: none.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = IpNet::from_str(item)
                .or_else(|_| IpAddr::from_str(item).map(IpNet::from))
                .map_err(|_| format!("'{item}' is not an IP address or CIDR block (e.g. 10.0.0.0/8, ::1)"))?;
            nets.push(net.trunc());
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`, given the forwarding chain the request carried (client
    /// first, as the headers list it; `None` when absent or malformed).
    pub fn resolve(&self, peer: IpAddr, chain: Option<&[IpAddr]>) -> ClientAddress {
        if !self.contains(peer) {
            return ClientAddress::direct(peer);
        }
        let Some(chain) = chain else {
            return ClientAddress::direct(peer);
        };
        match chain.iter().rev().find(|ip| !self.contains(**ip)).or_else(|| chain.first()) {
            Some(ip) => ClientAddress::forwarded(*ip),
            None => ClientAddress::direct(peer),
        }
    }

    /// The listed blocks, as given (for the start-up log).
    pub fn describe(&self) -> String {
        self.0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    }
}

/// The addresses of `X-Forwarded-For` header values, client first; `None` if any is malformed.
pub fn parse_x_forwarded_for<'a>(values: impl Iterator<Item = &'a str>) -> Option<Vec<IpAddr>> {
    let mut out = Vec::new();
    for item in values.flat_map(|v| v.split(',')) {
        out.push(parse_node(item.trim())?);
    }
    if out.is_empty() { None } else { Some(out) }
}

/// The `for=` addresses of RFC 7239 `Forwarded` header values, client first; `None` if any
/// element lacks one or names no address (`unknown`, obfuscated identifiers).
pub fn parse_forwarded<'a>(values: impl Iterator<Item = &'a str>) -> Option<Vec<IpAddr>> {
    let mut out = Vec::new();
    for element in values.flat_map(|v| v.split(',')) {
        let node = element.split(';').find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            k.trim().eq_ignore_ascii_case("for").then(|| v.trim().trim_matches('"'))
        })?;
        out.push(parse_node(node)?);
    }
    if out.is_empty() { None } else { Some(out) }
}

/// One node: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = IpAddr::from_str(node) {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return IpAddr::from_str(rest.split(']').next()?).ok();
    }
    let (host, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    IpAddr::from_str(host).ok().filter(IpAddr::is_ipv4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_send() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let chain = [ip("1.2.3.4")];
        assert_eq!(proxies.resolve(ip("203.0.113.9"), Some(&chain)), ClientAddress::direct(ip("203.0.113.9")));
        let none = TrustedProxies::default();
        assert_eq!(none.resolve(ip("127.0.0.1"), Some(&chain)).ip(), ip("127.0.0.1"));
    }

    #[test]
    fn trusted_proxies_name_the_first_untrusted_hop_from_the_right() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, ::1").unwrap();
        // A client-supplied spoof at the left is skipped: the proxy appended the real peer.
        let chain = [ip("6.6.6.6"), ip("198.51.100.7"), ip("10.1.1.1")];
        let got = proxies.resolve(ip("10.0.0.2"), Some(&chain));
        assert_eq!(got.ip(), ip("198.51.100.7"));
        assert!(got.is_relayed() && !got.is_direct_loopback());
        assert_eq!(proxies.resolve(ip("::1"), None), ClientAddress::direct(ip("::1")));
        let all_trusted = [ip("10.9.9.9")];
        assert_eq!(proxies.resolve(ip("10.0.0.2"), Some(&all_trusted)).ip(), ip("10.9.9.9"));
    }

    #[test]
    fn headers_parse_or_are_ignored() {
        assert_eq!(parse_x_forwarded_for(["1.2.3.4, 5.6.7.8"].into_iter()), Some(vec![ip("1.2.3.4"), ip("5.6.7.8")]));
        assert_eq!(parse_x_forwarded_for(["1.2.3.4, junk"].into_iter()), None);
        assert_eq!(parse_x_forwarded_for([""].into_iter()), None);
        assert_eq!(
            parse_forwarded(
                ["for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[2001:db8:cafe::17]:4711\""].into_iter()
            ),
            Some(vec![ip("192.0.2.60"), ip("2001:db8:cafe::17")])
        );
        assert_eq!(parse_forwarded(["for=unknown"].into_iter()), None);
        assert_eq!(parse_node("1.2.3.4:80"), Some(ip("1.2.3.4")));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_is_v4() {
        let a = ClientAddress::direct(ip("2001:db8:1:2:aaaa::1"));
        let b = ClientAddress::direct(ip("2001:db8:1:2:ffff::9"));
        assert_eq!(a.bucket(), "2001:db8:1:2::/64");
        assert_eq!(a.bucket(), b.bucket());
        assert_eq!(ClientAddress::direct(ip("::ffff:1.2.3.4")).bucket(), "1.2.3.4");
        assert!(TrustedProxies::parse("nope").is_err());
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }
}
