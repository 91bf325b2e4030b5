//! `ente pack`: meet "a component imports exactly its grants" for language
//! runtimes that import WASI whether the program uses it or not.
//!
//! A runtime such as CPython (componentize-py) or StarlingMonkey
//! (componentize-js) imports `wasi:filesystem/*` and `wasi:sockets/*` in
//! every component. `pack` reads the component's world, makes a deny
//! component that exports each WASI interface the grants do not cover (every
//! call fails with the interface's own access-denied or not-supported
//! error; a resource nobody can obtain is never reached), and composes it
//! into the author's component with wac, in the manner of WASI-Virt. The
//! result imports only what is granted, and the host's linker check applies
//! to it unchanged. Nothing is granted by packing: the denials are compiled
//! into the component, in its own sandbox.

mod compose;
mod deny;

use wit_parser::decoding::DecodedWasm;
use wit_parser::{WorldItem, WorldKey};

/// Why a component cannot be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    /// An import that is not WASI and not granted: packing denies only
    /// WASI; an `ente:core` interface is granted by the card, or the
    /// component is built against a world without it.
    #[error(
        "imports `{import}`, which the grants do not cover and which is not WASI: grant {needs}, or build against a world without it (wit/README.md)"
    )]
    Ungranted { import: String, needs: String },
    /// A core module that cannot be made a component: it lacks the
    /// `component-type` section a bindings generator embeds, or its WASI
    /// preview1 imports do not fit the adapter.
    #[error("a core module that cannot be made a component: {0}")]
    Componentize(String),
    #[error("cannot make the deny component for {interfaces:?}: {message}")]
    Deny {
        interfaces: Vec<String>,
        message: String,
    },
    #[error("cannot compose the deny component into the plugin: {0}")]
    Compose(String),
}

/// The component of a core module that a C toolchain made (clang and
/// wasi-libc, with the `component-type` section wit-bindgen generates): its
/// WASI preview1 imports adapted by wasmtime's reactor adapter, as
/// `wasm-tools component new --adapt` does.
fn componentize(module: &[u8]) -> Result<Vec<u8>, PackError> {
    use wasi_preview1_component_adapter_provider::{
        WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
    };
    let typed = wasmparser::Parser::new(0)
        .parse_all(module)
        .filter_map(Result::ok)
        .any(|p| matches!(p, wasmparser::Payload::CustomSection(c) if c.name().starts_with("component-type")));
    if !typed {
        return Err(PackError::Componentize(
            "it has no `component-type` section, so its world is unknown: generate its bindings with wit-bindgen (`wit-bindgen c --world ente:core/provider wit/`) and link the `*_component_type.o` it writes".into(),
        ));
    }
    wit_component::ComponentEncoder::default()
        .module(module)
        .and_then(|encoder| {
            encoder.adapter(
                WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
        })
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| PackError::Componentize(format!("{e:#}")))
}

/// A packed component and what was denied in it.
#[derive(Debug, Clone)]
pub struct Packed {
    pub bytes: Vec<u8>,
    /// The WASI interfaces now implemented inside it by denial.
    pub denied: Vec<String>,
    /// What it imports now.
    pub imports: Vec<String>,
}

/// Pack `component`: every import `granted` does not cover (it is given
/// the interface name without version, e.g. `wasi:sockets/tcp`) is denied
/// inside it, if it is WASI; any other ungranted import is an error,
/// naming it and what `needs` says would grant it.
pub fn pack(
    component: &[u8],
    granted: &dyn Fn(&str) -> bool,
    needs: &dyn Fn(&str) -> String,
) -> Result<Packed, PackError> {
    let made;
    let component = if wasmparser::Parser::is_core_wasm(component) {
        made = componentize(component)?;
        &made[..]
    } else if wasmparser::Parser::is_component(component) {
        component
    } else {
        return Err(PackError::NotAComponent(
            "its header is neither a component's nor a core module's".into(),
        ));
    };
    let decoded = wit_parser::decoding::decode(component)
        .map_err(|e| PackError::NotAComponent(format!("{e:#}")))?;
    let (mut resolve, world) = match decoded {
        DecodedWasm::Component(resolve, world) => (resolve, world),
        DecodedWasm::WitPackage(..) => {
            return Err(PackError::NotAComponent(
                "it is a WIT package, not a component".into(),
            ));
        }
    };
    let mut denied = Vec::new();
    let mut imports = Vec::new();
    for (key, item) in &resolve.worlds[world].imports {
        let name = match (key, item) {
            (WorldKey::Interface(id), WorldItem::Interface { .. }) => resolve
                .id_of(*id)
                .unwrap_or_else(|| resolve.name_world_key(key)),
            _ => resolve.name_world_key(key),
        };
        let bare = name.split('@').next().unwrap_or(&name);
        if granted(bare) {
            imports.push(name);
        } else if bare.starts_with("wasi:") && matches!(key, WorldKey::Interface(_)) {
            denied.push(name);
        } else {
            return Err(PackError::Ungranted {
                needs: needs(bare),
                import: name,
            });
        }
    }
    if denied.is_empty() {
        return Ok(Packed {
            bytes: component.to_vec(),
            denied,
            imports,
        });
    }
    let deny = deny::component(&mut resolve, &denied).map_err(|message| PackError::Deny {
        interfaces: denied.clone(),
        message,
    })?;
    let bytes = compose::plug(component, deny, &denied).map_err(PackError::Compose)?;
    Ok(Packed {
        bytes,
        denied,
        imports,
    })
}
