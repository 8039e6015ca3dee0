//! `avatars url`: the URL of an identity's avatar, found through DNS SRV unless told otherwise.

use std::io::Write;
use std::time::Duration;

use avatar_discovery::Discovery;
use avatar_proto::{
    AvatarUrlBuilder, BaseOrigin, BaseUrl, DefaultKeyword, Fallback, HashAlgorithm, Identity,
    Scheme,
};

use crate::cli::UrlArgs;
use crate::commands::small_runtime;
use crate::error::CliError;

/// Prints the avatar URL of each identity: its domain is looked up in DNS (the system resolver,
/// or the given nameservers; one resolver and its cache for all of them) and the central server
/// is used whenever that yields nothing usable.
pub(crate) fn run(args: &UrlArgs, out: &mut impl Write) -> Result<(), CliError> {
    if let Some(warning) = args.default.as_deref().and_then(default_warning) {
        stderr_line!("avatars: warning: {warning}");
    }
    let builders = args
        .identity
        .iter()
        .map(|identity| builder(args, identity))
        .collect::<Result<Vec<_>, _>>()?;
    let bases = if args.no_discovery {
        builders
            .iter()
            .map(|builder| BaseUrl::central(builder.scheme_of_page(), Fallback::NotAttempted))
            .collect()
    } else {
        discover(args, &builders)?
    };
    for (builder, base) in builders.iter().zip(&bases) {
        if args.verbose {
            match base.origin() {
                BaseOrigin::Federated(target) => {
                    stderr_line!("avatars: federated: {}:{}", target.host(), target.port());
                }
                BaseOrigin::Central(Fallback::TimedOut) => stderr_line!(
                    "avatars: central server: {} (--timeout-ms {})",
                    Fallback::TimedOut,
                    args.timeout_ms
                ),
                BaseOrigin::Central(reason) => stderr_line!("avatars: central server: {reason}"),
            }
        }
        if args.srcset.is_empty() {
            writeln!(out, "{}", builder.build_with_base(base))?;
        } else {
            let srcset = builder.srcset(&args.srcset, |url| url.build_with_base(base));
            writeln!(out, "{srcset}")?;
        }
    }
    Ok(())
}

/// The base URL of each builder's identity, through one [`Discovery`] (so a domain asked for
/// twice is looked up once).
fn discover(args: &UrlArgs, builders: &[AvatarUrlBuilder]) -> Result<Vec<BaseUrl>, CliError> {
    let runtime = small_runtime()?;
    runtime.block_on(async {
        let mut discovery = Discovery::builder().timeout(Duration::from_millis(args.timeout_ms));
        for nameserver in &args.nameservers {
            discovery = discovery.nameserver(*nameserver);
        }
        let discovery = match discovery.build() {
            Ok(discovery) => Some(discovery),
            Err(err) => {
                // No usable resolver is one more DNS failure: the spec's answer is the central server.
                stderr_line!("avatars: warning: {err}; using the central server");
                None
            }
        };
        let mut bases = Vec::with_capacity(builders.len());
        for builder in builders {
            let scheme = builder.scheme_of_page();
            bases.push(match (&discovery, builder.identity().domain()) {
                (Some(discovery), Ok(domain)) => discovery.base_url(&domain, scheme).await,
                (None, _) => BaseUrl::central(scheme, Fallback::LookupFailed),
                (_, Err(_)) => BaseUrl::central(scheme, Fallback::InvalidDomain),
            });
        }
        Ok(bases)
    })
}

/// Turns the arguments into a URL builder for `identity`; shared by every way of finding the
/// base URL.
fn builder(args: &UrlArgs, identity: &str) -> Result<AvatarUrlBuilder, CliError> {
    let identity = Identity::parse(identity)?;
    let mut builder = AvatarUrlBuilder::new(identity)
        .scheme(if args.https || args.scheme.as_deref() == Some("https") {
            Scheme::Https
        } else {
            Scheme::Http
        })
        .algorithm(if args.sha256 {
            HashAlgorithm::Sha256
        } else {
            HashAlgorithm::Md5
        })
        .force_default(args.force_default)
        .max_size(args.max_size);
    if let Some(size) = args.size {
        builder = builder.size(size);
    }
    if let Some(default) = &args.default {
        builder = builder.default_image(default.clone());
    }
    Ok(builder)
}

/// What is wrong with a `--default` that is neither a keyword nor a URL a server could redirect
/// to (servers treat it as absent), with the nearest keyword when there is one.
fn default_warning(default: &str) -> Option<String> {
    let url = default.starts_with('/')
        || default
            .get(..7)
            .is_some_and(|start| start.eq_ignore_ascii_case("http://"))
        || default
            .get(..8)
            .is_some_and(|start| start.eq_ignore_ascii_case("https://"));
    if url || DefaultKeyword::parse(default, None).is_some() {
        return None;
    }
    let nearest = DefaultKeyword::ACCEPTED
        .iter()
        .map(|keyword| {
            (
                strsim::levenshtein(&default.to_lowercase(), keyword),
                keyword,
            )
        })
        .min()
        .filter(|(distance, _)| *distance <= 2)
        .map(|(_, keyword)| format!("; did you mean {keyword}?"));
    Some(format!(
        "--default {default:?} is not a default keyword ({}) or a URL, so servers ignore it{}",
        DefaultKeyword::ACCEPTED.join(", "),
        nearest.unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistyped_keyword_is_warned_about_and_a_keyword_or_url_is_not() {
        let warning = default_warning("idnticon").unwrap();
        assert!(warning.contains("not a default keyword"), "{warning}");
        assert!(warning.contains("did you mean identicon?"), "{warning}");
        assert!(
            default_warning("Identicon")
                .unwrap()
                .contains("did you mean identicon?")
        );
        assert!(
            !default_warning("nothing-like-it")
                .unwrap()
                .contains("did you mean")
        );
        for fine in [
            "identicon",
            "404",
            "mm",
            "https://example.org/a.png",
            "HTTP://example.org/a.png",
            "/img/nobody.png",
        ] {
            assert_eq!(default_warning(fine), None, "{fine}");
        }
    }

    fn args(identity: &str) -> UrlArgs {
        UrlArgs {
            no_discovery: true,
            nameservers: Vec::new(),
            timeout_ms: 1000,
            verbose: false,
            https: false,
            scheme: None,
            size: None,
            default: None,
            force_default: false,
            srcset: Vec::new(),
            max_size: 512,
            sha256: false,
            identity: vec![identity.into()],
        }
    }

    fn output(args: &UrlArgs) -> Result<String, CliError> {
        let mut out = Vec::new();
        run(args, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn central_urls_with_every_option() {
        assert_eq!(
            output(&args("George@example.com")).unwrap(),
            "http://cdn.libravatar.org/avatar/40f8d096a3777232204cb3f796c577b7\n"
        );
        let all = UrlArgs {
            https: true,
            scheme: None,
            size: Some(9999),
            default: Some("https://example.org/a b.png".into()),
            force_default: true,
            sha256: true,
            ..args("George@example.com")
        };
        assert_eq!(
            output(&all).unwrap(),
            "https://seccdn.libravatar.org/avatar/47508cb4512f7b46aaeb34b4a514c63d63ec240bf28cbc4410addd4867c10066\
             ?s=512&d=https%3A%2F%2Fexample.org%2Fa%20b.png&f=y\n"
        );
    }
}
