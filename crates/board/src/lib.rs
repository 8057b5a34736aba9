//! # tuna-board
//!
//! The local web dashboard over run folders and studies (`tuna board DIR...`): a runs table
//! (state, best and final metrics, the hyperparameters that differ, the primary diagnosis;
//! sortable and filterable), a page per run (learning curves with smoothing, diagnosis with
//! evidence, resolved config, per-layer gradient and update-ratio signals, confusion matrix),
//! runs compared side by side, and a page per study (trials, optimization history,
//! intermediate values with pruned trials marked, importances, parallel coordinates, slice
//! plots). Pages update live (server-sent events) within a second of a new epoch or trial.
//!
//! The board only reads: runs through tuna-train's `RunDir`, `read_records`, `RunSummary`
//! and `diagnose`, studies through tuna-tune's `Storage`. It binds 127.0.0.1 unless told
//! otherwise, answers only `GET`, names runs and studies by ids its own walk of the given
//! folders hands out (never by a path from the request), reads no file that links outside
//! those folders, and its page and chart library (uPlot, MIT) are embedded in the binary.
//!
//! ```no_run
//! use std::path::PathBuf;
//!
//! let board = tuna_board::Board::new(&[PathBuf::from("runs")])?;
//! let listener = tuna_board::bind("127.0.0.1:6007".parse().unwrap())?;
//! println!("http://{}/", listener.local_addr().unwrap());
//! board.serve(listener, tuna_board::shutdown_signal())?;
//! # Ok::<(), tuna_board::BoardError>(())
//! ```

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

mod assets;
pub mod error;
pub mod run;
pub mod scan;
pub mod series;
mod server;
pub mod study;

pub use error::BoardError;
pub use server::{MAX_POINTS, POLL};

/// The default port (`tuna board --port`); TensorBoard's 6006 is left free.
pub const DEFAULT_PORT: u16 = 6007;

/// A board over some folders, ready to serve.
pub struct Board {
    roots: scan::Roots,
}

impl Board {
    /// A board over `folders` (each may hold runs and studies at any depth, or be a run).
    ///
    /// # Errors
    /// A folder that does not exist or is not a folder.
    pub fn new(folders: &[PathBuf]) -> Result<Board, BoardError> {
        Ok(Board {
            roots: scan::Roots::new(folders)?,
        })
    }

    /// How many runs and studies the folders hold now.
    pub fn count(&self) -> (usize, usize) {
        let found = self.roots.walk();
        (found.runs.len(), found.studies.len())
    }

    /// Serves the board on `listener` until `shutdown` completes, then closes every open
    /// page's live stream and returns. Blocks the calling thread (the server runs on its own
    /// runtime).
    ///
    /// # Errors
    /// The runtime cannot start or the listener fails.
    pub fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), BoardError> {
        let addr = listener.local_addr().map_err(BoardError::Server)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(BoardError::Server)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let shared = Arc::new(server::Shared::new(self.roots, stop_rx, allowed_hosts(addr)));
        runtime.block_on(async move {
            // read every run once now, so that the first page finds them in the cache
            let warm = shared.clone();
            tokio::task::spawn_blocking(move || warm.runs_list());
            listener.set_nonblocking(true).map_err(BoardError::Server)?;
            let listener =
                tokio::net::TcpListener::from_std(listener).map_err(BoardError::Server)?;
            axum::serve(listener, server::router(shared))
                .with_graceful_shutdown(async move {
                    shutdown.await;
                    let _ = stop_tx.send(true);
                })
                .await
                .map_err(BoardError::Server)
        })?;
        runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        Ok(())
    }
}

/// The `Host` values a board on `addr` answers: its loopback names, or any on another
/// address.
fn allowed_hosts(addr: SocketAddr) -> Vec<String> {
    if !addr.ip().is_loopback() {
        return Vec::new();
    }
    let port = addr.port();
    let mut hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        addr.to_string(),
    ];
    if port == 80 {
        hosts.extend(["127.0.0.1", "localhost", "[::1]"].map(String::from));
    }
    hosts
}

/// Binds `addr` for [`Board::serve`] (port 0: any free port; read it from the listener).
///
/// # Errors
/// The address is in use or not this machine's.
pub fn bind(addr: SocketAddr) -> Result<TcpListener, BoardError> {
    TcpListener::bind(addr).map_err(|source| BoardError::Bind { addr, source })
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM: the usual `shutdown` for [`Board::serve`].
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// The embedded page's asset names (for tests and packaging checks).
pub fn asset_names() -> Vec<&'static str> {
    assets::names().collect()
}
