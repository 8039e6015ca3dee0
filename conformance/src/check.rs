//! `avatar-conformance check DOMAIN`: a domain checker for people running their own avatar
//! server. It asks DNS for both SRV names the way clients do, says what it found (priorities,
//! weights, ports, targets, the TTL, and what a client's sanitiser makes of each record), tries
//! every target on its scheme (for https, with the certificate checked against the web's roots),
//! and runs the read-only server cases that need no fixtures against the first target that
//! answers, plus hit cases for `--identity` when given.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use avatar_discovery::{Discovery, SrvAnswer};
use avatar_proto::identity::idna_domain;
use avatar_proto::srv::SplitMix64;
use avatar_proto::{BaseUrl, Fallback, Identity, Scheme, SrvRecord};
use http::Method;
use serde::Serialize;

use crate::case::{Case, Check, Group, Level};
use crate::error::ConformanceError;
use crate::http::{Expect, HttpCheck, HttpTarget, Judge, Req, server_cases};
use crate::report::escape;
use crate::runner::{Progress, Report, Targets, run};

/// A TTL under this many seconds gets a warning.
pub const RECOMMENDED_MIN_TTL: u32 = 86_400;

/// How long one SRV lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The email domain, such as `example.org` (an internationalised one is looked up as IDNA).
    pub domain: String,
    /// An address of the domain that has an avatar: its hit cases run too.
    pub identity: Option<Identity>,
    /// The DNS server to ask; the system's resolver when `None`.
    pub nameserver: Option<SocketAddr>,
    /// Certificate authorities to trust besides the web's roots (DER), for a private CA.
    pub extra_roots: Vec<Vec<u8>>,
}

/// What the checker found.
#[derive(Debug, Serialize)]
pub struct DomainReport {
    /// The domain checked.
    pub domain: String,
    /// Both SRV names, `_avatars-sec._tcp` first.
    pub names: Vec<SrvName>,
    /// Every distinct usable target, tried on its scheme.
    pub servers: Vec<ServerProbe>,
    /// The server cases run against the first server that answered (none if none did).
    pub cases: Option<Report>,
    /// What the reader should know first: short TTLs, records clients refuse, no server.
    pub warnings: Vec<String>,
}

/// One SRV name and DNS's answer.
#[derive(Debug, Serialize)]
pub struct SrvName {
    /// `_avatars._tcp.DOMAIN` or `_avatars-sec._tcp.DOMAIN`.
    pub name: String,
    /// `http` or `https`: the pages this name serves.
    pub scheme: &'static str,
    /// `records`, `none` or `failed: REASON`.
    pub answer: String,
    /// The smallest TTL of the answer, in seconds.
    pub ttl: Option<u32>,
    /// The records, in the order received.
    pub records: Vec<RecordFinding>,
    /// The base URL a client builds from them (central when none is usable).
    pub base: String,
}

impl SrvName {
    /// Whether the lookup failed (no answer, or an error), rather than answering.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.answer.starts_with("failed")
    }
}

/// One record and what a client makes of it.
#[derive(Debug, Serialize)]
pub struct RecordFinding {
    /// Lower is preferred.
    pub priority: u16,
    /// Share among records of the same priority.
    pub weight: u16,
    /// The port.
    pub port: u16,
    /// The target as received.
    pub target: String,
    /// Why a client will not use it, if it will not.
    pub problem: Option<String>,
}

/// One server tried on its scheme.
#[derive(Debug, Serialize)]
pub struct ServerProbe {
    /// Its base URL, `http(s)://host[:port]/avatar/`.
    pub base: String,
    /// `answered HTTP 200` or why it did not answer (refused, TLS certificate, timeout).
    pub result: String,
    /// Whether it answered at all.
    pub answered: bool,
}

