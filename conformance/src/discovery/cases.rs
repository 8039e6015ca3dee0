//! The `libravatar-discovery` cases: every rule of section 3 of `docs/protocol.md` and
//! every known bug of another client library listed there. The zones they run against are in
//! `conformance/zones/`; each name there says which case uses it.

use std::time::Duration;

use avatar_proto::Scheme;

use super::{DiscoveryCheck, DiscoveryExpect, Nameserver, QueryParameter};
use crate::case::{Case, Check, Group, Level};

use DiscoveryExpect::{
    AnyOf, AskedOnce, Base, Central, EachOf, HashOfIdentity, NoTrailingDot, Query, Share, Within,
};
use Level::{Compat, Must, Should};
use Scheme::{Http, Https};

const SPEC: &str = "Libravatar API: federation through DNS SRV";
const SANITISE: &str = "Libravatar API: sanitise the target (MUST)";
const RFC2782: &str = "Libravatar API and RFC 2782: priorities and weights";
const PROJECT: &str = "docs/protocol.md section 3";
const QUERY: &str =
    "docs/protocol.md [discovery.query] (decision: one library double-encodes, another not at all)";

#[expect(clippy::too_many_arguments, reason = "one call per row of a table")]
fn case(
    id: &'static str,
    level: Level,
    source: &'static str,
    title: &'static str,
    identity: &'static str,
    scheme: Scheme,
    draws: u32,
    expect: Vec<DiscoveryExpect>,
) -> Case {
    Case {
        id,
        group: Group::LibravatarDiscovery,
        title,
        source,
        level,
        check: Check::Discovery(DiscoveryCheck {
            identity,
            scheme,
            nameserver: Nameserver::Fake,
            draws,
            size: None,
            default: None,
            expect,
        }),
    }
}

