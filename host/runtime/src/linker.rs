//! One linker per set of grants: exactly the granted interfaces, and the WASI
//! baseline for a component that imports it. Nothing else is defined, so
//! nothing else can be imported.

use crate::bindings::ente::core::{devices, graph_view, timer, types};
use crate::grants::{Grants, WasiImports};
use crate::host::wasi_bounded::{BoundedWasi, bounded_view};
use crate::state::EnteState;
use wasmtime::Engine;
use wasmtime::component::{HasData, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::sync as wasi;

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

type Link = fn(&mut Linker<EnteState>) -> wasmtime::Result<()>;

/// The baseline, in the order of [`crate::grants::BASELINE`]: wasi:io,
/// wasi:cli (stdin empty, stdout and stderr to the journal, no terminal),
/// wasi:clocks, wasi:random; each linked only if imported. `wasi:io/poll`
/// and `wasi:random` are ente's own, held to the call's deadline
/// (`crate::host::wasi_bounded`).
const BASELINE: &[(&str, Link)] = {
    use wasmtime_wasi::p2::bindings::{cli, clocks, random};
    use wasmtime_wasi_io::bindings::wasi::io::error;
    type C = WasiCli;
    type S = EnteState;
    &[
        ("wasi:io/error", |l| error::add_to_linker::<S, Io>(l, table)),
        ("wasi:io/poll", |l| {
            wasi::io::poll::add_to_linker::<S, BoundedWasi>(l, bounded_view)
        }),
        ("wasi:io/streams", |l| {
            wasi::io::streams::add_to_linker::<S, Io>(l, table)
        }),
        ("wasi:cli/environment", |l| {
            cli::environment::add_to_linker::<S, C>(l, S::cli)
        }),
        ("wasi:cli/exit", |l| {
            cli::exit::add_to_linker::<S, C>(l, S::cli)
        }),
        ("wasi:cli/stdin", |l| {
            cli::stdin::add_to_linker::<S, C>(l, S::cli)
        }),
        ("wasi:cli/stdout", |l| {
            cli::stdout::add_to_linker::<S, C>(l, S::cli)
        }),
        ("wasi:cli/stderr", |l| {
            cli::stderr::add_to_linker::<S, C>(l, S::cli)
        }),
        ("wasi:cli/terminal-input", |l| {
            cli::terminal_input::add_to_linker::<S, C>(l, S::cli)
        }),
        ("wasi:cli/terminal-output", |l| {
            cli::terminal_output::add_to_linker::<S, C>(l, S::cli)
        }),
        ("wasi:cli/terminal-stdin", |l| {
            cli::terminal_stdin::add_to_linker::<S, C>(l, S::cli)
        }),
        ("wasi:cli/terminal-stdout", |l| {
            cli::terminal_stdout::add_to_linker::<S, C>(l, S::cli)
        }),
        ("wasi:cli/terminal-stderr", |l| {
            cli::terminal_stderr::add_to_linker::<S, C>(l, S::cli)
        }),
        ("wasi:clocks/monotonic-clock", |l| {
            clocks::monotonic_clock::add_to_linker::<S, WasiClocks>(l, S::clocks)
        }),
        ("wasi:clocks/wall-clock", |l| {
            clocks::wall_clock::add_to_linker::<S, WasiClocks>(l, S::clocks)
        }),
        ("wasi:random/random", |l| {
            random::random::add_to_linker::<S, BoundedWasi>(l, bounded_view)
        }),
        ("wasi:random/insecure", |l| {
            random::insecure::add_to_linker::<S, BoundedWasi>(l, bounded_view)
        }),
        ("wasi:random/insecure-seed", |l| {
            random::insecure_seed::add_to_linker::<S, BoundedWasi>(l, bounded_view)
        }),
    ]
};

fn baseline(l: &mut Linker<EnteState>, wasi: WasiImports) -> wasmtime::Result<()> {
    for (name, link) in BASELINE {
        if wasi.contains(name) {
            link(l)?;
        }
    }
    Ok(())
}

fn granted(l_: &mut Linker<EnteState>, grants: &Grants) -> wasmtime::Result<()> {
    types::add_to_linker::<EnteState, HasSelf<EnteState>>(l_, |s| s)?;
    // Every Ente may set its own wake-ups.
    timer::add_to_linker::<EnteState, HasSelf<EnteState>>(l_, |s| s)?;
    // Read in place in the guest's memory (see `host::in_place`).
    if grants.journal {
        crate::host::in_place::journal(l_)?;
    }
    if grants.bus {
        crate::host::in_place::bus(l_)?;
    }
    if grants.graph {
        crate::host::in_place::graph(l_)?;
    }
    if grants.graph_view {
        graph_view::add_to_linker::<EnteState, HasSelf<EnteState>>(l_, |s| s)?;
    }
    if grants.devices {
        devices::add_to_linker::<EnteState, HasSelf<EnteState>>(l_, |s| s)?;
    }
    if grants.native_process {
        crate::bindings::ente::native::process::add_to_linker::<EnteState, HasSelf<EnteState>>(
            l_,
            |s| s,
        )?;
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

#[cfg(test)]
mod tests {
    #[test]
    fn every_baseline_interface_has_its_linker_in_order() {
        let linked: Vec<&str> = super::BASELINE.iter().map(|(name, _)| *name).collect();
        assert_eq!(linked, crate::grants::BASELINE);
    }
}
