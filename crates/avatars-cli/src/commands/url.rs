//! `avatars url`: the URL of an identity's avatar.

use std::io::Write;

use avatar_proto::{AvatarUrlBuilder, HashAlgorithm, Identity, Scheme};

use crate::cli::UrlArgs;
use crate::error::CliError;

/// Prints the avatar URL. Discovery (DNS SRV) is the default once `avatar-discovery` lands; until
/// then the command asks for `--no-discovery` rather than silently skipping the lookup.
pub(crate) fn run(args: &UrlArgs, out: &mut impl Write) -> Result<(), CliError> {
    let builder = builder(args)?;
    if !args.no_discovery {
        return Err(CliError::Unsupported(
            "DNS discovery is not available in this build yet; pass --no-discovery to use the central server",
        ));
    }
    writeln!(out, "{}", builder.build())?;
    Ok(())
}

/// Turns the arguments into a URL builder; shared by every way of finding the base URL.
fn builder(args: &UrlArgs) -> Result<AvatarUrlBuilder, CliError> {
    let identity = Identity::parse(&args.identity)?;
    let mut builder = AvatarUrlBuilder::new(identity)
        .scheme(if args.https {
            Scheme::Https
        } else {
            Scheme::Http
        })
        .algorithm(if args.sha256 {
            HashAlgorithm::Sha256
        } else {
            HashAlgorithm::Md5
        })
        .force_default(args.force_default);
    if let Some(size) = args.size {
        builder = builder.size(size);
    }
    if let Some(default) = &args.default {
        builder = builder.default_image(default.clone());
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(identity: &str) -> UrlArgs {
        UrlArgs {
            no_discovery: true,
            https: false,
            size: None,
            default: None,
            force_default: false,
            sha256: false,
            identity: identity.into(),
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

    #[test]
    fn discovery_is_asked_for_explicitly_until_it_exists() {
        let err = output(&UrlArgs {
            no_discovery: false,
            ..args("a@example.org")
        })
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--no-discovery"));
    }
}
