//! `tuna board [DIR...] [--port P] [--host ADDR]`: the local web dashboard over run folders
//! and studies. Prints its address on stdout, what it serves on stderr, and runs until
//! Ctrl-C (or SIGTERM), which stops it cleanly with exit status 0: that is how a dashboard
//! ends, not an interruption of work.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use tuna::board::{Board, DEFAULT_PORT};

use super::output::{errln, outln};
use super::CliError;

/// Arguments of `tuna board`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tuna board runs studies
  tuna board runs --port 8080
  tuna board runs --host 0.0.0.0      # other machines can read your runs: warned about

Runs and studies are found at any depth under the folders. The board only reads; it binds
127.0.0.1 unless --host says otherwise. Ctrl-C stops it (exit status 0).")]
pub struct Args {
    /// Folders holding run folders and study folders (default: ./runs and ./studies, those
    /// that exist, else the current folder).
    pub dirs: Vec<PathBuf>,
    /// The port to listen on (0: any free port).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// The address to listen on. Anything but a loopback address (127.0.0.1, ::1,
    /// localhost) lets every machine that reaches this one read your runs, without a
    /// password: it is only used when given here, and a warning says so.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub host: String,
}

/// The folders to serve: the ones given, else `runs` and `studies` where they exist, else `.`.
fn folders(args: &Args) -> Vec<PathBuf> {
    if !args.dirs.is_empty() {
        return args.dirs.clone();
    }
    let found: Vec<PathBuf> = ["runs", "studies"]
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .collect();
    if found.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        found
    }
}

fn host(arg: &str) -> Result<IpAddr, CliError> {
    if arg.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    arg.trim_matches(|c| c == '[' || c == ']')
        .parse()
        .map_err(|_| {
            CliError::Message(format!(
                "--host {arg}: expected an IP address of this machine (127.0.0.1, ::1, 0.0.0.0, ...)"
            ))
        })
}

/// Runs `tuna board`.
pub fn run(args: &Args) -> Result<(), CliError> {
    tuna::link_all();
    let dirs = folders(args);
    let board = Board::new(&dirs)?;
    let ip = host(&args.host)?;
    let listener = tuna::board::bind(SocketAddr::new(ip, args.port))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("board address: {e}"))?;
    if !ip.is_loopback() {
        errln!(
            "warning: serving on {addr}: anyone who can reach this machine can read these runs \
             and studies (read-only, no password). Use the default 127.0.0.1 unless you mean it."
        );
    }
    let (runs, studies) = board.count();
    let shown: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    errln!(
        "tuna board: {runs} runs and {studies} studies under {} (updated live); Ctrl-C stops it",
        shown.join(", ")
    );
    outln!("http://{addr}/");
    board.serve(listener, tuna::board::shutdown_signal())?;
    errln!("tuna board: stopped");
    Ok(())
}
