//! Which addresses the proxy may connect to: never loopback, private, link-local, shared
//! (CGNAT), multicast, broadcast, documentation or unspecified addresses, nor an IPv6 address
//! outside global unicast or one that carries such an IPv4 address (NAT64, 6to4): an avatar
//! URL must not reach the operator's own network (SSRF), unless the operator allows a network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The address rules: the refused ranges, minus the networks the operator allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressGuard {
    allowed: Vec<IpNet>,
}

impl AddressGuard {
    /// Also allows `network`, even where it lies in a refused range (tests allow
    /// `127.0.0.0/8`; an operator may allow an internal avatar server).
    #[must_use]
    pub fn allow(mut self, network: IpNet) -> Self {
        self.allowed.push(network);
        self
    }

    /// Whether the proxy may connect to `ip`.
    #[must_use]
    pub fn allows(&self, ip: IpAddr) -> bool {
        // An IPv4-mapped IPv6 address is the IPv4 address it maps.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        self.allowed.iter().any(|network| network.contains(&ip)) || is_public(ip)
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        // 0.0.0.0/8 ("this network"), 100.64.0.0/10 (shared, CGNAT), 192.0.0.0/24 (protocol
        // assignments), 198.18.0.0/15 (benchmarking), 240.0.0.0/4 (reserved).
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

/// Only global unicast (`2000::/3`) is public, less the special ranges within it; outside it
/// lie loopback, unspecified, IPv4-compatible, multicast, unique-local, link-local and
/// site-local addresses, and the local-use NAT64 prefix. The well-known NAT64 prefix
/// `64:ff9b::/96` (RFC 6052) is the IPv4 address it embeds: on an IPv6-only host behind DNS64
/// every IPv4 avatar server has such an address, and an internal one must stay refused.
fn is_public_v6(ip: Ipv6Addr) -> bool {
    let [first, second, ..] = ip.segments();
    let bits = ip.to_bits();
    if bits >> 32 == 0x0064_ff9b_u128 << 64 {
        // 64:ff9b::/96: the last four bytes are the IPv4 address.
        let [.., a, b, c, d] = ip.octets();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    (first & 0xe000) == 0x2000
        // 2001::/23: IETF protocol assignments (Teredo, benchmarking, ORCHID).
        && !(first == 0x2001 && second < 0x0200)
        // 2001:db8::/32 and 3fff::/20: documentation.
        && !(first == 0x2001 && second == 0x0db8)
        && !(first == 0x3fff && second < 0x1000)
        // 2002::/16: 6to4, an IPv4 address behind a relay.
        && first != 0x2002
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_and_public_ones_allowed() {
        let guard = AddressGuard::default();
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "2001:db8::1",
            "fec0::1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::808:808",
            "100::1",
            "2001::1",
            "2001:2::1",
            "2002:7f00:1::1",
            "3fff::1",
        ] {
            assert!(!guard.allows(refused.parse().unwrap()), "{refused}");
        }
        for allowed in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2a00:1450:4001:80b::200e",
            "2001:4860:4860::8888",
        ] {
            assert!(guard.allows(allowed.parse().unwrap()), "{allowed}");
        }
    }

    #[test]
    fn an_allowed_network_opens_only_itself() {
        let guard = AddressGuard::default().allow("127.0.0.0/8".parse().unwrap());
        assert!(guard.allows("127.0.0.1".parse().unwrap()));
        assert!(guard.allows("::ffff:127.0.0.2".parse().unwrap()));
        assert!(!guard.allows("169.254.169.254".parse().unwrap()));
        assert!(!guard.allows("::1".parse().unwrap()));
    }
}
