//! What to answer when there is no avatar (or `forcedefault=y`): the `d`/`default` parameter.

use std::fmt;

use super::initials::Initials;
use super::trusted::RedirectTarget;

/// The default a request asked for, after validation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DefaultImage {
    /// A reserved keyword such as `404` or `identicon`.
    Keyword(DefaultKeyword),
    /// A URL that passed the trusted-URL filter; answer with a 302 to it.
    Redirect(RedirectTarget),
}

impl DefaultImage {
    /// The same default, with `initials` as the letters if it is `initials`.
    #[must_use]
    pub fn with_initials(self, initials: Initials) -> Self {
        match self {
            Self::Keyword(keyword) => Self::Keyword(keyword.with_initials(initials)),
            redirect @ Self::Redirect(_) => redirect,
        }
    }
}

/// The reserved `default` keywords. Matched exactly, lowercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DefaultKeyword {
    /// `404`: answer 404 instead of an image.
    NotFound,
    /// `mm` or `mp`: the "mystery person" silhouette.
    MysteryPerson,
    /// `identicon`: a symmetric geometric pattern.
    Identicon,
    /// `monsterid`: a cartoon monster.
    MonsterId,
    /// `wavatar`: a face over a wave background.
    Wavatar,
    /// `retro`: an 8-bit style pixel pattern.
    Retro,
    /// `robohash`: a robot from the chosen set (the `robohash` parameter).
    Robohash(RobohashSet),
    /// `pagan`: a pixel-art figure.
    Pagan,
    /// `color`: a solid square in a colour chosen from the hash (Gravatar's `d=color`), from a
    /// palette the server may configure.
    Colour,
    /// `initials`: up to two letters (from `initials=` or `name=`) on a colour chosen from the
    /// hash (Gravatar's `d=initials`).
    Initials(Initials),
    /// `blank`: a fully transparent image.
    Blank,
}

impl DefaultKeyword {
    /// Every keyword, each robohash set on its own: the generators first (in the order they
    /// were added), then `color`, the fixed images (`mp`, `blank`), then `404`. Tests, benches and the
    /// gallery iterate over this rather than writing the list out again.
    ///
    /// ```
    /// use avatar_proto::DefaultKeyword;
    ///
    /// let drawn = DefaultKeyword::ALL.iter().filter(|keyword| keyword.is_drawn()).count();
    /// assert_eq!(drawn, DefaultKeyword::ALL.len() - 1);
    /// ```
    pub const ALL: [Self; 13] = [
        Self::Identicon,
        Self::Retro,
        Self::MonsterId,
        Self::Wavatar,
        Self::Robohash(RobohashSet::Set1),
        Self::Robohash(RobohashSet::Set2),
        Self::Robohash(RobohashSet::Set3),
        Self::Pagan,
        Self::Colour,
        Self::Initials(Initials::NONE),
        Self::MysteryPerson,
        Self::Blank,
        Self::NotFound,
    ];

    /// Whether the keyword is answered with an image (every keyword but `404`).
    #[must_use]
    pub const fn is_drawn(self) -> bool {
        !matches!(self, Self::NotFound)
    }

    /// Whether a figure is drawn from the hash, different for every hash (the generators; not
    /// `mp`, `blank` or `404`, nor `color` and `initials`, whose hash only picks one of a
    /// palette's colours).
    #[must_use]
    pub const fn is_generated(self) -> bool {
        !matches!(
            self,
            Self::NotFound | Self::MysteryPerson | Self::Blank | Self::Colour | Self::Initials(_)
        )
    }

    /// The same keyword, with `initials` as the letters if it is `initials`.
    #[must_use]
    pub const fn with_initials(self, initials: Initials) -> Self {
        match self {
            Self::Initials(_) => Self::Initials(initials),
            other => other,
        }
    }

    /// The name with the robohash set, for file names and tables: `robohash-set2`, `identicon`.
    #[must_use]
    pub fn label(self) -> String {
        match self {
            Self::Robohash(set) => format!("robohash-{}", set.name()),
            other => other.name().to_owned(),
        }
    }

    /// Every keyword spelling accepted in `d`/`default`, in a stable order (for `Allow`-style
    /// listings and documentation). `mm` and `mp` are the same keyword.
    pub const ACCEPTED: [&'static str; 12] = [
        "404",
        "mm",
        "mp",
        "identicon",
        "monsterid",
        "wavatar",
        "retro",
        "robohash",
        "pagan",
        "color",
        "initials",
        "blank",
    ];

