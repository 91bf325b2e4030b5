//! One linker per set of grants: the WASI baseline plus exactly the granted
//! interfaces. Nothing else is defined, so nothing else can be imported.

use crate::bindings::ente::core::{bus, devices, graph, graph_view, journal, types};
use crate::grants::Grants;
use crate::state::EnteState;
use wasmtime::Engine;
use wasmtime::component::{HasData, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::sync as wasi;
use wasmtime_wasi::random::WasiRandom;

struct Io;

impl HasData for Io {
    type Data<'a> = &'a mut ResourceTable;
}

fn table(s: &mut EnteState) -> &mut ResourceTable {
    &mut s.table
}

/// Build the linker for `grants`.
pub fn build(engine: &Engine, grants: &Grants) -> wasmtime::Result<Linker<EnteState>> {
    let mut l = Linker::new(engine);
    let l_ = &mut l;
    // The baseline: wasi:io, wasi:cli (stdin empty, stdout and stderr to the
    // journal, no terminal), wasi:clocks, wasi:random.
    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<EnteState, Io>(l_, table)?;
    wasi::io::poll::add_to_linker::<EnteState, Io>(l_, table)?;
    wasi::io::streams::add_to_linker::<EnteState, Io>(l_, table)?;
    use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random};
    cli::exit::add_to_linker::<EnteState, WasiCli>(l_, EnteState::cli)?;
    cli::environment::add_to_linker::<EnteState, WasiCli>(l_, EnteState::cli)?;
    cli::stdin::add_to_linker::<EnteState, WasiCli>(l_, EnteState::cli)?;
    cli::stdout::add_to_linker::<EnteState, WasiCli>(l_, EnteState::cli)?;
    cli::stderr::add_to_linker::<EnteState, WasiCli>(l_, EnteState::cli)?;
    cli::terminal_input::add_to_linker::<EnteState, WasiCli>(l_, EnteState::cli)?;
    cli::terminal_output::add_to_linker::<EnteState, WasiCli>(l_, EnteState::cli)?;
    cli::terminal_stdin::add_to_linker::<EnteState, WasiCli>(l_, EnteState::cli)?;
    cli::terminal_stdout::add_to_linker::<EnteState, WasiCli>(l_, EnteState::cli)?;
    cli::terminal_stderr::add_to_linker::<EnteState, WasiCli>(l_, EnteState::cli)?;
    clocks::wall_clock::add_to_linker::<EnteState, WasiClocks>(l_, EnteState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<EnteState, WasiClocks>(l_, EnteState::clocks)?;
    random::random::add_to_linker::<EnteState, WasiRandom>(l_, |s| s.ctx().ctx.random())?;
    random::insecure::add_to_linker::<EnteState, WasiRandom>(l_, |s| s.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<EnteState, WasiRandom>(l_, |s| s.ctx().ctx.random())?;

    types::add_to_linker::<EnteState, HasSelf<EnteState>>(l_, |s| s)?;
    if grants.journal {
        journal::add_to_linker::<EnteState, HasSelf<EnteState>>(l_, |s| s)?;
    }
    if grants.bus {
        bus::add_to_linker::<EnteState, HasSelf<EnteState>>(l_, |s| s)?;
    }
    if grants.graph {
        graph::add_to_linker::<EnteState, HasSelf<EnteState>>(l_, |s| s)?;
    }
    if grants.graph_view {
        graph_view::add_to_linker::<EnteState, HasSelf<EnteState>>(l_, |s| s)?;
    }
    if grants.devices {
        devices::add_to_linker::<EnteState, HasSelf<EnteState>>(l_, |s| s)?;
    }
    if grants.filesystem {
        wasi::filesystem::types::add_to_linker::<EnteState, WasiFilesystem>(
            l_,
            EnteState::filesystem,
        )?;
        filesystem::preopens::add_to_linker::<EnteState, WasiFilesystem>(
            l_,
            EnteState::filesystem,
        )?;
    }
    Ok(l)
}
