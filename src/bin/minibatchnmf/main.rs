//! `minibatchnmf`: Mini-Batch NMF from the command line, on data files
//! bigger than memory (`.npy`, scipy `.npz` CSR, MatrixMarket `.mtx`),
//! streamed by row blocks (see the library's `io` module).
//!
//! ```text
//! minibatchnmf fit X.npz -k 20 -o model.safetensors
//! minibatchnmf info model.safetensors
//! minibatchnmf topics model.safetensors --vocab terms.txt --top 10
//! minibatchnmf transform model.safetensors X.npz -o W.npy
//! minibatchnmf rank X.npz -k 2,4,8,16 --plot rank.png
//! ```
//!
//! Exit status: 0 on success, 2 for bad input (missing or unreadable file,
//! wrong format, bad values, bad arguments), 130 when a fit was interrupted
//! by Ctrl-C, 1 when the computation itself failed (e.g. diverged).

mod args;
mod checkpoint;
mod commands;
mod font;
mod plot;
mod rank;
mod report;

use clap::Parser;
use std::process::ExitCode;

/// A failure of a command: its one-line message and the exit status.
pub struct Failure {
    message: String,
    status: u8,
}

impl Failure {
    /// Bad input (status 2).
    pub fn input(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            status: 2,
        }
    }
    /// Interrupted by the user (status 130, as shells report SIGINT).
    pub fn interrupted(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            status: 130,
        }
    }
}

impl From<minibatchnmf::Error> for Failure {
    fn from(e: minibatchnmf::Error) -> Self {
        use minibatchnmf::Error as E;
        // What the user gave is wrong: status 2; the computation failed: 1.
        let status = match e {
            E::Diverged(_) | E::Linalg(_) => 1,
            _ => 2,
        };
        Failure {
            message: e.to_string(),
            status,
        }
    }
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`minibatchnmf info m | head`), as Unix
    // tools do, instead of panicking on the failed print.
    // SAFETY: restoring a signal's default disposition at start-up, before
    // any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            // One line, no panic trace.
            eprintln!("minibatchnmf: error: {}", f.message.replace('\n', " "));
            ExitCode::from(f.status)
        }
    }
}
