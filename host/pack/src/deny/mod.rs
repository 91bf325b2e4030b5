//! The deny component: a generated core module that implements each denied
//! interface by refusing every call, made a component by wit-component.
//!
//! Each function returns the denial of its result type: a `result` is its
//! error, with the error enum's or variant's most fitting case
//! (`access-denied`, `access`, `not-permitted`, `not-supported`, ...); an
//! `option` is none; a list or string is empty; a number or bool is zero;
//! a handle of a resource the deny component exports is a new, inert one
//! (`instance-network` must return a network). Only a function that would
//! have to return a resource it cannot make (a `pollable` from a socket)
//! traps, and it is a method of a resource no call ever hands out.

mod encode;

use std::fmt::Write as _;
use wasm_encoder::ValType;
use wit_parser::abi::{AbiVariant, WasmType};
use wit_parser::{
    Handle, Int, InterfaceId, LiftLowerAbi, ManglingAndAbi, Resolve, SizeAlign, Type, TypeDefKind,
    TypeId, WasmExport, WasmExportKind, WorldId, WorldItem, WorldKey,
};

/// The deny component for the interfaces `denied` (names with versions, as
/// the plugin imports them), whose types are in `resolve`.
pub fn component(resolve: &mut Resolve, denied: &[String]) -> Result<Vec<u8>, String> {
    let mut wit = String::from("package ente:deny;\n\nworld deny {\n");
    for name in denied {
        let _ = writeln!(wit, "    export {name};");
    }
    wit.push_str("}\n");
    let package = resolve
        .push_str("deny.wit", &wit)
        .map_err(|e| format!("{e:#}"))?;
    let world = resolve
        .select_world(&[package], Some("deny"))
        .map_err(|e| format!("{e:#}"))?;
    let mut module = module(resolve, world)?;
    wit_component::embed_component_metadata(
        &mut module,
        resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .map_err(|e| format!("{e:#}"))?;
    wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| format!("{e:#}"))
}

/// Error cases a denial names, most fitting first.
const DENIALS: &[&str] = &[
    "access-denied",
    "access",
    "not-permitted",
    "not-supported",
    "unsupported",
    "forbidden",
    "HTTP-request-denied",
];

/// Where a function's results are written (below the heap).
const RET: u32 = 16;
const RET_MAX: u32 = 1008;
/// Where the allocator starts; each call starts it over (nothing a call
/// was given is read, and a result is read before the next call).
const HEAP: u32 = 1024;

const MANGLING: ManglingAndAbi = ManglingAndAbi::Legacy(LiftLowerAbi::Sync);

/// One step of a denying function's body.
enum Step {
    /// Leave a zero of this type.
    Zero(ValType),
    /// Leave this i32.
    I32(i32),
    /// Zero `len` bytes at `at`.
    Fill { at: u32, len: u32 },
    /// Store `value` as an integer of `tag`'s width at `at`.
    Int { tag: Int, at: u32, value: u32 },
    /// Store a new handle of the resource at `at`.
    StoreHandle { at: u32, resource: TypeId },
    /// Leave a new handle of the resource.
    Handle(TypeId),
    /// No denial exists for the result (a handle the deny component
    /// cannot make): the function is never reachable, and traps.
    Trap,
}

/// An exported function: its name, core signature and body.
struct Func {
    name: String,
    params: Vec<ValType>,
    results: Vec<ValType>,
    body: Vec<Step>,
}

struct Gen<'a> {
    resolve: &'a Resolve,
    sizes: SizeAlign,
    /// Resources the deny component exports: those it can make handles of.
    ours: Vec<(TypeId, WorldKey)>,
    funcs: Vec<Func>,
    /// Resources whose `[resource-new]` is imported, in import order.
    news: Vec<TypeId>,
}

/// The core module for `world` (whose exports are the denied interfaces).
fn module(resolve: &Resolve, world: WorldId) -> Result<Vec<u8>, String> {
    let mut sizes = SizeAlign::default();
    sizes.fill(resolve);
    let w = &resolve.worlds[world];
    let mut ours = Vec::new();
    for (key, item) in &w.exports {
        if let WorldItem::Interface { id, .. } = item {
            for ty in resolve.interfaces[*id].types.values() {
                if matches!(resolve.types[*ty].kind, TypeDefKind::Resource) {
                    ours.push((*ty, key.clone()));
                }
            }
        }
    }
    let mut g = Gen {
        resolve,
        sizes,
        ours,
        funcs: Vec::new(),
        news: Vec::new(),
    };
    for (key, item) in &w.exports {
        let WorldItem::Interface { id, .. } = item else {
            return Err(format!(
                "`{}` is not an interface; only interfaces are denied",
                resolve.name_world_key(key)
            ));
        };
        g.interface(key, *id);
    }
    Ok(g.encode())
}

