//! [`Location`]: which database a study lives in, as `--storage` names it.

use std::path::PathBuf;

use super::memory::MemoryDatabase;
use crate::error::{Result, TuneError};

/// Where a study's trials live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// An SQLite database file (`study.db` in the study folder).
    Sqlite(PathBuf),
    /// A PostgreSQL database, as a `postgres://` (or `postgresql://`) URL or a libpq-style
    /// `key=value` connection string (needs the `postgres` feature to be opened).
    Postgres(String),
    /// A database in this process's memory (tests, studies run from code): every storage
    /// opened on the same [`MemoryDatabase`] shares its studies.
    Memory(MemoryDatabase),
}

impl Location {
    /// Parses a `--storage` argument: a `postgres://` / `postgresql://` URL, or a path to an
    /// SQLite database file (`sqlite:PATH` or a plain path).
    ///
    /// # Errors
    /// An empty argument, another URL scheme, or a malformed PostgreSQL URL.
    pub fn parse(s: &str) -> Result<Location> {
        let s = s.trim();
        let bad = |message: String| TuneError::Storage {
            location: format!("--storage {}", redact(s)),
            message,
        };
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            check_postgres_url(s).map_err(bad)?;
            return Ok(Location::Postgres(s.to_string()));
        }
        if let Some(p) = s.strip_prefix("sqlite:") {
            return Ok(Location::Sqlite(PathBuf::from(p.trim_start_matches("//"))));
        }
        if s.is_empty() || s.contains("://") {
            return Err(bad(
                "expected postgres://user[:password]@host[:port]/database or an SQLite file".into(),
            ));
        }
        Ok(Location::Sqlite(PathBuf::from(s)))
    }

    /// The storage as it is written in `--storage` (with any password).
    pub fn as_arg(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(url) => url.clone(),
            Location::Memory(_) => "memory".to_string(),
        }
    }

    /// True for a server-backed storage that workers on other machines can share.
    pub fn is_shared(&self) -> bool {
        matches!(self, Location::Postgres(_))
    }

    /// Whether two locations name the same database (for PostgreSQL: the same user, hosts,
    /// ports and database, whatever the password).
    pub fn same_database(&self, other: &Location) -> bool {
        match (self, other) {
            (Location::Postgres(a), Location::Postgres(b)) => same_postgres(a, b),
            (a, b) => a == b,
        }
    }
}

#[cfg(feature = "postgres")]
fn check_postgres_url(url: &str) -> Result<(), String> {
    url.parse::<postgres::Config>()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(not(feature = "postgres"))]
fn check_postgres_url(_url: &str) -> Result<(), String> {
    Ok(())
}

#[cfg(feature = "postgres")]
fn same_postgres(a: &str, b: &str) -> bool {
    match (a.parse::<postgres::Config>(), b.parse::<postgres::Config>()) {
        (Ok(a), Ok(b)) => {
            a.get_user() == b.get_user()
                && a.get_dbname() == b.get_dbname()
                && a.get_hosts() == b.get_hosts()
                && a.get_ports() == b.get_ports()
        }
        _ => a == b,
    }
}

/// Without a PostgreSQL client: the same URL once passwords are hidden.
#[cfg(not(feature = "postgres"))]
fn same_postgres(a: &str, b: &str) -> bool {
    redact(a) == redact(b)
}

/// A URL with its password replaced by `***`, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(x) => x,
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

impl std::fmt::Display for Location {
    /// The location for messages: a file path, or the URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => write!(f, "{}", redact(url)),
            Location::Memory(_) => write!(f, "in-memory storage"),
        }
    }
}
