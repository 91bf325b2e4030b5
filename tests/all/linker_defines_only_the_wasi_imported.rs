//! The linker defines the WASI baseline interface by interface, only what a
//! component imports. The system Entes are `no_std` and import no WASI at
//! all; the client imports only `wasi:cli/environment` (its card's envp);
//! a `std` guest that prints gets the stdio it imports, and its output
//! reaches the journal.

use crate::support::{ente_in, guest, text};
use ente_card::{Capability, Endpoint};
use ente_runtime::grants::{BASELINE, WasiImports, check_imports};
use ente_runtime::{Grants, Runtime};

/// Every grant, so that only the WASI part of the answer varies.
fn everything() -> Grants {
    let mut g = Grants::from_capabilities(&[
        Capability::Journal,
        Capability::Spawn,
        Capability::FilesystemRoot,
        Capability::Device {
            device_class: ente_card::DeviceClass::Block,
        },
        Capability::Endpoint {
            endpoint: Endpoint {
                interface: "6563686f2d656e64706f696e742d7631".into(),
                version: 1,
            },
        },
    ]);
    g.graph_view = true;
    g
}

fn wasi_imports(runtime: &Runtime, name: &str) -> Vec<&'static str> {
    let digest = runtime.cas().add_file(&guest(name)).expect("add").0;
    let component = runtime.load(&digest).expect("load");
    let imports: WasiImports =
        check_imports(name, runtime.engine(), &component, &everything()).expect("granted");
    BASELINE
        .iter()
        .copied()
        .filter(|i| imports.contains(i))
        .collect()
}

#[test]
fn each_component_gets_exactly_the_wasi_interfaces_it_imports() {
    let home = tempfile::tempdir().expect("home");
    let runtime = Runtime::open(home.path()).expect("runtime");
    for system in ["mediator", "storage_watch", "echo"] {
        assert_eq!(
            wasi_imports(&runtime, system),
            Vec::<&str>::new(),
            "{system} is no_std and imports no WASI"
        );
    }
    assert_eq!(wasi_imports(&runtime, "client"), ["wasi:cli/environment"]);
    let chatty = wasi_imports(&runtime, "chatty");
    for needed in ["wasi:cli/stdout", "wasi:cli/stderr", "wasi:io/streams"] {
        assert!(
            chatty.contains(&needed),
            "chatty (std) imports {needed}: {chatty:?}"
        );
    }
    assert!(
        !chatty.contains(&"wasi:random/random") && !chatty.contains(&"wasi:clocks/wall-clock"),
        "chatty does not import random or clocks, so they are not linked: {chatty:?}"
    );
}

#[test]
fn a_linker_holds_no_wasi_interface_beyond_the_imports_it_was_built_for() {
    let home = tempfile::tempdir().expect("home");
    let runtime = Runtime::open(home.path()).expect("runtime");
    let digest = runtime.cas().add_file(&guest("chatty")).expect("add").0;
    let chatty = runtime.load(&digest).expect("load");
    let grants = everything();
    let own = check_imports("chatty", runtime.engine(), &chatty, &grants).expect("granted");
    // Built for the client's imports (the environment only), the linker
    // cannot satisfy chatty's stdio: the missing definitions are real.
    let mut environment_only = WasiImports::default();
    environment_only.note("wasi:cli/environment");
    let narrow =
        ente_runtime::linker::build(runtime.engine(), &grants, environment_only).expect("linker");
    let refused = narrow
        .instantiate_pre(&chatty)
        .err()
        .map(|e| format!("{e:#}"));
    assert!(
        refused.as_deref().is_some_and(|e| e.contains("wasi:")),
        "chatty linked without its stdio: {refused:?}"
    );
    // Built for chatty's own imports, it links.
    ente_runtime::linker::build(runtime.engine(), &grants, own)
        .expect("linker")
        .instantiate_pre(&chatty)
        .expect("links with exactly its imports");
}

#[test]
fn a_std_guest_prints_through_the_stdio_it_imports_into_its_journal() {
    let home = tempfile::tempdir().expect("home");
    let out = ente_in(home.path(), &["run", &guest("chatty").to_string_lossy()]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let journal = format!("{stdout}{stderr}");
    assert!(
        journal.contains("info: hello on stdout"),
        "stdout reaches the journal as info: {journal}"
    );
    assert!(
        journal.contains("warn: careful on stderr"),
        "stderr reaches the journal as warn: {journal}"
    );
}
