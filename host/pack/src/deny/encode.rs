//! The deny module's bytes: its types, the `[resource-new]` imports it
//! needs, a bump allocator, a memory, and each planned function.

use super::{Gen, HEAP, MANGLING, Step};
use wasm_encoder::{
    CodeSection, ConstExpr, EntityType, ExportKind, ExportSection, Function, FunctionSection,
    GlobalSection, GlobalType, ImportSection, MemArg, MemorySection, MemoryType, Module,
    TypeSection, ValType,
};
use wit_parser::{Int, ResourceIntrinsic, TypeId, WasmImport};

impl Gen<'_> {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut types = TypeSection::new();
        let mut sigs: Vec<(Vec<ValType>, Vec<ValType>)> = Vec::new();
        let mut type_of = |params: &[ValType], results: &[ValType]| -> u32 {
            let at = sigs
                .iter()
                .position(|(p, r)| p == params && r == results)
                .unwrap_or_else(|| {
                    sigs.push((params.to_vec(), results.to_vec()));
                    types
                        .ty()
                        .function(params.iter().copied(), results.iter().copied());
                    sigs.len() - 1
                });
            at as u32
        };
        let i32_to_i32 = type_of(&[ValType::I32], &[ValType::I32]);
        let mut imports = ImportSection::new();
        for resource in &self.news {
            let key = self
                .ours
                .iter()
                .find(|(r, _)| r == resource)
                .map(|(_, k)| k);
            let (module, name) = self.resolve.wasm_import_name(
                MANGLING,
                WasmImport::ResourceIntrinsic {
                    interface: key,
                    resource: *resource,
                    intrinsic: ResourceIntrinsic::ExportedNew,
                },
            );
            imports.import(&module, &name, EntityType::Function(i32_to_i32));
        }
        let imported = self.news.len() as u32;
        let new_of = |r: TypeId| self.news.iter().position(|n| *n == r).unwrap_or_default() as u32;
        let mut functions = FunctionSection::new();
        let mut code = CodeSection::new();
        let mut exports = ExportSection::new();
        let realloc = [ValType::I32, ValType::I32, ValType::I32, ValType::I32];
        functions.function(type_of(&realloc, &[ValType::I32]));
        code.function(&cabi_realloc());
        exports.export("cabi_realloc", ExportKind::Func, imported);
        exports.export("memory", ExportKind::Memory, 0);
        for (i, f) in self.funcs.iter().enumerate() {
            functions.function(type_of(&f.params, &f.results));
            let mut func = Function::new([]);
            let mut ins = func.instructions();
            ins.i32_const(HEAP as i32).global_set(0);
            for step in &f.body {
                match step {
                    Step::Zero(ValType::I64) => {
                        ins.i64_const(0);
                    }
                    Step::Zero(ValType::F32) => {
                        ins.f32_const(0.0.into());
                    }
                    Step::Zero(ValType::F64) => {
                        ins.f64_const(0.0.into());
                    }
                    Step::Zero(_) => {
                        ins.i32_const(0);
                    }
                    Step::I32(v) => {
                        ins.i32_const(*v);
                    }
                    Step::Fill { at, len } => {
                        ins.i32_const(*at as i32)
                            .i32_const(0)
                            .i32_const(*len as i32)
                            .memory_fill(0);
                    }
                    Step::Int { tag, at, value } => {
                        ins.i32_const(*at as i32);
                        let mem = |align| MemArg {
                            offset: 0,
                            align,
                            memory_index: 0,
                        };
                        match tag {
                            Int::U8 => ins.i32_const(*value as i32).i32_store8(mem(0)),
                            Int::U16 => ins.i32_const(*value as i32).i32_store16(mem(1)),
                            Int::U32 => ins.i32_const(*value as i32).i32_store(mem(2)),
                            Int::U64 => ins.i64_const(i64::from(*value)).i64_store(mem(3)),
                        };
                    }
                    Step::StoreHandle { at, resource } => {
                        ins.i32_const(*at as i32)
                            .i32_const(0)
                            .call(new_of(*resource))
                            .i32_store(MemArg {
                                offset: 0,
                                align: 2,
                                memory_index: 0,
                            });
                    }
                    Step::Handle(resource) => {
                        ins.i32_const(0).call(new_of(*resource));
                    }
                    Step::Trap => {
                        ins.unreachable();
                    }
                }
            }
            ins.end();
            code.function(&func);
            exports.export(&f.name, ExportKind::Func, imported + 1 + i as u32);
        }
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let mut globals = GlobalSection::new();
        globals.global(
            GlobalType {
                val_type: ValType::I32,
                mutable: true,
                shared: false,
            },
            &ConstExpr::i32_const(HEAP as i32),
        );
        let mut module = Module::new();
        module
            .section(&types)
            .section(&imports)
            .section(&functions)
            .section(&memories)
            .section(&globals)
            .section(&exports)
            .section(&code);
        module.finish()
    }
}

/// A bump allocator over the heap, growing the memory as it must (the
/// Ente's memory limit bounds it).
fn cabi_realloc() -> Function {
    // Params: old, old size, align, new size. Local 4: the pointer.
    let mut f = Function::new([(1, ValType::I32)]);
    let mut ins = f.instructions();
    // p = (heap + align - 1) & -align
    ins.global_get(0)
        .local_get(2)
        .i32_add()
        .i32_const(1)
        .i32_sub()
        .i32_const(0)
        .local_get(2)
        .i32_sub()
        .i32_and()
        .local_tee(4)
        .local_get(3)
        .i32_add()
        .global_set(0);
    // Grow when the heap passed the memory's end.
    ins.block(wasm_encoder::BlockType::Empty)
        .global_get(0)
        .memory_size(0)
        .i32_const(16)
        .i32_shl()
        .i32_le_u()
        .br_if(0)
        .global_get(0)
        .memory_size(0)
        .i32_const(16)
        .i32_shl()
        .i32_sub()
        .i32_const(65535)
        .i32_add()
        .i32_const(16)
        .i32_shr_u()
        .memory_grow(0)
        .i32_const(-1)
        .i32_ne()
        .br_if(0)
        .unreachable()
        .end();
    ins.local_get(4).end();
    f
}