/// Runs the checker.
///
/// # Errors
/// [`ConformanceError::Dns`] when the resolver cannot be built (no system configuration).
pub async fn check_domain(
    options: &CheckOptions,
    progress: Progress,
) -> Result<DomainReport, ConformanceError> {
    let mut builder = Discovery::builder().timeout(LOOKUP_TIMEOUT);
    if let Some(nameserver) = options.nameserver {
        builder = builder.nameserver(nameserver);
    }
    let discovery = builder.build()?;
    let mut names = Vec::new();
    let mut servers: Vec<ServerProbe> = Vec::new();
    // Both names at once: a silent nameserver costs one lookup timeout, not two.
    let (mut warnings, mut http_warnings) = (Vec::new(), Vec::new());
    let (https, http) = tokio::join!(
        srv_name(&discovery, &options.domain, Scheme::Https, &mut warnings),
        srv_name(
            &discovery,
            &options.domain,
            Scheme::Http,
            &mut http_warnings
        ),
    );
    warnings.append(&mut http_warnings);
    for (scheme, name) in [(Scheme::Https, https), (Scheme::Http, http)] {
        for record in &name.1 {
            let Ok(target) = record.sanitise() else {
                continue;
            };
            let base = BaseUrl::federated(scheme, target).as_str().to_owned();
            if servers.iter().any(|server| server.base == base) {
                continue;
            }
            servers.push(probe(&base, &options.extra_roots, &discovery).await);
        }
        names.push(name.0);
    }
    let answering = servers.iter().find(|server| server.answered);
    let failed: Vec<&SrvName> = names.iter().filter(|name| name.failed()).collect();
    if servers.is_empty() && failed.len() == names.len() {
        // Not "no server": the question went unanswered.
        warnings.push(format!(
            "the DNS lookups for {} failed ({}), so whether it publishes an avatar server is not known: is the nameserver reachable (--nameserver to ask another)?",
            options.domain,
            failed
                .first()
                .map_or("", |name| name.answer.trim_start_matches("failed: "))
        ));
    } else if servers.is_empty() {
        let mut unanswered = String::new();
        for name in &failed {
            let _ = write!(unanswered, " (the lookup of {} {})", name.name, name.answer);
        }
        warnings.push(format!(
            "{} publishes no usable avatar server: clients use the central one (cdn.libravatar.org){unanswered}",
            options.domain
        ));
    } else if answering.is_none() {
        warnings.push(
            "no avatar server of the domain answered: clients will show broken images".to_owned(),
        );
    }
    let cases = match answering {
        Some(server) => {
            progress.say(format_args!(
                "avatar-conformance: server cases against {}\n",
                server.base
            ));
            let root = server
                .base
                .trim_end_matches('/')
                .trim_end_matches("/avatar");
            let mut target =
                HttpTarget::trusting_found_by(root, &options.extra_roots, discovery.clone())?;
            if let Some(identity) = &options.identity {
                target = target.with_identity(identity.clone());
            }
            let mut targets = Targets {
                http: Some(target),
                described: vec![("libravatar-server".to_owned(), server.base.clone())],
                ..Targets::default()
            };
            let cases = domain_cases(options.identity.is_some());
            // The fixtures warning does not apply: these cases need none.
            let mut report =
                run(&cases, &mut targets, &[Group::LibravatarServer], progress).await?;
            report.warnings.clear();
            Some(report)
        }
        None => None,
    };
    Ok(DomainReport {
        domain: options.domain.clone(),
        names,
        servers,
        cases,
        warnings,
    })
}

/// Looks one SRV name up and describes it; the records come back for probing.
async fn srv_name(
    discovery: &Discovery,
    domain: &str,
    scheme: Scheme,
    warnings: &mut Vec<String>,
) -> (SrvName, Vec<SrvRecord>) {
    let ascii = idna_domain(domain).unwrap_or_else(|_| domain.to_owned());
    let name = scheme.srv_name(&ascii).trim_end_matches('.').to_owned();
    let looked = discovery.lookup_now(domain, scheme).await;
    let (answer, ttl, records) = match &looked {
        Ok(SrvAnswer::Records { records, ttl }) => {
            ("records".to_owned(), Some(*ttl), records.to_vec())
        }
        Ok(SrvAnswer::NoRecords) => ("none".to_owned(), None, Vec::new()),
        Ok(SrvAnswer::Failed { reason }) => (format!("failed: {reason}"), None, Vec::new()),
        Ok(SrvAnswer::TimedOut { after }) => (
            format!("failed: no answer within {after:?}"),
            None,
            Vec::new(),
        ),
        Ok(_) => ("failed".to_owned(), None, Vec::new()),
        Err(reason) => (format!("failed: {reason}"), None, Vec::new()),
    };
    if let Some(ttl) = ttl.filter(|ttl| *ttl < RECOMMENDED_MIN_TTL) {
        warnings.push(format!(
            "{name} has a TTL of {ttl} s: under a day, so resolvers ask again sooner than clients need (86400 or more is usual)"
        ));
    }
    let findings: Vec<RecordFinding> = records
        .iter()
        .map(|record| RecordFinding {
            priority: record.priority,
            weight: record.weight,
            port: record.port,
            target: record.target.clone(),
            problem: record_problem(record),
        })
        .collect();
    for finding in findings.iter().filter(|finding| finding.problem.is_some()) {
        warnings.push(format!(
            "{name}: {} {} {} {}: {}",
            finding.priority,
            finding.weight,
            finding.port,
            finding.target,
            finding.problem.as_deref().unwrap_or("")
        ));
    }
    // What a client builds: one record drawn by priority and weight, or the central server.
    let usable = records
        .iter()
        .filter(|record| record.sanitise().is_ok())
        .count();
    let mut base = BaseUrl::from_srv(scheme, &records, &mut SplitMix64::new(1))
        .as_str()
        .to_owned();
    if usable > 1 {
        base.push_str(" (or another record's, drawn by priority and weight)");
    }
    (
        SrvName {
            name,
            scheme: scheme.as_str(),
            answer,
            ttl,
            records: findings,
            base,
        },
        records,
    )
}

