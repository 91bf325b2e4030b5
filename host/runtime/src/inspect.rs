//! Reading a component's outline without compiling it (wasmparser, as
//! `wasm-tools component wit` does): what it exports at its top level. In
//! milliseconds, where compiling takes seconds; for `ente check --graph`.

use wasmtime::wasmparser::{Parser, Payload};

/// The names the component exports at its top level (interfaces such as
/// `ente:core/lifecycle@0.1.0`), or why the bytes are not a component.
pub fn exports(bytes: &[u8]) -> Result<Vec<String>, String> {
    if !Parser::is_component(bytes) {
        return Err("not a WebAssembly component".into());
    }
    let mut depth = 0usize;
    let mut names = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| e.to_string())? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    names.push(export.map_err(|e| e.to_string())?.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}
