//! One line for an error and what caused it.
//!
//! HTTP clients, pools and TLS stacks say the useful part in an error's
//! [`source`](std::error::Error::source): hyper's `client error (Connect)` is caused by
//! `tcp connect error`, caused by `Connection refused (os error 111)`. Every crate of the project
//! that shows such an error to a person (a log line, a report, a CLI message) writes it with
//! [`with_causes`], so the chain is walked in one place. It lives here, beside [`hex`](crate::hex),
//! because every crate depends on this one; it is pure formatting, no I/O.
//!
//! ```
//! use std::io;
//!
//! let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "Connection refused");
//! let wrapped = io::Error::other(Wrapped("tcp connect error", refused));
//! assert_eq!(
//!     avatar_proto::report::with_causes(&wrapped),
//!     "tcp connect error: Connection refused"
//! );
//! # #[derive(Debug)]
//! # struct Wrapped(&'static str, io::Error);
//! # impl std::fmt::Display for Wrapped {
//! #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.0) }
//! # }
//! # impl std::error::Error for Wrapped {
//! #     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> { Some(&self.1) }
//! # }
//! ```

use std::error::Error;
use std::fmt::Write as _;

/// `err`'s message, then `: ` and each of its sources whose message the text does not already
/// hold (many errors repeat their source's message in their own; it is written once).
#[must_use]
pub fn with_causes(err: &dyn Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !said.is_empty() && !text.contains(&said) {
            let _ = write!(text, ": {said}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1
                .as_deref()
                .map(|layer| layer as &(dyn Error + 'static))
        }
    }

    fn chain(messages: &[&'static str]) -> Layer {
        messages
            .iter()
            .rev()
            .fold(None, |below, message| {
                Some(Layer(message, below.map(Box::new)))
            })
            .expect("at least one message")
    }

    #[test]
    fn every_cause_is_written_once_in_order() {
        assert_eq!(with_causes(&chain(&["alone"])), "alone");
        assert_eq!(
            with_causes(&chain(&[
                "client error (Connect)",
                "tcp connect error",
                "Connection refused (os error 111)"
            ])),
            "client error (Connect): tcp connect error: Connection refused (os error 111)"
        );
        // A message that already holds its source's, and an empty one, add nothing.
        assert_eq!(
            with_causes(&chain(&[
                "db error: password refused",
                "password refused",
                "",
                "for user x"
            ])),
            "db error: password refused: for user x"
        );
    }
}
