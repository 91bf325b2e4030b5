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

use std::fmt::Write as _;
use wit_parser::abi::{AbiVariant, WasmType};
use wit_parser::{
    Function, Handle, Int, InterfaceId, LiftLowerAbi, ManglingAndAbi, Resolve, ResourceIntrinsic,
    SizeAlign, Type, TypeDefKind, TypeId, WasmExport, WasmExportKind, WasmImport, WorldId,
    WorldItem, WorldKey,
};

/// Error cases a denial names, most fitting first.
const DENIALS: &[&str] = &[
    "access-denied",
    "access",
    "not-permitted",
    "not-supported",
    "unsupported",
    "HTTP-request-denied",
];

/// Where a function's results are written (below the heap).
const RET: u32 = 16;
const RET_MAX: u32 = 1008;
const HEAP: u32 = 1024;

const MANGLING: ManglingAndAbi = ManglingAndAbi::Legacy(LiftLowerAbi::Sync);

struct Gen<'a> {
    resolve: &'a Resolve,
    sizes: SizeAlign,
    /// Resources the deny component exports: those it can make.
    ours: Vec<(TypeId, WorldKey)>,
    imports: String,
    funcs: String,
    /// Resources whose `[resource-new]` is imported.
    news: Vec<TypeId>,
}

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

