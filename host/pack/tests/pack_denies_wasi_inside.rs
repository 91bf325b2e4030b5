//! `ente_pack::pack` on components made here from WIT (wit-component's
//! dummy module): the ungranted WASI interfaces are implemented inside the
//! packed component, which then imports only what is granted; a non-WASI
//! import that is not granted is an error naming it; a component with
//! nothing to deny comes back as it was.

use wit_parser::{LiftLowerAbi, ManglingAndAbi, Resolve};

const IO: &str = "package wasi:io@0.2.6;
interface streams { resource input-stream; }";

const FILESYSTEM: &str = "package wasi:filesystem@0.2.6;
interface types {
    use wasi:io/streams@0.2.6.{input-stream};
    enum error-code { would-block, access, unsupported }
    resource descriptor {
        read-via-stream: func(offset: u64) -> result<input-stream, error-code>;
        stat-size: func() -> result<u64, error-code>;
        is-same-object: func(other: borrow<descriptor>) -> bool;
        read-directory: func() -> result<list<string>, error-code>;
    }
    open: func(path: string) -> result<descriptor, error-code>;
}
interface preopens {
    use types.{descriptor};
    get-directories: func() -> list<tuple<descriptor, string>>;
}
interface network {
    resource network;
    instance-network: func() -> network;
}";

/// A component of the world `plugin` in `source` (after the WASI packages).
fn component(source: &str) -> Vec<u8> {
    let mut resolve = Resolve::default();
    resolve.push_str("io.wit", IO).expect("io");
    resolve.push_str("fs.wit", FILESYSTEM).expect("fs");
    let pkg = resolve.push_str("plugin.wit", source).expect("plugin");
    let world = resolve.select_world(&[pkg], Some("plugin")).expect("world");
    let mut module =
        wit_component::dummy_module(&resolve, world, ManglingAndAbi::Legacy(LiftLowerAbi::Sync));
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("embed");
    wit_component::ComponentEncoder::default()
        .module(&module)
        .expect("module")
        .validate(true)
        .encode()
        .expect("encode")
}

/// The interfaces a component imports, by name.
fn imports(bytes: &[u8]) -> Vec<String> {
    let wit_parser::decoding::DecodedWasm::Component(resolve, world) =
        wit_parser::decoding::decode(bytes).expect("decode")
    else {
        panic!("not a component")
    };
    resolve.worlds[world]
        .imports
        .keys()
        .map(|k| resolve.name_world_key(k))
        .collect()
}

fn io_only(name: &str) -> bool {
    name.starts_with("wasi:io/")
}

fn needs(name: &str) -> String {
    format!("the capability for {name}")
}

#[test]
fn ungranted_wasi_is_denied_inside_and_the_packed_component_imports_only_grants() {
    let plugin = component(
        "package test:plugin;
world plugin {
    import wasi:filesystem/types@0.2.6;
    import wasi:filesystem/preopens@0.2.6;
    import wasi:filesystem/network@0.2.6;
    export run: func() -> u32;
}",
    );
    assert!(imports(&plugin).contains(&"wasi:filesystem/types@0.2.6".to_owned()));
    let packed = ente_pack::pack(&plugin, &io_only, &needs).expect("packed");
    assert_eq!(
        packed.denied,
        [
            "wasi:filesystem/types@0.2.6",
            "wasi:filesystem/preopens@0.2.6",
            "wasi:filesystem/network@0.2.6"
        ]
    );
    let now = imports(&packed.bytes);
    assert!(
        now.iter().all(|i| i.starts_with("wasi:io/")),
        "still imports more than granted: {now:?}"
    );
    // The plugin's export is the packed component's.
    let outline = wit_parser::decoding::decode(&packed.bytes).expect("decode");
    let wit_parser::decoding::DecodedWasm::Component(resolve, world) = outline else {
        panic!("not a component")
    };
    assert!(
        resolve.worlds[world]
            .exports
            .keys()
            .any(|k| resolve.name_world_key(k) == "run")
    );
}

#[test]
fn an_ungranted_import_that_is_not_wasi_is_an_error_naming_it() {
    let plugin = component(
        "package test:plugin;
interface secrets { reveal: func() -> string; }
world plugin {
    import secrets;
    export run: func() -> u32;
}",
    );
    let err = ente_pack::pack(&plugin, &io_only, &needs).expect_err("refused");
    let text = err.to_string();
    assert!(
        matches!(&err, ente_pack::PackError::Ungranted { import, .. } if import == "test:plugin/secrets"),
        "{text}"
    );
    assert!(
        text.contains("grant the capability for test:plugin/secrets"),
        "{text}"
    );
}

#[test]
fn a_component_with_nothing_to_deny_comes_back_as_it_was() {
    let plugin = component(
        "package test:plugin;
world plugin {
    import wasi:io/streams@0.2.6;
    export run: func() -> u32;
}",
    );
    let packed = ente_pack::pack(&plugin, &io_only, &needs).expect("packed");
    assert!(packed.denied.is_empty());
    assert_eq!(packed.bytes, plugin);
}

#[test]
fn bytes_that_are_not_wasm_are_an_error() {
    let err = ente_pack::pack(b"#!/bin/sh\n", &io_only, &needs).expect_err("refused");
    assert!(
        matches!(err, ente_pack::PackError::NotAComponent(_)),
        "{err}"
    );
}

#[test]
fn a_core_module_without_its_world_is_an_error_saying_how_to_give_it_one() {
    let err = ente_pack::pack(b"\0asm\x01\0\0\0", &io_only, &needs).expect_err("refused");
    assert!(
        matches!(err, ente_pack::PackError::Componentize(_)),
        "{err}"
    );
    assert!(err.to_string().contains("wit-bindgen"), "{err}");
}
