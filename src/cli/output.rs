//! Writing results and messages the way every command does: results on stdout (a closed pipe
//! ends the command quietly instead of panicking), messages on stderr (a closed stderr is
//! ignored).

use std::io::Write;

use super::CliError;

/// Writes `text` and a line break to stdout.
///
/// # Errors
/// [`CliError::BrokenPipe`] when the reader went away (`tuna show RUN | head`); another write
/// error as a message.
pub fn line(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                CliError::BrokenPipe
            } else {
                CliError::Message(format!("writing to stdout: {e}"))
            }
        })
}

/// Writes `text` to stdout without a line break.
///
/// # Errors
/// As [`line`].
pub fn text(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    write!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                CliError::BrokenPipe
            } else {
                CliError::Message(format!("writing to stdout: {e}"))
            }
        })
}

/// Writes a message line to stderr, ignoring a closed stderr.
pub fn err(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// `println!` for results: formats, writes to stdout, returns `CliError::BrokenPipe` from the
/// calling function when the reader is gone.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::output::line(&format!($($arg)*))?
    };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::output::err(&format!($($arg)*))
    };
}

pub(crate) use {errln, outln};