/// The core module for `world` (whose exports are the denied interfaces).
fn module(resolve: &Resolve, world: WorldId) -> Result<Vec<u8>, String> {
    let mut sizes = SizeAlign::default();
    sizes.fill(resolve);
    let w = &resolve.worlds[world];
    let mut ours = Vec::new();
    for (key, item) in &w.exports {
        if let WorldItem::Interface { id, .. } = item {
            for (_, ty) in &resolve.interfaces[*id].types {
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
        imports: String::new(),
        funcs: String::new(),
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
    let mut wat = String::from("(module\n");
    wat.push_str(&g.imports);
    let _ = writeln!(
        wat,
        r#"(memory (export "memory") 1)
(global $heap (mut i32) (i32.const {HEAP}))
(func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (local $p i32)
  global.get $heap local.get 2 i32.add i32.const 1 i32.sub
  i32.const 0 local.get 2 i32.sub i32.and local.tee $p
  local.get 3 i32.add global.set $heap
  block
    global.get $heap memory.size i32.const 16 i32.shl i32.le_u br_if 0
    global.get $heap memory.size i32.const 16 i32.shl i32.sub
    i32.const 65535 i32.add i32.const 16 i32.shr_u memory.grow
    i32.const -1 i32.ne br_if 0
    unreachable
  end
  local.get $p)"#
    );
    wat.push_str(&g.funcs);
    wat.push_str(")\n");
    wat::parse_str(&wat).map_err(|e| format!("{e:#}"))
}

impl Gen<'_> {
    fn interface(&mut self, key: &WorldKey, id: InterfaceId) {
        let iface = &self.resolve.interfaces[id];
        for (_, ty) in &iface.types {
            if matches!(self.resolve.types[*ty].kind, TypeDefKind::Resource) {
                let name = self.resolve.wasm_export_name(
                    MANGLING,
                    WasmExport::ResourceDtor {
                        interface: key,
                        resource: *ty,
                    },
                );
                let _ = writeln!(self.funcs, "(func (export {name:?}) (param i32))");
            }
        }
        for (_, func) in &iface.functions {
            self.function(key, func);
        }
    }

    fn function(&mut self, key: &WorldKey, func: &Function) {
        let sig = self.resolve.wasm_signature(AbiVariant::GuestExport, func);
        let name = self.resolve.wasm_export_name(
            MANGLING,
            WasmExport::Func {
                interface: Some(key),
                func,
                kind: WasmExportKind::Normal,
            },
        );
        let mut body = format!("i32.const {HEAP} global.set $heap\n");
        let made = match &func.result {
            None => Some(String::new()),
            Some(ty) if sig.retptr => {
                let size = self.sizes.size(ty).size_wasm32() as u32;
                if size > RET_MAX - RET {
                    None
                } else {
                    let mut code =
                        format!("i32.const {RET} i32.const 0 i32.const {size} memory.fill\n");
                    self.store(ty, RET, &mut code).map(|()| {
                        code.push_str(&format!("i32.const {RET}\n"));
                        code
                    })
                }
            }
            Some(ty) => self.flat(ty),
        };
        body.push_str(&made.unwrap_or_else(|| "unreachable\n".into()));
        let _ = write!(self.funcs, "(func (export {name:?})");
        push_tys(&mut self.funcs, "param", &sig.params);
        push_tys(&mut self.funcs, "result", &sig.results);
        let _ = writeln!(self.funcs, "\n{body})");
    }

    /// Code that writes the denial of `ty` at `at`; `None` when there is none
    /// (a handle the deny component cannot make).
    fn store(&mut self, ty: &Type, at: u32, code: &mut String) -> Option<()> {
        let Type::Id(id) = ty else {
            return Some(()); // numbers, chars, strings: zero, empty
        };
        match &self.resolve.types[*id].kind {
            TypeDefKind::Type(t) => self.store(t, at, code),
            TypeDefKind::Result(r) => {
                let _ = writeln!(code, "i32.const {at} i32.const 1 i32.store8");
                if let Some(e) = &r.err {
                    let off = self
                        .sizes
                        .payload_offset(Int::U8, [r.ok.as_ref(), r.err.as_ref()])
                        .size_wasm32() as u32;
                    self.store(e, at + off, code)?;
                }
                Some(())
            }
            TypeDefKind::Option(_) | TypeDefKind::List(_) | TypeDefKind::Flags(_) => Some(()),
            TypeDefKind::Enum(e) => {
                let case = denial(e.cases.iter().map(|c| c.name.as_str()));
                store_int(code, e.tag(), at, case);
                Some(())
            }
            TypeDefKind::Variant(v) => {
                let case = denial(v.cases.iter().map(|c| c.name.as_str()));
                store_int(code, v.tag(), at, case);
                if let Some(payload) = &v.cases[case as usize].ty {
                    let off = self
                        .sizes
                        .payload_offset(v.tag(), v.cases.iter().map(|c| c.ty.as_ref()))
                        .size_wasm32() as u32;
                    self.store(payload, at + off, code)?;
                }
                Some(())
            }
            TypeDefKind::Record(r) => {
                let offsets = self.sizes.field_offsets(r.fields.iter().map(|f| &f.ty));
                for (off, ty) in offsets {
                    self.store(ty, at + off.size_wasm32() as u32, code)?;
                }
                Some(())
            }
            TypeDefKind::Tuple(t) => {
                let offsets = self.sizes.field_offsets(t.types.iter());
                for (off, ty) in offsets {
                    self.store(ty, at + off.size_wasm32() as u32, code)?;
                }
                Some(())
            }
            TypeDefKind::Handle(Handle::Own(r)) => {
                let new = self.new_of(*r)?;
                let _ = writeln!(code, "i32.const {at} i32.const 0 call {new} i32.store");
                Some(())
            }
            _ => None,
        }
    }

    /// Code that leaves the denial of `ty` as one flat value.
    fn flat(&mut self, ty: &Type) -> Option<String> {
        Some(match ty {
            Type::Bool
            | Type::U8
            | Type::U16
            | Type::U32
            | Type::S8
            | Type::S16
            | Type::S32
            | Type::Char => "i32.const 0\n".into(),
            Type::U64 | Type::S64 => "i64.const 0\n".into(),
            Type::F32 => "f32.const 0\n".into(),
            Type::F64 => "f64.const 0\n".into(),
            Type::Id(id) => match &self.resolve.types[*id].kind {
                TypeDefKind::Type(t) => return self.flat(t),
                TypeDefKind::Enum(e) => format!(
                    "i32.const {}\n",
                    denial(e.cases.iter().map(|c| c.name.as_str()))
                ),
                TypeDefKind::Flags(_) => "i32.const 0\n".into(),
                TypeDefKind::Result(r) if r.ok.is_none() && r.err.is_none() => {
                    "i32.const 1\n".into()
                }
                TypeDefKind::Handle(Handle::Own(r)) => {
                    format!("i32.const 0 call {}\n", self.new_of(*r)?)
                }
                _ => return None,
            },
            _ => return None,
        })
    }

    /// The function that makes a handle of `resource`, if the deny
    /// component exports it.
    fn new_of(&mut self, resource: TypeId) -> Option<String> {
        let key = self.ours.iter().find(|(r, _)| *r == resource)?.1.clone();
        let fname = format!("$new{}", resource.index());
        if !self.news.contains(&resource) {
            self.news.push(resource);
            let (module, name) = self.resolve.wasm_import_name(
                MANGLING,
                WasmImport::ResourceIntrinsic {
                    interface: Some(&key),
                    resource,
                    intrinsic: ResourceIntrinsic::ExportedNew,
                },
            );
            let _ = writeln!(
                self.imports,
                "(import {module:?} {name:?} (func {fname} (param i32) (result i32)))"
            );
        }
        Some(fname)
    }
}

fn store_int(code: &mut String, tag: Int, at: u32, value: u32) {
    let op = match tag {
        Int::U8 => "i32.store8",
        Int::U16 => "i32.store16",
        Int::U32 => "i32.store",
        Int::U64 => "i64.store",
    };
    let konst = if tag == Int::U64 {
        "i64.const"
    } else {
        "i32.const"
    };
    let _ = writeln!(code, "i32.const {at} {konst} {value} {op}");
}

/// The case a denial names.
fn denial<'n>(cases: impl Iterator<Item = &'n str> + Clone) -> u32 {
    for want in DENIALS {
        if let Some(i) = cases.clone().position(|c| c == *want) {
            return i as u32;
        }
    }
    0
}

fn push_tys(wat: &mut String, kind: &str, tys: &[WasmType]) {
    if tys.is_empty() {
        return;
    }
    let _ = write!(wat, " ({kind}");
    for ty in tys {
        let t = match ty {
            WasmType::I32 | WasmType::Pointer | WasmType::Length => "i32",
            WasmType::I64 | WasmType::PointerOrI64 => "i64",
            WasmType::F32 => "f32",
            WasmType::F64 => "f64",
        };
        let _ = write!(wat, " {t}");
    }
    wat.push(')');
}
