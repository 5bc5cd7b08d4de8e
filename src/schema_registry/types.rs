//! The registry's vocabulary: schema types, references, compatibility levels, modes, and the
//! errors it answers with (Confluent's `error_code` values).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of a registered schema (`schemaType`; absent means AVRO).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum SchemaType {
    #[default]
    Avro,
    Protobuf,
    Json,
}

impl SchemaType {
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Protobuf => "PROTOBUF",
            SchemaType::Json => "JSON",
        }
    }

    /// Parses `schemaType`, case-insensitively.
    pub fn parse(name: &str) -> Option<SchemaType> {
        match name.trim().to_ascii_uppercase().as_str() {
            "AVRO" | "" => Some(SchemaType::Avro),
            "PROTOBUF" => Some(SchemaType::Protobuf),
            "JSON" => Some(SchemaType::Json),
            _ => None,
        }
    }

    /// `schemaType` as it appears in answers and in `_schemas`: absent for AVRO, as Confluent
    /// writes it.
    pub fn field(self) -> Option<&'static str> {
        (self != SchemaType::Avro).then(|| self.as_str())
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference from one schema to another registered one (Protobuf imports, Avro named types,
/// JSON `$ref`): `name` is how the referring schema names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reference {
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// A compatibility level (`compatibilityLevel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compatibility {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Compatibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Compatibility::None => "NONE",
            Compatibility::Backward => "BACKWARD",
            Compatibility::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Compatibility::Forward => "FORWARD",
            Compatibility::ForwardTransitive => "FORWARD_TRANSITIVE",
            Compatibility::Full => "FULL",
            Compatibility::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    pub fn parse(name: &str) -> Option<Compatibility> {
        Some(match name.trim().to_ascii_uppercase().as_str() {
            "NONE" => Compatibility::None,
            "BACKWARD" => Compatibility::Backward,
            "BACKWARD_TRANSITIVE" => Compatibility::BackwardTransitive,
            "FORWARD" => Compatibility::Forward,
            "FORWARD_TRANSITIVE" => Compatibility::ForwardTransitive,
            "FULL" => Compatibility::Full,
            "FULL_TRANSITIVE" => Compatibility::FullTransitive,
            _ => return None,
        })
    }

    /// Whether every earlier version is checked, not only the latest.
    pub fn transitive(self) -> bool {
        matches!(
            self,
            Compatibility::BackwardTransitive
                | Compatibility::ForwardTransitive
                | Compatibility::FullTransitive
        )
    }

    /// Whether the new schema must read data written with the old one.
    pub fn backward(self) -> bool {
        matches!(
            self,
            Compatibility::Backward
                | Compatibility::BackwardTransitive
                | Compatibility::Full
                | Compatibility::FullTransitive
        )
    }

    /// Whether the old schema must read data written with the new one.
    pub fn forward(self) -> bool {
        matches!(
            self,
            Compatibility::Forward
                | Compatibility::ForwardTransitive
                | Compatibility::Full
                | Compatibility::FullTransitive
        )
    }
}

/// A subject's or the registry's mode (`/mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    ReadWrite,
    ReadOnly,
    ReadOnlyOverride,
    Import,
    Forward,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ReadWrite => "READWRITE",
            Mode::ReadOnly => "READONLY",
            Mode::ReadOnlyOverride => "READONLY_OVERRIDE",
            Mode::Import => "IMPORT",
            Mode::Forward => "FORWARD",
        }
    }

    pub fn parse(name: &str) -> Option<Mode> {
        Some(match name.trim().to_ascii_uppercase().as_str() {
            "READWRITE" => Mode::ReadWrite,
            "READONLY" => Mode::ReadOnly,
            "READONLY_OVERRIDE" => Mode::ReadOnlyOverride,
            "IMPORT" => Mode::Import,
            "FORWARD" => Mode::Forward,
            _ => return None,
        })
    }

    pub fn read_only(self) -> bool {
        matches!(self, Mode::ReadOnly | Mode::ReadOnlyOverride)
    }
}

/// A registry failure, with Confluent's HTTP status and `error_code`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RegistryError {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

impl RegistryError {
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        RegistryError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn subject_not_found(subject: &str) -> Self {
        Self::new(404, 40401, format!("Subject '{subject}' not found."))
    }

    pub fn version_not_found(version: i32) -> Self {
        Self::new(404, 40402, format!("Version {version} not found."))
    }

    pub fn schema_not_found() -> Self {
        Self::new(404, 40403, "Schema not found")
    }

    pub fn schema_id_not_found(id: i32) -> Self {
        Self::new(404, 40403, format!("Schema {id} not found"))
    }

    pub fn subject_soft_deleted(subject: &str) -> Self {
        Self::new(
            404,
            40404,
            format!(
                "Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"
            ),
        )
    }

    pub fn subject_not_soft_deleted(subject: &str) -> Self {
        Self::new(
            404,
            40405,
            format!("Subject '{subject}' was not deleted first before being permanently deleted"),
        )
    }