/// Why a client's sanitiser refuses `record`, in words (`docs/protocol.md`
/// `[discovery.sanitise]` and `[discovery.no-service]`).
fn record_problem(record: &SrvRecord) -> Option<String> {
    if record.is_no_service() {
        return Some("target \".\": the domain declares no avatar service".to_owned());
    }
    match record.sanitise() {
        Ok(_) => None,
        Err(Fallback::InvalidPort) => Some("port 0 is not a port: clients refuse it".to_owned()),
        Err(_) => Some(format!(
            "target {:?} is not a host name of letters, digits, dots and hyphens: clients refuse it",
            record.target
        )),
    }
}

/// Asks `base` for an avatar nobody has, on its own scheme, finding its host with `names`.
async fn probe(base: &str, extra_roots: &[Vec<u8>], names: &Discovery) -> ServerProbe {
    let root = base.trim_end_matches('/').trim_end_matches("/avatar");
    let nobody = crate::fixtures::fixture("nobody")
        .map(crate::fixtures::Fixture::md5)
        .unwrap_or_default();
    let result = match HttpTarget::trusting_found_by(root, extra_roots, names.clone()) {
        Ok(target) => target
            .send(&Method::GET, &format!("/avatar/{nobody}?s=48"), &[])
            .await
            .map(|exchange| exchange.status),
        Err(err) => Err(err),
    };
    match result {
        Ok(status) => ServerProbe {
            base: base.to_owned(),
            result: format!("answered HTTP {status}"),
            answered: true,
        },
        Err(err) => ServerProbe {
            base: base.to_owned(),
            result: format!("no answer: {}", avatar_proto::report::with_causes(&err)),
            answered: false,
        },
    }
}

/// The server cases that need no fixtures (headers, methods, sizes and hostile `d=` on a miss),
/// and with `identity`, hit cases for it.
#[must_use]
pub fn domain_cases(identity: bool) -> Vec<Case> {
    let mut cases: Vec<Case> = server_cases()
        .into_iter()
        .filter(|case| match &case.check {
            Check::Http(check) => check
                .templates()
                .iter()
                .all(|template| uses_only_misses(template)),
            _ => false,
        })
        .collect();
    if identity {
        cases.extend(identity_cases());
    }
    cases
}

/// Whether a request template names no stored fixture (only `{nobody}` and `{stranger}`).
fn uses_only_misses(template: &str) -> bool {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split('}').next())
        .all(|name| matches!(name.split('.').next(), Some("nobody" | "stranger")))
}

/// Hit cases for the checker's `--identity`: the hash finds an image, at the size asked.
fn identity_cases() -> Vec<Case> {
    const SOURCE: &str = "Libravatar API";
    let hit = Req::get("/avatar/{identity}?s=64");
    let case = |id, level, title, request, expect| Case {
        id,
        group: Group::LibravatarServer,
        title,
        source: SOURCE,
        level,
        check: Check::Http(HttpCheck {
            request,
            expect,
            judge: Judge::Final,
        }),
    };
    vec![
        case(
            "identity-hit",
            Level::Must,
            "the identity's hash finds its avatar: a 64 x 64 image",
            hit,
            vec![
                Expect::Status(200),
                Expect::Square(64),
                Expect::ContentTypeFromBytes,
                Expect::DifferentBodyFrom(Req::get("/avatar/{nobody}?s=64")),
            ],
        ),
        case(
            "identity-hit-sha256",
            Level::Must,
            "its SHA-256 gives the same image",
            Req::get("/avatar/{identity.sha256}?s=64"),
            vec![Expect::Status(200), Expect::SameBodyAs(hit)],
        ),
        case(
            "identity-hit-size-512",
            Level::Must,
            "s=512 gives 512 x 512",
            Req::get("/avatar/{identity}?s=512"),
            vec![Expect::Status(200), Expect::Square(512)],
        ),
        case(
            "identity-hit-cache",
            Level::Should,
            "the hit can be cached: a max-age, and it revalidates when an ETag is sent",
            hit,
            vec![Expect::MaxAge],
        ),
    ]
}

