//! Built-in connectors, one folder each.

pub mod file;
pub mod postgres;
pub mod postgres_cdc;
pub mod sequence;

use crate::plugin::PluginRegistry;

/// A registry with every built-in plugin: connectors, converters, transformations and
/// predicates.
pub fn builtin_registry() -> PluginRegistry {
    let mut reg = PluginRegistry::new();
    crate::plugin::builtin::register_converters(&mut reg);
    crate::plugin::builtin::register_transforms(&mut reg);
    file::register(&mut reg);
    postgres::register(&mut reg);
    postgres_cdc::register(&mut reg);
    sequence::register(&mut reg);
    reg
}
