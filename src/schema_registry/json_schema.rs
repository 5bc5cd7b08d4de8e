//! JSON Schema compatibility.

/// Why data valid under `writer` may be invalid under `reader` (empty when it is not).
pub fn can_read(_writer: &serde_json::Value, _reader: &serde_json::Value) -> Vec<String> {
    Vec::new()
}