/// The discovery cases, in report order.
#[must_use]
#[expect(
    clippy::too_many_lines,
    reason = "a table of cases reads best as one list"
)]
pub fn discovery_cases() -> Vec<Case> {
    let mut cases = vec![
        case(
            "discovery-http",
            Must,
            SPEC,
            "an http page uses _avatars._tcp (port 80 written or not: the same URL)",
            "alice@example.org",
            Http,
            1,
            vec![Base("http://avatars.example.org/avatar/")],
        ),
        case(
            "discovery-https",
            Must,
            SPEC,
            "an https page uses _avatars-sec._tcp (port 443 written or not: the same URL)",
            "alice@example.org",
            Https,
            1,
            vec![Base("https://secure-avatars.example.org/avatar/")],
        ),
        case(
            "discovery-trailing-dot",
            Must,
            "bug of pyLibravatar 2.0.0 (fixed in 2.0.2): the trailing dot kept in the host",
            "the target's trailing dot is stripped",
            "alice@example.org",
            Http,
            1,
            vec![NoTrailingDot, Base("http://avatars.example.org/avatar/")],
        ),
        case(
            "discovery-trailing-dot-several",
            Must,
            "bug of go-libravatar: the trailing dot stripped for a single record only",
            "the trailing dot is stripped from a target drawn among several records too",
            "alice@multi.example.org",
            Http,
            10,
            vec![NoTrailingDot],
        ),
        case(
            "discovery-hash",
            Must,
            SPEC,
            "the URL ends in /avatar/ and the email's hash",
            "alice@example.org",
            Http,
            1,
            vec![HashOfIdentity],
        ),
        case(
            "discovery-normalised-email",
            Must,
            "Libravatar API: lowercase the email",
            "the email is lowercased before hashing and the domain looked up without case",
            "Alice@EXAMPLE.ORG",
            Http,
            1,
            vec![Base("http://avatars.example.org/avatar/"), HashOfIdentity],
        ),
        case(
            "discovery-https-base-form",
            Compat,
            "bug of Perl Libravatar::URL: https/avatar",
            "a federated https base is https://host/avatar/, not the literal https/avatar",
            "alice@example.org",
            Https,
            1,
            vec![
                Base("https://secure-avatars.example.org/avatar/"),
                HashOfIdentity,
            ],
        ),
        case(
            "discovery-custom-port-http",
            Must,
            SPEC,
            "a custom port of a single record is kept (go-libravatar drops it)",
            "alice@custom.example.org",
            Http,
            1,
            vec![Base("http://img.custom.example.org:8080/avatar/")],
        ),
        case(
            "discovery-custom-port-https",
            Must,
            SPEC,
            "a custom https port of a single record is kept",
            "alice@custom.example.org",
            Https,
            1,
            vec![Base("https://img.custom.example.org:8443/avatar/")],
        ),
        case(
            "discovery-https-port-80",
            Must,
            SPEC,
            "https with port 80 keeps :80",
            "alice@http80.example.org",
            Https,
            1,
            vec![Base("https://img.example.org:80/avatar/")],
        ),
        case(
            "discovery-http-port-443",
            Must,
            SPEC,
            "http with port 443 keeps :443",
            "alice@https443.example.org",
            Http,
            1,
            vec![Base("http://img.example.org:443/avatar/")],
        ),
        case(
            "discovery-several-records-port",
            Must,
            "bug of go-libravatar: ports kept only for several records",
            "with several records the chosen one's port is kept too",
            "alice@multi.example.org",
            Http,
            40,
            vec![EachOf(&[
                "http://m1.example.org:8080/avatar/",
                "http://m2.example.org:8080/avatar/",
            ])],
        ),
        case(
            "discovery-priority",
            Must,
            RFC2782,
            "only the lowest priority value is used, whatever the weights",
            "alice@priorities.example.org",
            Http,
            30,
            vec![Base("http://early.example.org/avatar/")],
        ),
        case(
            "discovery-weights",
            Must,
            RFC2782,
            "weights 10 and 30 share the draws about 1:3",
            "alice@weights.example.org",
            Http,
            200,
            vec![
                EachOf(&[
                    "http://a.example.org/avatar/",
                    "http://b.example.org/avatar/",
                ]),
                Share {
                    base: "http://b.example.org/avatar/",
                    low: 0.6,
                    high: 0.9,
                },
            ],
        ),
        case(
            "discovery-zero-weights",
            Must,
            "RFC 2782 (equal records in any order); bug of go-libravatar: panics on all-zero weights",
            "all-zero weights work: one of the records is chosen",
            "alice@zero.example.org",
            Http,
            10,
            vec![AnyOf(&[
                "http://z1.example.org/avatar/",
                "http://z2.example.org/avatar/",
            ])],
        ),
        case(
            "discovery-zero-weights-spread",
            Should,
            "docs/protocol.md [discovery.select] (decision: draw uniformly; always the first is conformant too)",
            "all-zero weights: every record gets chosen now and then",
            "alice@zero.example.org",
            Http,
            40,
            vec![EachOf(&[
                "http://z1.example.org/avatar/",
                "http://z2.example.org/avatar/",
            ])],
        ),
        case(
            "discovery-junk-underscore",
            Must,
            SANITISE,
            "a target with an underscore falls back to the central server",
            "alice@junk.example.org",
            Http,
            1,
            vec![Central],
        ),
    ];
    macro_rules! junk {
        ($id:literal, $subdomain:literal, $what:literal) => {
            case(
                $id,
                Must,
                SANITISE,
                concat!("a target with ", $what, " falls back to the central server"),
                concat!("alice@", $subdomain, ".example.org"),
                Http,
                1,
                vec![Central],
            )
        };
    }
    cases.extend([
        junk!("discovery-junk-space", "junk-space", "a space in a label"),
        junk!(
            "discovery-junk-slash",
            "junk-slash",
            "a slash (a path smuggled into the host)"
        ),
        junk!(
            "discovery-junk-at",
            "junk-at",
            "an @ (userinfo smuggled into the host)"
        ),
        junk!(
            "discovery-junk-colon",
            "junk-colon",
            "a colon (a port smuggled into the host)"
        ),
    ]);
    cases.extend([
        case(
            "discovery-sanitiser-called",
            Compat,
            "bug of an old Ruby gem: sanitiser defined but never called",
            "junk targets are refused on https pages too",
            "alice@junk-slash.example.org",
            Https,
            1,
            vec![Central],
        ),
        case(
            "discovery-port-zero",
            Must,
            SANITISE,
            "port 0 falls back to the central server",
            "alice@portzero.example.org",
            Http,
            1,
            vec![Central],
        ),
        case(
            "discovery-dot-target",
            Must,
            "RFC 2782: a target of . means no service",
            "a . target falls back to the central server",
            "alice@noservice.example.org",
            Http,
            1,
            vec![Central],
        ),
        case(
            "discovery-uppercase-target",
            Should,
            PROJECT,
            "an uppercase target is a valid host",
            "alice@shouting.example.org",
            Http,
            1,
            vec![Base("http://avatars.example.org/avatar/")],
        ),
        case(
            "discovery-subdomain",
            Must,
            SPEC,
            "a subdomain with its own records uses them",
            "alice@team.example.org",
            Http,
            1,
            vec![Base("http://team-avatars.example.org/avatar/")],
        ),
        case(
            "discovery-no-walking-up",
            Must,
            SPEC,
            "a subdomain without records does not inherit its parent's",
            "alice@deep.example.org",
            Http,
            1,
            vec![Central],
        ),
        case(
            "discovery-nxdomain",
            Must,
            SPEC,
            "a name that does not exist falls back to the central server",
            "alice@missing.example.org",
            Http,
            1,
            vec![Central],
        ),
        case(
            "discovery-refused",
            Must,
            SPEC,
            "a domain the nameserver refuses falls back to the central server",
            "alice@not-served.test",
            Https,
            1,
            vec![Central],
        ),
        case(
            "discovery-idn",
            Must,
            SPEC,
            "an IDN domain is looked up as IDNA ASCII (bücher -> xn--bcher-kva)",
            "user@bücher.example",
            Http,
            1,
            vec![Base("http://avatars.xn--bcher-kva.example/avatar/")],
        ),
        case(
            "discovery-openid",
            Must,
            SPEC,
            "an OpenID URL's host is looked up, and the hash is its SHA-256",
            "https://example.org/id/bob",
            Http,
            1,
            vec![Base("http://avatars.example.org/avatar/"), HashOfIdentity],
        ),
        case(
            "discovery-openid-port",
            Compat,
            "bug of PHP Services_Libravatar: the OpenID port in the SRV name",
            "an OpenID's port does not leak into the SRV name",
            "https://example.org:8443/id/bob",
            Https,
            1,
            vec![Base("https://secure-avatars.example.org/avatar/")],
        ),
        case(
            "discovery-central-http",
            Must,
            SPEC,
            "an http page falls back to http://cdn.libravatar.org/avatar/ (or the https form)",
            "alice@missing.example.org",
            Http,
            1,
            vec![Central, HashOfIdentity],
        ),
        case(
            "discovery-central-https",
            Must,
            SPEC,
            "the central https base is https://seccdn.libravatar.org/avatar/",
            "alice@missing.example.org",
            Https,
            1,
            vec![
                Base("https://seccdn.libravatar.org/avatar/"),
                HashOfIdentity,
            ],
        ),
    ]);
    cases.push(Case {
        id: "discovery-dns-down",
        group: Group::LibravatarDiscovery,
        title: "a nameserver that never answers falls back to the central server within a few seconds (not 20 s)",
        source: PROJECT,
        level: Should,
        check: Check::Discovery(DiscoveryCheck {
            identity: "alice@example.org",
            scheme: Http,
            nameserver: Nameserver::Silent,
            draws: 1,
            size: None,
            default: None,
            expect: vec![Central, Within(Duration::from_secs(5))],
        }),
    });
    cases.push(case(
        "discovery-cache-one-process",
        Should,
        "Libravatar API and docs/protocol.md [discovery.cache] (an answer is kept for at least a day)",
        "a second lookup in the same process is answered from the client's cache (optional for command clients: {again})",
        "alice@cached.example.org",
        Http,
        2,
        vec![
            Base("http://avatars.cached.example.org/avatar/"),
            AskedOnce("_avatars._tcp.cached.example.org"),
        ],
    ));
    cases.extend([
        with_parameters(
            case(
                "discovery-query-default-encoded-once",
                Should,
                QUERY,
                "a URL default is percent-encoded exactly once",
                "alice@example.org",
                Http,
                1,
                vec![Query(QueryParameter::Default, URL_DEFAULT)],
            ),
            None,
            Some(URL_DEFAULT),
        ),
        with_parameters(
            case(
                "discovery-query-size-clamped",
                Should,
                QUERY,
                "s=1000 is sent as s=512",
                "alice@example.org",
                Http,
                1,
                vec![Query(QueryParameter::Size, "512")],
            ),
            Some(1000),
            None,
        ),
    ]);
    cases
}