impl Gen<'_> {
    fn interface(&mut self, key: &WorldKey, id: InterfaceId) {
        let iface = &self.resolve.interfaces[id];
        for ty in iface.types.values() {
            if matches!(self.resolve.types[*ty].kind, TypeDefKind::Resource) {
                let name = self.resolve.wasm_export_name(
                    MANGLING,
                    WasmExport::ResourceDtor {
                        interface: key,
                        resource: *ty,
                    },
                );
                self.funcs.push(Func {
                    name,
                    params: vec![ValType::I32],
                    results: Vec::new(),
                    body: Vec::new(),
                });
            }
        }
        for func in iface.functions.values() {
            let sig = self.resolve.wasm_signature(AbiVariant::GuestExport, func);
            let name = self.resolve.wasm_export_name(
                MANGLING,
                WasmExport::Func {
                    interface: Some(key),
                    func,
                    kind: WasmExportKind::Normal,
                },
            );
            let mut body = Vec::new();
            let denied = match &func.result {
                None => true,
                Some(ty) if sig.retptr => {
                    let size = self.sizes.size(ty).size_wasm32() as u32;
                    size <= RET_MAX - RET && {
                        body.push(Step::Fill { at: RET, len: size });
                        let stored = self.store(ty, RET, &mut body);
                        body.push(Step::I32(RET as i32));
                        stored
                    }
                }
                Some(ty) => self.flat(ty, &mut body),
            };
            if !denied {
                body = vec![Step::Trap];
            }
            self.funcs.push(Func {
                name,
                params: sig.params.iter().map(val).collect(),
                results: sig.results.iter().map(val).collect(),
                body,
            });
        }
    }

    /// The steps that write the denial of `ty` at `at`; false when there is
    /// none.
    fn store(&mut self, ty: &Type, at: u32, body: &mut Vec<Step>) -> bool {
        let Type::Id(id) = ty else {
            return true; // numbers, chars: zero; strings: empty
        };
        match &self.resolve.types[*id].kind {
            TypeDefKind::Type(t) => self.store(t, at, body),
            TypeDefKind::Result(r) => {
                body.push(Step::Int {
                    tag: Int::U8,
                    at,
                    value: 1,
                });
                match &r.err {
                    Some(e) => {
                        let off = self
                            .sizes
                            .payload_offset(Int::U8, [r.ok.as_ref(), r.err.as_ref()])
                            .size_wasm32() as u32;
                        self.store(e, at + off, body)
                    }
                    None => true,
                }
            }
            // None, empty, no flag.
            TypeDefKind::Option(_) | TypeDefKind::List(_) | TypeDefKind::Flags(_) => true,
            TypeDefKind::Enum(e) => {
                let value = denial(e.cases.iter().map(|c| c.name.as_str()));
                body.push(Step::Int {
                    tag: e.tag(),
                    at,
                    value,
                });
                true
            }
            TypeDefKind::Variant(v) => {
                let value = denial(v.cases.iter().map(|c| c.name.as_str()));
                body.push(Step::Int {
                    tag: v.tag(),
                    at,
                    value,
                });
                match v.cases.get(value as usize).and_then(|c| c.ty.as_ref()) {
                    Some(payload) => {
                        let off = self
                            .sizes
                            .payload_offset(v.tag(), v.cases.iter().map(|c| c.ty.as_ref()))
                            .size_wasm32() as u32;
                        self.store(payload, at + off, body)
                    }
                    None => true,
                }
            }
            TypeDefKind::Record(r) => {
                let fields = self.sizes.field_offsets(r.fields.iter().map(|f| &f.ty));
                fields
                    .into_iter()
                    .all(|(off, ty)| self.store(ty, at + off.size_wasm32() as u32, body))
            }
            TypeDefKind::Tuple(t) => {
                let fields = self.sizes.field_offsets(t.types.iter());
                fields
                    .into_iter()
                    .all(|(off, ty)| self.store(ty, at + off.size_wasm32() as u32, body))
            }
            TypeDefKind::Handle(Handle::Own(r)) => {
                let resource = self.resource(*r);
                match resource {
                    Some(resource) => {
                        self.import_new(resource);
                        body.push(Step::StoreHandle { at, resource });
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        }
    }

    /// The steps that leave the denial of `ty` as one flat value; false
    /// when there is none.
    fn flat(&mut self, ty: &Type, body: &mut Vec<Step>) -> bool {
        let zero = match ty {
            Type::Bool
            | Type::U8
            | Type::U16
            | Type::U32
            | Type::S8
            | Type::S16
            | Type::S32
            | Type::Char => ValType::I32,
            Type::U64 | Type::S64 => ValType::I64,
            Type::F32 => ValType::F32,
            Type::F64 => ValType::F64,
            Type::Id(id) => {
                match &self.resolve.types[*id].kind {
                    TypeDefKind::Type(t) => return self.flat(t, body),
                    TypeDefKind::Enum(e) => {
                        let value = denial(e.cases.iter().map(|c| c.name.as_str()));
                        body.push(Step::I32(value as i32));
                    }
                    TypeDefKind::Flags(_) => body.push(Step::Zero(ValType::I32)),
                    TypeDefKind::Result(r) if r.ok.is_none() && r.err.is_none() => {
                        body.push(Step::I32(1));
                    }
                    TypeDefKind::Handle(Handle::Own(r)) => match self.resource(*r) {
                        Some(resource) => {
                            self.import_new(resource);
                            body.push(Step::Handle(resource));
                        }
                        None => return false,
                    },
                    _ => return false,
                }
                return true;
            }
            _ => return false,
        };
        body.push(Step::Zero(zero));
        true
    }

    /// `r` (through aliases) if the deny component exports it.
    fn resource(&self, mut r: TypeId) -> Option<TypeId> {
        while let TypeDefKind::Type(Type::Id(next)) = &self.resolve.types[r].kind {
            r = *next;
        }
        self.ours.iter().any(|(o, _)| *o == r).then_some(r)
    }

    fn import_new(&mut self, resource: TypeId) {
        if !self.news.contains(&resource) {
            self.news.push(resource);
        }
    }
}

/// The case a denial names.
fn denial<'n>(cases: impl Iterator<Item = &'n str> + Clone) -> u32 {
    DENIALS
        .iter()
        .find_map(|want| cases.clone().position(|c| c == *want))
        .unwrap_or(0) as u32
}

fn val(ty: &WasmType) -> ValType {
    match ty {
        WasmType::I32 | WasmType::Pointer | WasmType::Length => ValType::I32,
        WasmType::I64 | WasmType::PointerOrI64 => ValType::I64,
        WasmType::F32 => ValType::F32,
        WasmType::F64 => ValType::F64,
    }
}
