//! The discovery client under test: this project's, in process, or any program that prints an
//! avatar URL for an identity when pointed at a nameserver.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use avatar_discovery::Discovery;
use avatar_proto::{AvatarUrlBuilder, Identity, Scheme};

use crate::error::{ConformanceError, Result};

/// How long one run of a client may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// The client under test.
#[derive(Debug, Clone)]
pub enum DiscoveryClient {
    /// This project's [`Discovery`] with its defaults (1 s timeout), pointed at the nameserver.
    InProcess,
    /// A program, given as a template of whitespace-separated words in which `{identity}`,
    /// `{nameserver}` (`IP:PORT`) and `{scheme}` (`http` or `https`) are replaced; it must print
    /// the avatar URL on standard output. The first line that is an `http` or `https` URL is its
    /// answer: other lines (a library's own diagnostics, as pyLibravatar prints `DNS Error: ...`
    /// before falling back) are not judged. No shell is involved.
    ///
    /// Optional: `{size}` and `{default}` (the `d` value, unencoded) for the cases about the
    /// query; write each inside one word (`--size={size}`), which is left out when a case sets
    /// no such value. `{again}`: the identity once more, for a client that looks up every
    /// identity it is given in one process (printing a URL for each), so its own caching can be
    /// seen; like the others, it is left out of the cases that do not look up twice, so every
    /// other case times, and counts the queries of, one lookup. Cases that need a placeholder
    /// the template lacks are skipped.
    ///
    /// A case that draws many URLs runs up to `jobs` of the program at once
    /// ([`Self::with_jobs`]; one per CPU by default).
    Command {
        /// The template's words.
        words: Vec<String>,
        /// How many runs of the program a case makes at once.
        jobs: NonZeroUsize,
    },
}

impl DiscoveryClient {
    /// A command client from a template such as
    /// `'avatars url --nameserver {nameserver} --scheme {scheme} {identity}'`.
    ///
    /// # Errors
    /// [`ConformanceError::Usage`] for an empty template or one without `{identity}` and
    /// `{nameserver}`.
    pub fn command(template: &str) -> Result<Self> {
        let words: Vec<String> = template.split_whitespace().map(str::to_owned).collect();
        let has = |placeholder: &str| words.iter().any(|word| word.contains(placeholder));
        if words.is_empty() || !has("{identity}") || !has("{nameserver}") {
            return Err(ConformanceError::Usage(format!(
                "--client-cmd {template:?}: expected 'PROG ARGS...' using {{identity}} and {{nameserver}} (and {{scheme}} for https cases)"
            )));
        }
        Ok(Self::Command {
            words,
            jobs: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
        })
    }

    /// A command client that runs at most `jobs` of its program at once (1: one after another,
    /// for a program that cannot run beside itself, such as one writing a fixed file). The
    /// in-process client always looks up one URL at a time, and is returned as it is.
    #[must_use]
    pub fn with_jobs(self, jobs: NonZeroUsize) -> Self {
        match self {
            Self::Command { words, .. } => Self::Command { words, jobs },
            Self::InProcess => Self::InProcess,
        }
    }

    /// A fresh session: one in-process [`Discovery`] (so its cache spans one case's draws), or
    /// the command template.
    ///
    /// # Errors
    /// [`ConformanceError::Dns`] if the in-process resolver cannot be built.
    pub fn session(&self, nameserver: SocketAddr) -> Result<ClientSession> {
        Ok(match self {
            Self::InProcess => {
                ClientSession::InProcess(Discovery::builder().nameserver(nameserver).build()?)
            }
            Self::Command { words, jobs } => ClientSession::Command {
                words: words.clone(),
                nameserver,
                jobs: *jobs,
            },
        })
    }
}

/// What a case asks for besides the identity and scheme.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parameters<'a> {
    /// `s`, if set.
    pub size: Option<u32>,
    /// `d`, unencoded, if set.
    pub default: Option<&'a str>,
    /// Whether a command client is to look the identity up a second time in the same process
    /// (`{again}`).
    pub again: bool,
}

/// A client ready to answer one case's queries.
#[derive(Debug)]
pub enum ClientSession {
    /// This project's discovery.
    InProcess(Discovery),
    /// A program run once per query.
    Command {
        /// The template.
        words: Vec<String>,
        /// The nameserver it is pointed at.
        nameserver: SocketAddr,
        /// How many runs of it a case makes at once.
        jobs: NonZeroUsize,
    },
}