/// A default with every character that needs encoding in a query value.
const URL_DEFAULT: &str = "https://example.org/a b.png?x=1&y=2#z";

/// The same case asking for a size and a default (a command client needs `{size}` and
/// `{default}` in its template, or the case is skipped).
fn with_parameters(mut case: Case, size: Option<u32>, default: Option<&'static str>) -> Case {
    if let Check::Discovery(check) = &mut case.check {
        check.size = size;
        check.default = default;
    }
    case
}

#[cfg(test)]
mod tests {
    use super::discovery_cases;
    use crate::discovery::ZONES;

    /// Every case id a zone file's comments name is a real case: the comments say which case
    /// each record is for.
    #[test]
    fn zone_comments_name_real_cases() {
        let ids: Vec<&str> = discovery_cases().iter().map(|case| case.id).collect();
        for (file, text) in ZONES {
            for line in text.lines().filter(|line| line.starts_with(';')) {
                for word in
                    line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '*'))
                {
                    if let Some(prefix) = word.strip_suffix('*') {
                        assert!(
                            ids.iter().any(|id| id.starts_with(prefix)),
                            "{file}: {word} matches no case"
                        );
                    } else if word.starts_with("discovery-") {
                        assert!(ids.contains(&word), "{file}: {word} is not a case id");
                    }
                }
            }
        }
    }
}