/// The domain report for a terminal: DNS, servers, warnings, then the cases' summary.
#[must_use]
pub fn summary(report: &DomainReport) -> String {
    let mut out = String::new();
    for warning in &report.warnings {
        let _ = writeln!(out, "WARNING: {warning}");
    }
    let _ = writeln!(out, "domain {}", report.domain);
    for name in &report.names {
        let ttl = name
            .ttl
            .map(|ttl| format!(", TTL {ttl} s"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\n{} ({} pages): {}{ttl}",
            name.name, name.scheme, name.answer
        );
        for record in &name.records {
            let _ = writeln!(
                out,
                "  priority {} weight {} port {} target {}{}",
                record.priority,
                record.weight,
                record.port,
                record.target,
                record
                    .problem
                    .as_deref()
                    .map(|problem| format!("  <- {problem}"))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(out, "  clients use {}", name.base);
    }
    if !report.servers.is_empty() {
        let _ = writeln!(out, "\nservers:");
        for server in &report.servers {
            let _ = writeln!(out, "  {}  {}", server.base, server.result);
        }
    }
    if let Some(cases) = &report.cases {
        let _ = writeln!(out);
        out.push_str(&crate::report::summary(cases));
    }
    out
}

/// The domain report as JSON.
#[must_use]
pub fn json(report: &DomainReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
}

/// The domain report as one HTML page: DNS and servers first, then the cases' page.
#[must_use]
pub fn html(report: &DomainReport) -> String {
    let mut preface = format!("<h1>Avatar server check: {}</h1>\n", escape(&report.domain));
    for warning in &report.warnings {
        let _ = writeln!(
            preface,
            "<p class=\"warning\"><strong>Warning:</strong> {}</p>",
            escape(warning)
        );
    }
    for name in &report.names {
        let ttl = name
            .ttl
            .map(|ttl| format!(", TTL {ttl} s"))
            .unwrap_or_default();
        let _ = writeln!(
            preface,
            "<h2><code>{}</code> ({} pages): {}{ttl}</h2>",
            escape(&name.name),
            name.scheme,
            escape(&name.answer)
        );
        // A table only for records there are: an empty one read as a page that failed to load.
        if !name.records.is_empty() {
            preface.push_str("<table><tr><th>priority</th><th>weight</th><th>port</th><th>target</th><th>problem</th></tr>\n");
            for record in &name.records {
                let _ = writeln!(
                    preface,
                    "<tr class=\"row-{}\"><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                    if record.problem.is_some() {
                        "fail"
                    } else {
                        "pass"
                    },
                    record.priority,
                    record.weight,
                    record.port,
                    escape(&record.target),
                    escape(record.problem.as_deref().unwrap_or(""))
                );
            }
            preface.push_str("</table>\n");
        }
        let _ = writeln!(
            preface,
            "<p>Clients use <code>{}</code></p>",
            escape(&name.base)
        );
    }
    if !report.servers.is_empty() {
        preface.push_str("<h2>Servers</h2>\n<table><tr><th>base</th><th>result</th></tr>\n");
        for server in &report.servers {
            let _ = writeln!(
                preface,
                "<tr class=\"row-{}\"><td><code>{}</code></td><td>{}</td></tr>",
                if server.answered { "pass" } else { "fail" },
                escape(&server.base),
                escape(&server.result)
            );
        }
        preface.push_str("</table>\n");
    }
    if report.cases.is_none() {
        // Not "0 passed, 0 failed" and "No case failed.": nothing was there to be checked.
        let why = if report.servers.is_empty() {
            "No server of the domain was found"
        } else {
            "No server of the domain answered"
        };
        let _ = writeln!(
            preface,
            "<h2>Cases</h2>\n<p class=\"warning\">{why}, so no case ran.</p>"
        );
    }
    crate::report::html_page(report.cases.as_ref(), &preface)
}
