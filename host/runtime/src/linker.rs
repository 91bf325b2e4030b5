//! One linker per set of grants: exactly the granted interfaces, and the WASI
//! baseline for a component that imports it. Nothing else is defined, so
//! nothing else can be imported.

use crate::bindings::ente::core::{bus, devices, graph, graph_view, journal, types};
use crate::grants::{Grants, WasiImports};
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

/// Build the linker for `grants`, with the interfaces of the WASI baseline
/// in `wasi` (those the component imports).
pub fn build(
    engine: &Engine,
    grants: &Grants,
    wasi: WasiImports,
) -> wasmtime::Result<Linker<EnteState>> {
    let mut l = Linker::new(engine);
    baseline(&mut l, wasi)?;
    granted(&mut l, grants)?;
    Ok(l)
}

/// The baseline: wasi:io, wasi:cli (stdin empty, stdout and stderr to the
/// journal, no terminal), wasi:clocks, wasi:random; each interface only if
/// imported.
fn baseline(l_: &mut Linker<EnteState>, wasi: WasiImports) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::{cli, clocks, random};
    let has = |name| wasi.contains(name);
    if has("wasi:io/error") {
        wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<EnteState, Io>(l_, table)?;
    }
    if has("wasi:io/poll") {
        wasi::io::poll::add_to_linker::<EnteState, Io>(l_, table)?;
    }
    if has("wasi:io/streams") {
        wasi::io::streams::add_to_linker::<EnteState, Io>(l_, table)?;
    }
    let cli = EnteState::cli;
    if has("wasi:cli/environment") {
        cli::environment::add_to_linker::<EnteState, WasiCli>(l_, cli)?;
    }
    if has("wasi:cli/exit") {
        cli::exit::add_to_linker::<EnteState, WasiCli>(l_, cli)?;
    }
    if has("wasi:cli/stdin") {
        cli::stdin::add_to_linker::<EnteState, WasiCli>(l_, cli)?;
    }
    if has("wasi:cli/stdout") {
        cli::stdout::add_to_linker::<EnteState, WasiCli>(l_, cli)?;
    }
    if has("wasi:cli/stderr") {
        cli::stderr::add_to_linker::<EnteState, WasiCli>(l_, cli)?;
    }
    if has("wasi:cli/terminal-input") {
        cli::terminal_input::add_to_linker::<EnteState, WasiCli>(l_, cli)?;
    }
    if has("wasi:cli/terminal-output") {
        cli::terminal_output::add_to_linker::<EnteState, WasiCli>(l_, cli)?;
    }
    if has("wasi:cli/terminal-stdin") {
        cli::terminal_stdin::add_to_linker::<EnteState, WasiCli>(l_, cli)?;
    }
    if has("wasi:cli/terminal-stdout") {
        cli::terminal_stdout::add_to_linker::<EnteState, WasiCli>(l_, cli)?;
    }
    if has("wasi:cli/terminal-stderr") {
        cli::terminal_stderr::add_to_linker::<EnteState, WasiCli>(l_, cli)?;
    }
    if has("wasi:clocks/monotonic-clock") {
        clocks::monotonic_clock::add_to_linker::<EnteState, WasiClocks>(l_, EnteState::clocks)?;
    }
    if has("wasi:clocks/wall-clock") {
        clocks::wall_clock::add_to_linker::<EnteState, WasiClocks>(l_, EnteState::clocks)?;
    }
    if has("wasi:random/random") {
        random::random::add_to_linker::<EnteState, WasiRandom>(l_, rng)?;
    }
    if has("wasi:random/insecure") {
        random::insecure::add_to_linker::<EnteState, WasiRandom>(l_, rng)?;
    }
    if has("wasi:random/insecure-seed") {
        random::insecure_seed::add_to_linker::<EnteState, WasiRandom>(l_, rng)?;
    }
    Ok(())
}

fn rng(s: &mut EnteState) -> &mut wasmtime_wasi::random::WasiRandomCtx {
    s.ctx().ctx.random()
}

fn granted(l_: &mut Linker<EnteState>, grants: &Grants) -> wasmtime::Result<()> {
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
        wasmtime_wasi::p2::bindings::filesystem::preopens::add_to_linker::<
            EnteState,
            WasiFilesystem,
        >(l_, EnteState::filesystem)?;
    }
    Ok(())
}
