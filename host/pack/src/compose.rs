//! The composition, with wac: the deny component instantiated first, each
//! of its exports given to the plugin's import of the same name, the
//! plugin's exports exported. What neither instance is given (the plugin's
//! granted imports, the deny component's WASI baseline) becomes an import
//! of the whole, merged by name.

use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

/// The plugin `plugin` with `deny` plugged into its imports `denied`.
pub fn plug(plugin: &[u8], deny: Vec<u8>, denied: &[String]) -> Result<Vec<u8>, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let mut graph = CompositionGraph::new();
    let deny = Package::from_bytes("ente:deny", None, deny, graph.types_mut())
        .map_err(|x| format!("{x:#}"))?;
    let deny = graph.register_package(deny).map_err(|x| e(&x))?;
    let plugin = Package::from_bytes("ente:plugin", None, plugin.to_vec(), graph.types_mut())
        .map_err(|x| format!("{x:#}"))?;
    let exports: Vec<String> = graph.types()[plugin.ty()].exports.keys().cloned().collect();
    let plugin = graph.register_package(plugin).map_err(|x| e(&x))?;
    let denier = graph.instantiate(deny);
    let instance = graph.instantiate(plugin);
    for name in denied {
        let export = graph
            .alias_instance_export(denier, name)
            .map_err(|x| e(&x))?;
        graph
            .set_instantiation_argument(instance, name, export)
            .map_err(|x| e(&x))?;
    }
    for name in &exports {
        let export = graph
            .alias_instance_export(instance, name)
            .map_err(|x| e(&x))?;
        graph.export(export, name).map_err(|x| e(&x))?;
    }
    graph
        .encode(EncodeOptions::default())
        .map_err(|x| format!("{x:#}"))
}
