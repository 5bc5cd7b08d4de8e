//! Schemas rendered in the formats clients ask for (`?format=`).

use super::service::Registry;
use super::store::SchemaEntry;
use super::types::{RegistryError, SchemaType};

/// The schema's text in `format`: as stored when no format is asked for or the format does
/// not apply to its type; `serialized` gives a Protobuf schema as a base64
/// `FileDescriptorProto`, as confluent-kafka's Protobuf deserializer asks for it.
pub fn render(
    registry: &Registry,
    entry: &SchemaEntry,
    format: Option<&str>,
) -> Result<String, RegistryError> {
    match (entry.schema_type, format.map(str::trim)) {
        (SchemaType::Protobuf, Some(f)) if f.eq_ignore_ascii_case("serialized") => {
            let references = registry.read(|s| s.resolve_references(&entry.references))?;
            super::protobuf::serialized(&entry.text, &references)
                .map_err(RegistryError::invalid_schema)
        }
        _ => Ok(entry.text.to_string()),
    }
}
