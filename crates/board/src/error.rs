//! [`BoardError`]: why the board could not start or answer.

use std::path::PathBuf;

/// Why the board could not start, or why a request found nothing to show.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// A folder given on the command line is missing or not a folder.
    #[error("{path}: {message}")]
    Folder {
        /// The folder as given.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The address could not be bound (in use, not an address of this machine, ...).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The server's runtime failed.
    #[error("board server: {0}")]
    Server(std::io::Error),
    /// No run or study with this id under the board's folders.
    #[error("no {kind} `{id}` under the board's folders")]
    NotFound {
        /// `run` or `study`.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// A study whose storage could not be read.
    #[error("study {id}: {message}")]
    Study {
        /// The study's id.
        id: String,
        /// The storage's error.
        message: String,
    },
}