    pub fn version_soft_deleted(subject: &str, version: i32) -> Self {
        Self::new(
            404,
            40406,
            format!(
                "Subject '{subject}' Version {version} was soft deleted.Set permanent=true to delete permanently"
            ),
        )
    }

    pub fn version_not_soft_deleted(subject: &str, version: i32) -> Self {
        Self::new(
            404,
            40407,
            format!(
                "Subject '{subject}' Version {version} was not deleted first before being permanently deleted"
            ),
        )
    }

    pub fn subject_compatibility_not_configured(subject: &str) -> Self {
        Self::new(
            404,
            40408,
            format!("Subject '{subject}' does not have subject-level compatibility configured"),
        )
    }

    pub fn subject_mode_not_configured(subject: &str) -> Self {
        Self::new(
            404,
            40409,
            format!("Subject '{subject}' does not have subject-level mode configured"),
        )
    }

    /// Confluent has answered `error_code` 409 for an incompatible schema for years (recent
    /// releases say 40901); clients look at the HTTP status.
    pub fn incompatible(subject: &str, details: &[String]) -> Self {
        Self::new(
            409,
            409,
            format!(
                "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
                details.join(", ")
            ),
        )
    }

    pub fn invalid_schema(message: impl Into<String>) -> Self {
        Self::new(422, 42201, message)
    }

    pub fn invalid_version(version: &str) -> Self {
        Self::new(
            422,
            42202,
            format!(
                "The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
            ),
        )
    }

    pub fn invalid_compatibility(level: &str) -> Self {
        Self::new(
            422,
            42203,
            format!(
                "Invalid compatibility level {level}. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"
            ),
        )
    }

    pub fn invalid_mode(mode: &str) -> Self {
        Self::new(
            422,
            42204,
            format!("Invalid mode {mode}. Valid values are READWRITE, READONLY, READONLY_OVERRIDE, IMPORT and FORWARD."),
        )
    }

    pub fn not_permitted(message: impl Into<String>) -> Self {
        Self::new(422, 42205, message)
    }

    pub fn reference_exists(what: &str) -> Self {
        Self::new(
            422,
            42206,
            format!("One or more references exist to the schema {what}."),
        )
    }

    pub fn id_does_not_match(message: impl Into<String>) -> Self {
        Self::new(422, 42207, message)
    }

    pub fn invalid_subject(subject: &str) -> Self {
        Self::new(
            422,
            42208,
            format!("The specified subject '{subject}' is not a valid."),
        )
    }

    pub fn store(message: impl Into<String>) -> Self {
        Self::new(500, 50001, message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(500, 50002, message)
    }

    pub fn forwarding(message: impl Into<String>) -> Self {
        Self::new(500, 50003, message)
    }

    pub fn unknown_leader(message: impl Into<String>) -> Self {
        Self::new(500, 50004, message)
    }

    /// A request body that is not the JSON Confluent expects (its JSON parse error code).
    pub fn bad_json(message: impl Into<String>) -> Self {
        Self::new(400, 50005, message)
    }
}

/// A version in a path: a number in [1, 2^31-1], `latest` or `-1` (also the latest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionSpec {
    Latest,
    Number(i32),
}

impl VersionSpec {
    pub fn parse(text: &str) -> Result<VersionSpec, RegistryError> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("latest") || t == "-1" {
            return Ok(VersionSpec::Latest);
        }
        match t.parse::<i32>() {
            Ok(n) if n >= 1 => Ok(VersionSpec::Number(n)),
            _ => Err(RegistryError::invalid_version(text)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in [
            Compatibility::None,
            Compatibility::Backward,
            Compatibility::BackwardTransitive,
            Compatibility::Forward,
            Compatibility::ForwardTransitive,
            Compatibility::Full,
            Compatibility::FullTransitive,
        ] {
            assert_eq!(Compatibility::parse(&c.as_str().to_lowercase()), Some(c));
        }
        assert_eq!(Compatibility::parse("sideways"), None);
        assert_eq!(Mode::parse("readonly"), Some(Mode::ReadOnly));
        assert_eq!(SchemaType::parse("protobuf"), Some(SchemaType::Protobuf));
        assert_eq!(SchemaType::Avro.field(), None);
        assert_eq!(SchemaType::Json.field(), Some("JSON"));
    }

    #[test]
    fn versions() {
        assert_eq!(VersionSpec::parse("latest"), Ok(VersionSpec::Latest));
        assert_eq!(VersionSpec::parse("-1"), Ok(VersionSpec::Latest));
        assert_eq!(VersionSpec::parse("3"), Ok(VersionSpec::Number(3)));
        assert_eq!(VersionSpec::parse("0").unwrap_err().code, 42202);
        assert_eq!(VersionSpec::parse("x").unwrap_err().code, 42202);
    }
}