impl ClientSession {
    /// The placeholder (`{size}` or `{default}`) a command template would need for
    /// `parameters` but lacks; `None` for the in-process client.
    #[must_use]
    pub fn missing_placeholder(&self, parameters: &Parameters<'_>) -> Option<&'static str> {
        let Self::Command { words, .. } = self else {
            return None;
        };
        let has = |placeholder| words.iter().any(|word| word.contains(placeholder));
        if parameters.size.is_some() && !has("{size}") {
            return Some("{size}");
        }
        if parameters.default.is_some() && !has("{default}") {
            return Some("{default}");
        }
        None
    }

    /// Whether several lookups happen in one process: always in process; for a command, when
    /// its template has `{again}`.
    #[must_use]
    pub fn repeats_in_one_process(&self) -> bool {
        match self {
            Self::InProcess(_) => true,
            Self::Command { words, .. } => words.iter().any(|word| word.contains("{again}")),
        }
    }

    /// How many URLs a case asks for at once: the command's jobs, one for the in-process
    /// client.
    #[must_use]
    pub fn jobs(&self) -> NonZeroUsize {
        match self {
            Self::InProcess(_) => NonZeroUsize::MIN,
            Self::Command { jobs, .. } => *jobs,
        }
    }

    /// The avatar URL the client builds for `identity` on a page served over `scheme`, with
    /// `parameters`.
    ///
    /// # Errors
    /// [`ConformanceError::Mismatch`] for an identity this client cannot parse;
    /// [`ConformanceError::Timeout`], [`ConformanceError::Spawn`] or
    /// [`ConformanceError::Client`] when the program does not run, finish or print a URL.
    pub async fn avatar_url(
        &self,
        identity: &str,
        scheme: Scheme,
        parameters: &Parameters<'_>,
    ) -> Result<String> {
        match self {
            Self::InProcess(discovery) => {
                let identity = Identity::parse(identity).map_err(|err| {
                    ConformanceError::Mismatch(format!("{identity:?} refused: {err}"))
                })?;
                let mut builder = AvatarUrlBuilder::new(identity).scheme(scheme);
                if let Some(size) = parameters.size {
                    builder = builder.size(size);
                }
                if let Some(default) = parameters.default {
                    builder = builder.default_image(default);
                }
                Ok(discovery.avatar_url(&builder).await)
            }
            Self::Command {
                words, nameserver, ..
            } => {
                let size = parameters.size.map(|size| size.to_string());
                let expand = |word: &String| {
                    let optional = [
                        ("{size}", size.as_deref()),
                        ("{default}", parameters.default),
                        ("{again}", parameters.again.then_some(identity)),
                    ];
                    let mut word = word
                        .replace("{identity}", identity)
                        .replace("{nameserver}", &nameserver.to_string())
                        .replace("{scheme}", scheme.as_str());
                    for (placeholder, value) in optional {
                        if word.contains(placeholder) {
                            word = word.replace(placeholder, value?);
                        }
                    }
                    Some(word)
                };
                let args: Vec<String> = words.iter().filter_map(expand).collect();
                let mut command = tokio::process::Command::new(&args[0]);
                command.args(&args[1..]).kill_on_drop(true);
                let output = tokio::time::timeout(CLIENT_TIMEOUT, command.output())
                    .await
                    .map_err(|_| ConformanceError::Timeout {
                        waiting_for: format!("{args:?} to finish"),
                        after: CLIENT_TIMEOUT,
                    })?
                    .map_err(|source| ConformanceError::Spawn {
                        command: args.clone(),
                        source,
                    })?;
                if !output.status.success() {
                    return Err(ConformanceError::client_exited(
                        args,
                        output.status,
                        &output.stderr,
                    ));
                }
                let stdout = String::from_utf8_lossy(&output.stdout);
                first_url(&stdout).ok_or_else(|| ConformanceError::Client {
                    command: args.clone(),
                    problem: if stdout.trim().is_empty() {
                        "printed nothing".to_owned()
                    } else {
                        format!("printed no http or https URL: {:?}", stdout.trim())
                    },
                })
            }
        }
    }
}

/// The first line of a client's output that is an absolute `http` or `https` URL, trimmed.
fn first_url(output: &str) -> Option<String> {
    output
        .lines()
        .map(str::trim)
        .find(|line| {
            url::Url::parse(line).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::first_url;

    #[test]
    fn the_answer_is_the_first_url_and_diagnostics_are_passed_over() {
        let fallback = "DNS Error: status=REFUSED\nhttps://seccdn.libravatar.org/avatar/ab\n";
        assert_eq!(
            first_url(fallback).as_deref(),
            Some("https://seccdn.libravatar.org/avatar/ab")
        );
        assert_eq!(
            first_url("  http://a.example/avatar/1 \nhttp://b.example/avatar/2\n").as_deref(),
            Some("http://a.example/avatar/1")
        );
        assert_eq!(first_url("avatars.example.org/avatar/ab\n"), None);
        assert_eq!(first_url("ftp://a.example/avatar/ab\n"), None);
        assert_eq!(first_url(""), None);
    }
}
