//! Reading a component's outline without compiling it (wasmparser, as
//! `wasm-tools component wit` does): what it imports and exports at its top
//! level, and how it encodes strings. In milliseconds, where compiling takes
//! seconds: an import its card does not grant refuses a component before
//! Cranelift runs, and nothing of it is cached.

use wasmtime::wasmparser::{CanonicalFunction, CanonicalOption, Chunk, Parser, Payload};

/// What a component imports and exports at its top level: interface names
/// such as `wasi:io/streams@0.2.6`, in the order they appear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// The outline of a component, or why the bytes are not one. Nested core
/// modules and components are skipped, not parsed: the cost is the number
/// of top-level sections, whatever the size of the code (milliseconds for
/// an interpreter's 40 MB component).
pub fn outline(bytes: &[u8]) -> Result<Outline, String> {
    if !Parser::is_component(bytes) {
        return Err("not a WebAssembly component".into());
    }
    let mut outline = Outline::default();
    let mut parser = Parser::new(0);
    let mut at = 0usize;
    loop {
        let rest = bytes.get(at..).unwrap_or_default();
        let (payload, consumed) = match parser.parse(rest, true).map_err(|e| e.to_string())? {
            Chunk::Parsed { payload, consumed } => (payload, consumed),
            Chunk::NeedMoreData(_) => return Err(format!("truncated at byte {at}")),
        };
        at += consumed;
        match payload {
            // The outer parser has stepped over the nested bytes already;
            // so does the cursor.
            Payload::ModuleSection {
                unchecked_range, ..
            }
            | Payload::ComponentSection {
                unchecked_range, ..
            } => {
                if unchecked_range.end > bytes.len() {
                    return Err(format!(
                        "a nested module runs past the end (byte {} of {})",
                        unchecked_range.end,
                        bytes.len()
                    ));
                }
                at = unchecked_range.end;
            }
            Payload::ComponentImportSection(section) => {
                for import in section {
                    let import = import.map_err(|e| e.to_string())?;
                    outline.imports.push(import.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(section) => {
                for export in section {
                    let export = export.map_err(|e| e.to_string())?;
                    outline.exports.push(export.name.name.to_owned());
                }
            }
            Payload::End(_) => return Ok(outline),
            _ => {}
        }
    }
}

/// The names the component exports at its top level (interfaces such as
/// `ente:core/lifecycle@0.1.0`), or why the bytes are not a component.
pub fn exports(bytes: &[u8]) -> Result<Vec<String>, String> {
    outline(bytes).map(|o| o.exports)
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
