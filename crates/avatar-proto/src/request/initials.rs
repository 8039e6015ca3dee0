//! The letters `d=initials` draws (`[server.default-initials]`): from `initials=`, else from
//! `name=`, as Gravatar takes them.

use std::fmt;

use unicode_normalization::UnicodeNormalization as _;

/// Up to two letters for `d=initials`, uppercase where the script has case.
///
/// Rules, in order:
/// - text is put in Unicode NFC first, so a letter typed as a base and a combining accent is
///   one letter (`e` + U+0301 is `É`), and Hangul jamo are syllables;
/// - `initials=` wins: its first two letters or digits, whatever separates them;
/// - else `name=`: the first letter or digit of the first word and of the last word (words
///   are separated by white space; punctuation before a word's first letter is skipped), so
///   `Jean-Luc Picard` is `JP` and `Madonna` is `M`; a script written without spaces gives
///   one letter (`山田太郎` is `山`);
/// - a letter is uppercased when its uppercase is one character (`ß`, whose uppercase is
///   `SS`, stays `ß`), except Georgian, whose names are never written in capitals;
/// - nothing usable gives no letters; the drawing then shows a fallback figure.
///
/// ```
/// use avatar_proto::Initials;
///
/// assert_eq!(Initials::from_query(None, Some("jane q. doe")).to_string(), "JD");
/// assert_eq!(Initials::from_query(Some("xy"), Some("Jane Doe")).to_string(), "XY");
/// assert_eq!(Initials::from_query(None, Some("Élodie  Ørsted")).to_string(), "ÉØ");
/// assert_eq!(Initials::from_query(None, Some("Александр Пушкин")).to_string(), "АП");
/// assert!(Initials::from_query(None, Some(" -- ")).is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Initials {
    letters: [char; 2],
    len: u8,
}

impl Initials {
    /// No letters.
    pub const NONE: Self = Self {
        letters: ['\0'; 2],
        len: 0,
    };

    /// From the raw `initials` and `name` parameters (decoded), `initials` first.
    #[must_use]
    pub fn from_query(initials: Option<&str>, name: Option<&str>) -> Self {
        initials
            .map(Self::given)
            .filter(|given| !given.is_empty())
            .or_else(|| name.map(Self::from_name))
            .unwrap_or(Self::NONE)
    }

    /// The first two letters or digits of `text`.
    #[must_use]
    pub fn given(text: &str) -> Self {
        let mut initials = Self::NONE;
        for letter in text.nfc().filter(|c| c.is_alphanumeric()).take(2) {
            initials.push(letter);
        }
        initials
    }

    /// The first letter of the first and of the last word of `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Self {
        let normalised: String = name.nfc().collect();
        let first_letter = |word: &str| word.chars().find(|c| c.is_alphanumeric());
        let mut words = normalised.split_whitespace().filter_map(first_letter);
        let mut initials = Self::NONE;
        if let Some(first) = words.next() {
            initials.push(first);
        }
        if let Some(last) = words.next_back() {
            initials.push(last);
        }
        initials
    }

    fn push(&mut self, letter: char) {
        let mut upper = letter.to_uppercase();
        let letter = match (upper.next(), upper.next()) {
            // Georgian Mkhedruli has capitals (Mtavruli) only for all-caps titles: names are
            // written, and their initials read, in Mkhedruli.
            _ if is_georgian(letter) => letter,
            (Some(single), None) => single,
            _ => letter,
        };
        if let Some(slot) = self.letters.get_mut(usize::from(self.len)) {
            *slot = letter;
            self.len += 1;
        }
    }

    /// The letters, at most two.
    #[must_use]
    pub fn letters(&self) -> &[char] {
        &self.letters[..usize::from(self.len)]
    }

    /// Whether there are no letters.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Georgian Mkhedruli letters (and their extensions).
fn is_georgian(letter: char) -> bool {
    matches!(u32::from(letter), 0x10D0..=0x10FF)
}

impl fmt::Display for Initials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.letters()
            .iter()
            .try_for_each(|letter| fmt::Write::write_char(f, *letter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of_name(name: &str) -> String {
        Initials::from_name(name).to_string()
    }

    #[test]
    fn names_in_several_scripts() {
        assert_eq!(of_name("Jane Doe"), "JD");
        assert_eq!(of_name("jean-luc picard"), "JP");
        assert_eq!(of_name("Madonna"), "M");
        assert_eq!(of_name("  \"Bob\"   (Robert)  Smith "), "BS");
        assert_eq!(of_name("e\u{301}mile zola"), "ÉZ");
        assert_eq!(of_name("Σωκράτης Παπαδόπουλος"), "ΣΠ");
        assert_eq!(of_name("محمد علي"), "مع");
        assert_eq!(of_name("דוד כהן"), "דכ");
        assert_eq!(of_name("山田太郎"), "山");
        assert_eq!(of_name("김 민준"), "김민");
        assert_eq!(of_name("ნინო ბერიძე"), "ნბ");
        assert_eq!(of_name("straße weiß"), "SW");
        assert_eq!(of_name("ßtraße"), "ß");
        assert_eq!(of_name("42 Club"), "4C");
        assert_eq!(of_name(""), "");
        assert_eq!(of_name("!!! ???"), "");
    }

    #[test]
    fn initials_win_over_the_name_unless_they_hold_no_letter() {
        assert_eq!(
            Initials::from_query(Some("ab"), Some("Kim Lee")).to_string(),
            "AB"
        );
        assert_eq!(Initials::from_query(Some("a.b.c"), None).to_string(), "AB");
        assert_eq!(
            Initials::from_query(Some("--"), Some("Kim Lee")).to_string(),
            "KL"
        );
        assert_eq!(Initials::from_query(None, None), Initials::NONE);
    }
}
