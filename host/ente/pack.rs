//! `ente pack`: a component made to import only what `--grant` names, its
//! other WASI imports denied inside it (see the `ente-pack` crate).

use ente_card::Capability;
use ente_runtime::Grants;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

pub fn run(input: &Path, grants: &[Capability], output: &Path) -> ExitCode {
    match pack(input, grants, output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ente pack: {}: {message}", input.display());
            ExitCode::FAILURE
        }
    }
}

fn pack(input: &Path, grants: &[Capability], output: &Path) -> Result<(), String> {
    let t0 = Instant::now();
    let bytes = std::fs::read(input).map_err(|e| format!("cannot read: {e}"))?;
    let grants = Grants::from_capabilities(grants);
    // The component tooling reads untrusted bytes; should a crafted
    // component make it panic, that is this component's error, said as one.
    let packed = std::panic::catch_unwind(|| {
        ente_pack::pack(&bytes, &|name| grants.allows(name), &|name| {
            ente_runtime::grants::granted_by(name).to_owned()
        })
    })
    .map_err(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        format!("its bytes broke the component tooling while packing ({why}); nothing written")
    })?
    .map_err(|e| e.to_string())?;
    // What the host will check, checked here: a packed component that the
    // linker would refuse is a fault of packing, never written.
    let label = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    let outline = ente_runtime::inspect::outline(&packed.bytes)?;
    ente_runtime::grants::check_names(&label, outline.imports.iter().map(String::as_str), &grants)
        .map_err(|e| format!("packed, but still refused: {e}"))?;
    ente_runtime::cas::write_atomic(output, &packed.bytes)
        .map_err(|e| format!("{}: {e}", output.display()))?;
    if packed.denied.is_empty() {
        println!(
            "{}: nothing to deny; it imports only what is granted",
            output.display()
        );
    } else {
        println!(
            "{}: {} WASI interface{} denied inside it: {}",
            output.display(),
            packed.denied.len(),
            if packed.denied.len() == 1 { "" } else { "s" },
            packed.denied.join(", ")
        );
    }
    println!(
        "{}: imports {} ({} bytes, packed in {} ms)",
        output.display(),
        if outline.imports.is_empty() {
            "nothing".to_owned()
        } else {
            outline.imports.join(", ")
        },
        packed.bytes.len(),
        t0.elapsed().as_millis()
    );
    Ok(())
}
