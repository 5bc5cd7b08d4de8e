//! Built-in connectors, one folder each.

pub mod file;
pub mod postgres;
pub mod postgres_cdc;
pub mod sequence;

use crate::plugin::PluginRegistry;

/// A registry with every built-in plugin: connectors, converters, transformations and
/// predicates. The one place built-ins are registered: each module lists its own
/// ([`crate::convert::builtins`], [`crate::transform::builtin_transforms`], [`register`]).
pub fn builtin_registry() -> PluginRegistry {
    let mut reg = PluginRegistry::new();
    crate::plugin::builtin::register_converters(
        &mut reg,
        crate::schema_registry::client::client_from_config,
    );
    crate::plugin::builtin::register_transforms(&mut reg);
    register(&mut reg);
    reg
}

/// Adds the built-in connectors and their tasks.
pub fn register(reg: &mut PluginRegistry) {
    file::register(reg);
    postgres::register(reg);
    postgres_cdc::register(reg);
    sequence::register(reg);
}
