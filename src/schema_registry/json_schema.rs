//! JSON Schema compatibility: whether every document valid under the writer's schema is valid
//! under the reader's. A subset of Confluent's JSON Schema diff: type changes (integer to
//! number widens), properties added as required, `required` growing, closed content models
//! (`additionalProperties: false`) gaining data they refuse, enums narrowing, nullability
//! removed, array items and nested objects recursively. Local `$ref`s are followed.

use serde_json::Value as Json;

/// Why data valid under `writer` may be invalid under `reader` (empty when it is not).
pub fn can_read(writer: &Json, reader: &Json) -> Vec<String> {
    let mut out = Vec::new();
    let ctx = Ctx { writer, reader };
    ctx.compare(writer, reader, "#", &mut out, 0);
    out
}

struct Ctx<'a> {
    writer: &'a Json,
    reader: &'a Json,
}

fn problem(out: &mut Vec<String>, kind: &str, path: &str, what: String) {
    out.push(format!(
        "{{errorType:'{kind}', description:'The new schema {what} at path \"{path}\"'}}"
    ));
}

/// The schema's types, and whether it allows null.
fn types(s: &Json) -> (Vec<String>, bool) {
    let mut types: Vec<String> = match s.get("type") {
        Some(Json::String(t)) => vec![t.clone()],
        Some(Json::Array(a)) => a
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    let mut nullable = types.iter().any(|t| t == "null");
    types.retain(|t| t != "null");
    if let Some(options) = s
        .get("oneOf")
        .or_else(|| s.get("anyOf"))
        .and_then(Json::as_array)
    {
        for o in options {
            let (t, n) = types_of_option(o);
            nullable |= n;
            types.extend(t);
        }
    }
    (types, nullable)
}

fn types_of_option(o: &Json) -> (Vec<String>, bool) {
    match o.get("type").and_then(Json::as_str) {
        Some("null") => (Vec::new(), true),
        _ => types(o),
    }
}

/// The non-null member of a `oneOf` with null, or the schema itself.
fn non_null(s: &Json) -> &Json {
    if let Some(options) = s
        .get("oneOf")
        .or_else(|| s.get("anyOf"))
        .and_then(Json::as_array)
    {
        let others: Vec<&Json> = options
            .iter()
            .filter(|o| o.get("type").and_then(Json::as_str) != Some("null"))
            .collect();
        if others.len() == 1 {
            return others[0];
        }
    }
    s
}

impl<'a> Ctx<'a> {
    fn deref(&self, root: &'a Json, s: &'a Json) -> &'a Json {
        match s.get("$ref").and_then(Json::as_str) {
            Some(r) if r.starts_with('#') => root.pointer(&r[1..]).unwrap_or(s),
            _ => s,
        }
    }

    fn compare(&self, w: &'a Json, r: &'a Json, path: &str, out: &mut Vec<String>, depth: usize) {
        if depth > 32 {
            return;
        }
        let w = non_null_deref(self, self.writer, w);
        let r = non_null_deref(self, self.reader, r);
        let (wt, wn) = types(w.0);
        let (rt, rn) = types(r.0);
        if (wn || w.1) && !(rn || r.1) && r.0 != &Json::Bool(true) {
            problem(out, "TYPE_NARROWED", path, "no longer accepts null".into());
        }
        let (w, r) = (w.0, r.0);
        if !rt.is_empty() && !wt.is_empty() {
            for t in &wt {
                let accepted =
                    rt.contains(t) || (t == "integer" && rt.iter().any(|x| x == "number"));
                if !accepted {
                    problem(
                        out,
                        "TYPE_CHANGED",
                        path,
                        format!("does not accept the type {t}"),
                    );
                    return;
                }
            }
        }
        if let (Some(we), Some(re)) = (
            w.get("enum").and_then(Json::as_array),
            r.get("enum").and_then(Json::as_array),
        ) {
            if we.iter().any(|v| !re.contains(v)) {
                problem(
                    out,
                    "ENUM_ARRAY_NARROWED",
                    path,
                    "has fewer enum values".into(),
                );
            }
        }
        if let (Some(wi), Some(ri)) = (w.get("items"), r.get("items")) {
            self.compare(wi, ri, &format!("{path}/items"), out, depth + 1);
        }
        let empty = serde_json::Map::new();
        let wp = w
            .get("properties")
            .and_then(Json::as_object)
            .unwrap_or(&empty);
        let rp = r
            .get("properties")
            .and_then(Json::as_object)
            .unwrap_or(&empty);
        if wp.is_empty() && rp.is_empty() {
            return;
        }
        let required = |s: &Json| -> Vec<String> {
            s.get("required")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        };
        let (wr, rr) = (required(w), required(r));
        for name in &rr {
            if !wr.contains(name) {
                problem(
                    out,
                    "REQUIRED_ATTRIBUTE_ADDED",
                    path,
                    format!("requires the property {name}"),
                );
            }
        }
        let reader_closed = r.get("additionalProperties") == Some(&Json::Bool(false));
        for (name, ws) in wp {
            match rp.get(name) {
                Some(rs) => {
                    self.compare(ws, rs, &format!("{path}/properties/{name}"), out, depth + 1)
                }
                None if reader_closed => problem(
                    out,
                    "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
                    path,
                    format!("removes the property {name} from a closed content model"),
                ),
                None => {}
            }
        }
    }
}

fn non_null_deref<'a>(ctx: &Ctx<'a>, root: &'a Json, s: &'a Json) -> (&'a Json, bool) {
    let s = ctx.deref(root, s);
    let inner = non_null(s);
    let nullable = !std::ptr::eq(inner, s);
    (ctx.deref(root, inner), nullable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn optional_property_added_is_compatible_required_is_not() {
        let v1 = json!({"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]});
        let v2 = json!({"type":"object","properties":{"id":{"type":"integer"},"e":{"type":"string"}},"required":["id"]});
        assert!(can_read(&v1, &v2).is_empty());
        assert!(can_read(&v2, &v1).is_empty());
        let v3 = json!({"type":"object","properties":{"id":{"type":"integer"},"e":{"type":"string"}},"required":["id","e"]});
        assert!(can_read(&v1, &v3)[0].contains("REQUIRED_ATTRIBUTE_ADDED"));
        let v4 = json!({"type":"object","properties":{"id":{"type":"string"}}});
        assert!(can_read(&v1, &v4)[0].contains("TYPE_CHANGED"));
        let wider =
            json!({"type":"object","properties":{"id":{"type":"number"}},"required":["id"]});
        assert!(can_read(&v1, &wider).is_empty());
        assert!(!can_read(&wider, &v1).is_empty());
        let nullable = json!({"type":"object","properties":{"id":{"oneOf":[{"type":"null"},{"type":"integer"}]}}});
        assert!(can_read(&nullable, &v1)
            .iter()
            .any(|p| p.contains("TYPE_NARROWED")));
    }
}
