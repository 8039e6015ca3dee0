//! `avatars hash`: the hashes an identity's avatar is published under.

use std::io::Write;

use avatar_proto::{HashAlgorithm, Identity};

use crate::cli::HashArgs;
use crate::error::CliError;

/// The hashes an identity is published under, with the identity and its kind, as a JSON
/// object: `identity`, `kind` (`email` or `openid`), `md5` (emails only) and `sha256`.
pub(crate) fn described(identity: &Identity) -> serde_json::Map<String, serde_json::Value> {
    let mut object = serde_json::Map::new();
    object.insert("identity".into(), identity.as_str().into());
    let kind = if matches!(identity, Identity::Email(_)) {
        "email"
    } else {
        "openid"
    };
    object.insert("kind".into(), kind.into());
    for algorithm in published(identity) {
        object.insert(
            algorithm.name().into(),
            identity.hash(*algorithm).to_string().into(),
        );
    }
    object
}

/// The algorithms an identity's avatar is published under: MD5 and SHA-256 for an email,
/// SHA-256 alone for an OpenID URL.
const fn published(identity: &Identity) -> &'static [HashAlgorithm] {
    match identity {
        Identity::Email(_) => &[HashAlgorithm::Md5, HashAlgorithm::Sha256],
        Identity::OpenId(_) => &[HashAlgorithm::Sha256],
    }
}

/// Prints `md5 HEX` and `sha256 HEX` for an email, `sha256 HEX` for an OpenID URL, or the same as
/// one JSON object with `--json`.
pub(crate) fn run(args: &HashArgs, out: &mut impl Write) -> Result<(), CliError> {
    let identity = Identity::parse(&args.identity)?;
    if args.json {
        writeln!(out, "{}", serde_json::Value::Object(described(&identity)))?;
    } else {
        for &algorithm in published(&identity) {
            writeln!(out, "{algorithm} {}", identity.hash(algorithm))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(identity: &str, json: bool) -> Result<String, CliError> {
        let mut out = Vec::new();
        run(
            &HashArgs {
                json,
                identity: identity.into(),
            },
            &mut out,
        )?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn email_gets_both_lines() {
        assert_eq!(
            output("George@example.com", false).unwrap(),
            "md5 40f8d096a3777232204cb3f796c577b7\n\
             sha256 47508cb4512f7b46aaeb34b4a514c63d63ec240bf28cbc4410addd4867c10066\n"
        );
    }

    #[test]
    fn openid_gets_sha256_only_and_json_is_one_object() {
        let text = output("HTTP://UserName:Password@EXAMPLE.COM/ID/Bob", true).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["kind"], "openid");
        assert_eq!(
            value["identity"],
            "http://UserName:Password@example.com/ID/Bob"
        );
        assert_eq!(
            value["sha256"],
            "b9a30942701c1937b4cdb5bd95adad4aaf208a81ecb490023b3e5d5daca7f469"
        );
        assert!(value.get("md5").is_none());
    }

    #[test]
    fn bad_identity_is_input_error() {
        let err = output("nobody", false).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("no @"));
    }
}
