//! `ente`: the host. This file is wiring only: the command line, and which
//! module runs each command.

mod check;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "ente", version, about = "A Wasm-first microkernel host")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check card files, or every *.json under a folder, against the card grammar.
    Check {
        /// Also check the graph each card roots: unique ids, a provider for
        /// every requirement, no dependency cycle, no child granted more than
        /// its parent holds.
        #[arg(long)]
        graph: bool,
        /// Card files or folders.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { graph, paths } => check::run(&paths, graph),
    }
}
