//! The `ente` host as a library: each command in its module, so that the
//! binary (`main.rs`) is the command line only and the benchmark drives the
//! same code the host runs.

pub mod audit;
pub mod brain;
pub mod check;
pub mod cloudevents;
pub mod console;
pub mod ctl;
pub mod diagnostics;
pub mod home;
pub mod host;
pub mod metrics;
pub mod native;
pub mod native_cli;
#[cfg(feature = "pack")]
pub mod pack;
pub mod pid1;
pub mod plugin_test;
pub mod rules_file;
pub mod run;
pub mod snapshot_cli;
pub mod up;
pub mod wasm;
