//! Components for the hostile suite, written by hand where no toolchain
//! would make them: a start function that spins, a memory of 4 GiB, core
//! instances by the hundred.

/// What the hostile module of a component holds besides its lifecycle.
#[derive(Clone, Copy, Default)]
pub struct Hazard {
    /// A start function that never returns.
    pub spins: bool,
    /// The pages of its memory.
    pub pages: u64,
    /// Core instances of a one-memory module, besides its own.
    pub nested: u32,
    /// Lift its strings as UTF-16.
    pub utf16: bool,
}

/// A component exporting `ente:core/lifecycle@0.1.0` (whose functions are
/// never reached) from a module with `hazard`. Written with wasm-encoder:
/// a text parser here would change the features of the crates wasmtime is
/// built from, and tests would build wasmtime twice.
pub fn component(hazard: Hazard) -> Vec<u8> {
    use wasm_encoder::{
        BlockType, CanonicalFunctionSection, CanonicalOption, CodeSection, Component,
        ComponentAliasSection, ComponentExportKind, ComponentExportSection,
        ComponentInstanceSection, ComponentTypeSection, ComponentValType, ExportKind,
        ExportSection, Function, FunctionSection, InstanceSection, Instruction, MemorySection,
        MemoryType, Module, ModuleArg, ModuleSection, PrimitiveValType, StartSection, TypeSection,
        ValType,
    };
    let memory = |pages| MemoryType {
        minimum: pages,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    };
    let mut types = TypeSection::new();
    types.ty().function([], [ValType::I32]);
    types.ty().function([], []);
    let mut funcs = FunctionSection::new();
    funcs.function(0).function(1);
    let mut code = CodeSection::new();
    let mut start = Function::new([]);
    start
        .instruction(&Instruction::I32Const(8))
        .instruction(&Instruction::End);
    let mut stop = Function::new([]);
    stop.instruction(&Instruction::End);
    code.function(&start).function(&stop);
    if hazard.spins {
        funcs.function(1);
        let mut spin = Function::new([]);
        spin.instruction(&Instruction::Loop(BlockType::Empty))
            .instruction(&Instruction::Br(0))
            .instruction(&Instruction::End)
            .instruction(&Instruction::End);
        code.function(&spin);
    }
    let mut memories = MemorySection::new();
    memories.memory(memory(hazard.pages.max(1)));
    let mut exports = ExportSection::new();
    exports
        .export("memory", ExportKind::Memory, 0)
        .export("start", ExportKind::Func, 0)
        .export("stop", ExportKind::Func, 1);
    let mut module = Module::new();
    module
        .section(&types)
        .section(&funcs)
        .section(&memories)
        .section(&exports);
    if hazard.spins {
        module.section(&StartSection { function_index: 2 });
    }
    module.section(&code);
    let mut one = Module::new();
    let mut one_memory = MemorySection::new();
    one_memory.memory(memory(1));
    one.section(&one_memory);

    let mut c = Component::new();
    c.section(&ModuleSection(&module))
        .section(&ModuleSection(&one));
    let mut instances = InstanceSection::new();
    let none: Vec<(&str, ModuleArg)> = Vec::new();
    instances.instantiate(0, none.clone());
    for _ in 0..hazard.nested {
        instances.instantiate(1, none.clone());
    }
    c.section(&instances);
    let mut aliases = ComponentAliasSection::new();
    aliases
        .alias(wasm_encoder::Alias::CoreInstanceExport {
            instance: 0,
            kind: ExportKind::Func,
            name: "start",
        })
        .alias(wasm_encoder::Alias::CoreInstanceExport {
            instance: 0,
            kind: ExportKind::Func,
            name: "stop",
        })
        .alias(wasm_encoder::Alias::CoreInstanceExport {
            instance: 0,
            kind: ExportKind::Memory,
            name: "memory",
        });
    c.section(&aliases);
    let mut ctypes = ComponentTypeSection::new();
    ctypes.defined_type().result(
        None,
        Some(ComponentValType::Primitive(PrimitiveValType::String)),
    );
    ctypes
        .function()
        .params([] as [(&str, ComponentValType); 0])
        .result(Some(ComponentValType::Type(0)));
    ctypes
        .function()
        .params([] as [(&str, ComponentValType); 0])
        .result(None);
    c.section(&ctypes);
    let mut canon = CanonicalFunctionSection::new();
    canon
        .lift(
            0,
            1,
            [
                CanonicalOption::Memory(0),
                if hazard.utf16 {
                    CanonicalOption::UTF16
                } else {
                    CanonicalOption::UTF8
                },
            ],
        )
        .lift(1, 2, []);
    c.section(&canon);
    let mut lifecycle = ComponentInstanceSection::new();
    lifecycle.export_items([
        ("start", ComponentExportKind::Func, 0),
        ("stop", ComponentExportKind::Func, 1),
    ]);
    c.section(&lifecycle);
    let mut export = ComponentExportSection::new();
    export.export(
        "ente:core/lifecycle@0.1.0",
        ComponentExportKind::Instance,
        0,
        None,
    );
    c.section(&export);
    c.finish()
}
