//! What a case is (data: id, title, source, level, check) and what running one gives.

use std::fmt;

use serde::Serialize;

use crate::discovery::DiscoveryCheck;
use crate::http::HttpCheck;
use crate::xmpp::XmppCheck;

/// How binding the rule behind a case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The specification requires it.
    Must,
    /// The specification recommends it, or this project's documented safer choice.
    Should,
    /// What reference implementations do, or a known bug of another library not to repeat.
    Compat,
}

impl Level {
    /// `MUST`, `SHOULD` or `COMPAT`.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Must => "MUST",
            Self::Should => "SHOULD",
            Self::Compat => "COMPAT",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The groups of cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Group {
    /// The Libravatar HTTP API of a server.
    #[serde(rename = "libravatar-server")]
    LibravatarServer,
    /// Finding a domain's avatar server through DNS SRV.
    #[serde(rename = "libravatar-discovery")]
    LibravatarDiscovery,
    /// XEP-0008: IQ-based avatars.
    #[serde(rename = "xep-0008")]
    Xep0008,
    /// XEP-0153: vCard-based avatars.
    #[serde(rename = "xep-0153")]
    Xep0153,
    /// XEP-0084: avatars over PEP.
    #[serde(rename = "xep-0084")]
    Xep0084,
}

impl Group {
    /// Every group, in report order.
    pub const ALL: [Self; 5] = [
        Self::LibravatarServer,
        Self::LibravatarDiscovery,
        Self::Xep0008,
        Self::Xep0153,
        Self::Xep0084,
    ];

    /// The name used on the command line and in reports.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::LibravatarServer => "libravatar-server",
            Self::LibravatarDiscovery => "libravatar-discovery",
            Self::Xep0008 => "xep-0008",
            Self::Xep0153 => "xep-0153",
            Self::Xep0084 => "xep-0084",
        }
    }

    /// The group called `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|group| group.name() == name)
    }

    /// Whether the group is one of the XMPP ones.
    #[must_use]
    pub const fn is_xmpp(self) -> bool {
        matches!(self, Self::Xep0008 | Self::Xep0153 | Self::Xep0084)
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One case: a rule and the check that shows whether a target follows it.
#[derive(Debug, Clone)]
pub struct Case {
    /// Stable identifier, such as `server-size-clamp`.
    pub id: &'static str,
    /// The group it belongs to.
    pub group: Group,
    /// What is checked, in a sentence.
    pub title: &'static str,
    /// Where the rule comes from: a spec clause, a project decision, a reference behaviour.
    pub source: &'static str,
    /// How binding it is.
    pub level: Level,
    /// The check.
    pub check: Check,
}

/// The check of a case, per kind of target.
#[derive(Debug, Clone)]
pub enum Check {
    /// Requests to a Libravatar server.
    Http(HttpCheck),
    /// Runs of a discovery client against the fake DNS server.
    Discovery(DiscoveryCheck),
    /// Stanzas to an XMPP avatar service.
    Xmpp(XmppCheck),
}

/// An image a case saw, kept for the HTML report.
#[derive(Debug, Clone, Serialize)]
pub struct SeenImage {
    /// What it is (the request that returned it).
    pub label: String,
    /// Its media type.
    pub content_type: String,
    /// The bytes.
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// How a case went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    /// The target did what the rule says.
    Pass,
    /// It did not.
    Fail {
        /// What was sent.
        request: String,
        /// What the rule expects.
        expected: String,
        /// What came back.
        got: String,
    },
    /// The case does not apply to this kind of target.
    Skip {
        /// Why.
        reason: String,
    },
}

impl Verdict {
    /// A failure.
    pub fn fail(
        request: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Self {
        Self::Fail {
            request: request.into(),
            expected: expected.into(),
            got: got.into(),
        }
    }

    /// A skip.
    pub fn skip(reason: impl Into<String>) -> Self {
        Self::Skip {
            reason: reason.into(),
        }
    }

    /// Which of the three it is, without the details.
    #[must_use]
    pub const fn kind(&self) -> VerdictKind {
        match self {
            Self::Pass => VerdictKind::Pass,
            Self::Fail { .. } => VerdictKind::Fail,
            Self::Skip { .. } => VerdictKind::Skip,
        }
    }

    /// `pass`, `FAIL` or `skip`, for reports.
    #[must_use]
    pub const fn label(&self) -> &'static str {
        self.kind().label()
    }
}

/// A [`Verdict`] without its details: what reports count and filter by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerdictKind {
    /// [`Verdict::Pass`].
    Pass,
    /// [`Verdict::Fail`].
    Fail,
    /// [`Verdict::Skip`].
    Skip,
}

impl VerdictKind {
    /// `pass`, `FAIL` (in capitals, so a failure stands out in a terminal) or `skip`.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "FAIL",
            Self::Skip => "skip",
        }
    }
}

/// The result of one case.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The case's id.
    pub id: &'static str,
    /// Its group.
    pub group: Group,
    /// Its title.
    pub title: &'static str,
    /// Where its rule comes from.
    pub source: &'static str,
    /// Its level.
    pub level: Level,
    /// What happened.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// How long it took, in milliseconds.
    pub millis: u64,
    /// Images returned along the way (for the HTML report).
    #[serde(skip)]
    pub images: Vec<SeenImage>,
}
