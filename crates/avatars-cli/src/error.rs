//! The one error type of the CLI, and the exit status each error gets.

use std::io;

/// Everything that makes an `avatars` command fail.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The identity, a size, a URL: something the user typed (exit status 2).
    #[error(transparent)]
    Input(#[from] avatar_proto::Error),

    /// The command needs a feature this build does not have yet (exit status 2).
    #[error("{0}")]
    Unsupported(&'static str),

    /// Writing the result failed, for example a closed pipe (exit status 1).
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),
}

impl CliError {
    /// 2 for anything the user can fix by changing the command line, 1 for the rest.
    pub(crate) const fn exit_code(&self) -> u8 {
        match self {
            Self::Input(_) | Self::Unsupported(_) => 2,
            Self::Output(_) => 1,
        }
    }
}
