//! One module per subcommand; each `run` writes its result to the writer it is given.

pub(crate) mod hash;
pub(crate) mod url;
