//! Ctrl-C, SIGTERM and a closed terminal during long commands: the first SIGINT or SIGTERM
//! asks the work to stop at the next safe point (a training run finishes its batch and writes
//! its checkpoint); a second one exits at once with status 130. SIGHUP (the terminal closed)
//! does not stop a run: progress output stops, training goes on.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Installs the handlers and returns the flag that says "stop at the next safe point".
///
/// # Errors
/// The handlers cannot be installed.
pub fn stop_flag() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        use signal_hook::flag;
        let install = |e: std::io::Error| format!("installing signal handlers: {e}");
        for sig in [SIGINT, SIGTERM] {
            // Second signal: exit at once (130), the first only sets the flag.
            flag::register_conditional_shutdown(sig, 130, stop.clone()).map_err(install)?;
            flag::register(sig, stop.clone()).map_err(install)?;
        }
        flag::register(SIGHUP, Arc::new(AtomicBool::new(false))).map_err(install)?;
    }
    Ok(stop)
}
