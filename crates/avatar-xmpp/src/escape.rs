//! XEP-0106 JID escaping: any email address as the node of a JID on the component's domain.

/// The characters XEP-0106 escapes, with their escapes.
const ESCAPES: [(char, &str); 10] = [
    (' ', "\\20"),
    ('"', "\\22"),
    ('&', "\\26"),
    ('\'', "\\27"),
    ('/', "\\2f"),
    (':', "\\3a"),
    ('<', "\\3c"),
    ('>', "\\3e"),
    ('@', "\\40"),
    ('\\', "\\5c"),
];

/// Escapes `text` for use as a JID node (`alice@example.org` -> `alice\40example.org`).
///
/// A backslash is escaped only where it would otherwise read as an escape sequence, as the XEP
/// says; elsewhere it stays.
#[must_use]
pub fn escape_node(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (index, c) in text.char_indices() {
        if c == '\\' {
            let rest = &text[index..];
            let looks_escaped = ESCAPES
                .iter()
                .any(|(_, escape)| starts_with_escape(rest, escape));
            out.push_str(if looks_escaped { "\\5c" } else { "\\" });
        } else if let Some((_, escape)) = ESCAPES.iter().find(|(raw, _)| *raw == c) {
            out.push_str(escape);
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `text` starts with the three-character `escape` (`\\40`), in any case. Compares
/// bytes: slicing the text at 3 could split a multi-byte character (found by fuzzing).
fn starts_with_escape(text: &str, escape: &str) -> bool {
    text.as_bytes()
        .get(..escape.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(escape.as_bytes()))
}

/// Reverses [`escape_node`] (`alice\40example.org` -> `alice@example.org`).
#[must_use]
pub fn unescape_node(node: &str) -> String {
    let mut out = String::with_capacity(node.len());
    let mut rest = node;
    while let Some(position) = rest.find('\\') {
        out.push_str(&rest[..position]);
        let candidate = &rest[position..];
        let escape = ESCAPES
            .iter()
            .find(|(_, escape)| starts_with_escape(candidate, escape));
        if let Some((raw, escape)) = escape {
            out.push(*raw);
            rest = &candidate[escape.len()..];
        } else {
            out.push('\\');
            rest = &candidate[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backslash_before_a_multibyte_character_is_kept_not_a_panic() {
        // Found by `cargo xtask fuzz` (target `stanza`): `\4` then a two-byte character.
        assert_eq!(
            unescape_node("gekrge\\4\u{3ba}xample.com"),
            "gekrge\\4\u{3ba}xample.com"
        );
        assert_eq!(unescape_node("\\\u{3ba}"), "\\\u{3ba}");
        assert_eq!(escape_node("a\\4\u{3ba}"), "a\\4\u{3ba}");
        assert_eq!(unescape_node(&escape_node("\\4\u{3ba}")), "\\4\u{3ba}");
    }

    #[test]
    fn xep_0106_examples_round_trip() {
        let cases = [
            ("space cadet", "space\\20cadet"),
            ("call me \"ishmael\"", "call\\20me\\20\\22ishmael\\22"),
            ("at&t guy", "at\\26t\\20guy"),
            ("d'artagnan", "d\\27artagnan"),
            ("/.fanboy", "\\2f.fanboy"),
            ("::foo::", "\\3a\\3afoo\\3a\\3a"),
            ("<foo>", "\\3cfoo\\3e"),
            ("user@host", "user\\40host"),
            ("c:\\net", "c\\3a\\net"),
            ("c:\\\\net", "c\\3a\\\\net"),
            ("c:\\cool stuff", "c\\3a\\cool\\20stuff"),
            ("c:\\5commas", "c\\3a\\5c5commas"),
        ];
        for (raw, escaped) in cases {
            assert_eq!(escape_node(raw), escaped, "{raw}");
            assert_eq!(unescape_node(escaped), raw, "{escaped}");
        }
    }
}
