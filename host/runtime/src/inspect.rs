//! Reading a component's outline without compiling it (wasmparser, as
//! `wasm-tools component wit` does): what it exports at its top level, and
//! how it encodes strings. In milliseconds, where compiling takes seconds.

use wasmtime::wasmparser::{CanonicalFunction, CanonicalOption, Parser, Payload};

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

/// Why the component's strings cannot be read in place, if they cannot:
/// the host reads a guest's strings where they lie (see
/// `crate::host::in_place`) and bounds them before copying, which holds for
/// UTF-8; a string in UTF-16 would be transcoded, whole, into host memory
/// first. So a component that lifts or lowers strings in UTF-16 (or latin1
/// with UTF-16) is refused before it is compiled.
pub fn string_encoding(bytes: &[u8]) -> Result<(), String> {
    for payload in Parser::new(0).parse_all(bytes) {
        // Bytes that do not parse are left to the compiler, whose error
        // names the offset and the rule they break.
        let section = match payload {
            Ok(Payload::ComponentCanonicalSection(section)) => section,
            Ok(_) => continue,
            Err(_) => return Ok(()),
        };
        for func in section {
            let Ok(func) = func else { return Ok(()) };
            let options = match func {
                CanonicalFunction::Lift { options, .. }
                | CanonicalFunction::Lower { options, .. } => options,
                _ => continue,
            };
            if let Some(o) = options
                .iter()
                .find(|o| matches!(o, CanonicalOption::UTF16 | CanonicalOption::CompactUTF16))
            {
                return Err(format!(
                    "it passes strings as {}; ente reads the strings of its guests as UTF-8 only",
                    if matches!(o, CanonicalOption::UTF16) {
                        "UTF-16"
                    } else {
                        "latin1+UTF-16"
                    }
                ));
            }
        }
    }
    Ok(())
}