    /// Parses a keyword. `robohash_set` is the raw `robohash` parameter, used only for `robohash`;
    /// `initials` has no letters yet ([`DefaultKeyword::with_initials`] gives them).
    /// Returns `None` for anything that is not exactly one of [`DefaultKeyword::ACCEPTED`].
    #[must_use]
    pub fn parse(keyword: &str, robohash_set: Option<&str>) -> Option<Self> {
        Some(match keyword {
            "404" => Self::NotFound,
            "mm" | "mp" => Self::MysteryPerson,
            "identicon" => Self::Identicon,
            "monsterid" => Self::MonsterId,
            "wavatar" => Self::Wavatar,
            "retro" => Self::Retro,
            "robohash" => {
                Self::Robohash(robohash_set.map_or_else(RobohashSet::default, RobohashSet::parse))
            }
            "pagan" => Self::Pagan,
            "color" => Self::Colour,
            "initials" => Self::Initials(Initials::NONE),
            "blank" => Self::Blank,
            _ => return None,
        })
    }

    /// The canonical spelling (`mp` for the silhouette, Gravatar's current name).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::NotFound => "404",
            Self::MysteryPerson => "mp",
            Self::Identicon => "identicon",
            Self::MonsterId => "monsterid",
            Self::Wavatar => "wavatar",
            Self::Retro => "retro",
            Self::Robohash(_) => "robohash",
            Self::Pagan => "pagan",
            Self::Colour => "color",
            Self::Initials(_) => "initials",
            Self::Blank => "blank",
        }
    }
}

impl fmt::Display for DefaultKeyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `robohash` parameter: which family of robots to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum RobohashSet {
    /// `set1`: robots (the default).
    #[default]
    Set1,
    /// `set2`: monsters.
    Set2,
    /// `set3`: robot heads.
    Set3,
}

impl RobohashSet {
    /// The three sets, in order.
    pub const ALL: [Self; 3] = [Self::Set1, Self::Set2, Self::Set3];

    /// `set2` and `set3` exactly; anything else is the default `set1`.
    #[must_use]
    pub fn parse(value: &str) -> Self {
        match value {
            "set2" => Self::Set2,
            "set3" => Self::Set3,
            _ => Self::Set1,
        }
    }

    /// `set1`, `set2` or `set3`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Set1 => "set1",
            Self::Set2 => "set2",
            Self::Set3 => "set3",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_spelling_parses_and_nothing_else_does() {
        for name in DefaultKeyword::ACCEPTED {
            assert!(DefaultKeyword::parse(name, None).is_some(), "{name}");
        }
        for other in [
            "",
            "MM",
            "Identicon",
            "identicon ",
            "robohash2",
            "nobody",
            "4040",
        ] {
            assert_eq!(DefaultKeyword::parse(other, None), None, "{other:?}");
        }
        assert_eq!(
            DefaultKeyword::parse("mm", None),
            DefaultKeyword::parse("mp", None)
        );
    }

    #[test]
    fn all_names_every_accepted_spelling_and_each_robohash_set_once() {
        let mut names: Vec<&str> = DefaultKeyword::ALL.iter().map(|k| k.name()).collect();
        names.dedup();
        let mut accepted: Vec<&str> = DefaultKeyword::ACCEPTED
            .iter()
            .filter(|&&name| name != "mm")
            .copied()
            .collect();
        names.sort_unstable();
        accepted.sort_unstable();
        assert_eq!(names, accepted);
        for set in RobohashSet::ALL {
            assert!(DefaultKeyword::ALL.contains(&DefaultKeyword::Robohash(set)));
        }
        assert_eq!(
            DefaultKeyword::ALL
                .iter()
                .filter(|k| k.is_generated())
                .count(),
            8
        );
    }

    #[test]
    fn robohash_set_is_taken_from_its_parameter() {
        let parse = |set| DefaultKeyword::parse("robohash", set);
        assert_eq!(
            parse(None),
            Some(DefaultKeyword::Robohash(RobohashSet::Set1))
        );
        assert_eq!(
            parse(Some("set2")),
            Some(DefaultKeyword::Robohash(RobohashSet::Set2))
        );
        assert_eq!(
            parse(Some("set3")),
            Some(DefaultKeyword::Robohash(RobohashSet::Set3))
        );
        assert_eq!(
            parse(Some("SET3")),
            Some(DefaultKeyword::Robohash(RobohashSet::Set1))
        );
        assert_eq!(
            parse(Some("set9")),
            Some(DefaultKeyword::Robohash(RobohashSet::Set1))
        );
    }
}
