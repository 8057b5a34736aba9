//! `tuna`: the Tuna command-line tool. Subcommands live in `src/cli/`, one file each.

mod cli;

fn main() -> std::process::ExitCode {
    tuna::link_all();
    cli::run()
}
