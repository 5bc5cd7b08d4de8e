//! JSON Schema compatibility after Confluent's JSON Schema diff (its default, strict policy).
//!
//! The writer's schema (the original) is compared with the reader's (the update), keyword by
//! keyword, and every difference gets one of Confluent's difference types; the schemas are
//! compatible when every difference is one Confluent counts as compatible ([`COMPATIBLE`]).
//! Covered: type changes (`integer` to `number` widens, the reverse narrows), combined types
//! (`oneOf`/`anyOf`/`allOf`, a type list, nullable fields as `oneOf` with null), `enum` and
//! `const`, `not`, string lengths and `pattern`, numeric ranges and `multipleOf`, object
//! properties against open, partially open (`patternProperties`, a schema of
//! `additionalProperties`) and closed (`additionalProperties: false`) content models,
//! `required`, `dependencies`, property counts, array items (one schema or a tuple),
//! `additionalItems`, item counts and `uniqueItems`. Local `$ref`s are followed.
//!
//! Not covered (never reported): `unevaluatedProperties`/`unevaluatedItems`, `contains`
//! counts, and `$ref`s to other registered schemas.

use serde_json::{Map, Value as Json};

/// The difference types Confluent's strict policy accepts as compatible.
pub const COMPATIBLE: &[&str] = &[
    "ID_CHANGED",
    "DESCRIPTION_CHANGED",
    "TITLE_CHANGED",
    "DEFAULT_CHANGED",
    "SCHEMA_REMOVED",
    "TYPE_EXTENDED",
    "MAX_LENGTH_INCREASED",
    "MAX_LENGTH_REMOVED",
    "MIN_LENGTH_DECREASED",
    "MIN_LENGTH_REMOVED",
    "PATTERN_REMOVED",
    "MAXIMUM_INCREASED",
    "MAXIMUM_REMOVED",
    "MINIMUM_DECREASED",
    "MINIMUM_REMOVED",
    "EXCLUSIVE_MAXIMUM_INCREASED",
    "EXCLUSIVE_MAXIMUM_REMOVED",
    "EXCLUSIVE_MINIMUM_DECREASED",
    "EXCLUSIVE_MINIMUM_REMOVED",
    "MULTIPLE_OF_REDUCED",
    "MULTIPLE_OF_REMOVED",
    "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED",
    "REQUIRED_ATTRIBUTE_REMOVED",
    "DEPENDENCY_ARRAY_NARROWED",
    "DEPENDENCY_ARRAY_REMOVED",
    "DEPENDENCY_SCHEMA_REMOVED",
    "MAX_PROPERTIES_INCREASED",
    "MAX_PROPERTIES_REMOVED",
    "MIN_PROPERTIES_DECREASED",
    "MIN_PROPERTIES_REMOVED",
    "ADDITIONAL_PROPERTIES_ADDED",
    "ADDITIONAL_PROPERTIES_EXTENDED",
    "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
    "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "MAX_ITEMS_INCREASED",
    "MAX_ITEMS_REMOVED",
    "MIN_ITEMS_DECREASED",
    "MIN_ITEMS_REMOVED",
    "UNIQUE_ITEMS_REMOVED",
    "ADDITIONAL_ITEMS_ADDED",
    "ADDITIONAL_ITEMS_EXTENDED",
    "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL",
    "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
    "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "ENUM_ARRAY_EXTENDED",
    "COMBINED_TYPE_EXTENDED",
    "PRODUCT_TYPE_NARROWED",
    "SUM_TYPE_EXTENDED",
    "NOT_TYPE_NARROWED",
];

fn compatible(kind: &str) -> bool {
    COMPATIBLE.contains(&kind)
}

/// A difference: its Confluent type and the JSON path where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Difference {
    pub kind: &'static str,
    pub path: String,
}

impl Difference {
    /// Confluent's wording for the difference, the reader's schema being the update.
    fn message(&self) -> String {
        let p = &self.path;
        let k = self.kind;
        let text = if k.ends_with("_ADDED") && !k.contains("PROPERTY") && !k.contains("ITEM_")
            || matches!(
                k,
                "ADDITIONAL_ITEMS_REMOVED"
                    | "ADDITIONAL_PROPERTIES_REMOVED"
                    | "REQUIRED_ATTRIBUTE_ADDED"
            ) {
            format!("The keyword at path '{p}' in the reader's schema is not present in the writer's schema")
        } else if k.ends_with("_INCREASED") || k == "MULTIPLE_OF_EXPANDED" {
            format!("The value at path '{p}' in the reader's schema is more than its value in the writer's schema")
        } else if k.ends_with("_DECREASED") {
            format!("The value at path '{p}' in the reader's schema is less than its value in the writer's schema")
        } else if k.ends_with("_CHANGED") && !k.contains("TYPE") && k != "ENUM_ARRAY_CHANGED" {
            format!("The value at path '{p}' is different between the reader's and writer's schema")
        } else if k.ends_with("_NARROWED") {
            format!("An array or combined type at path '{p}' has fewer elements in the reader's schema than the writer's schema")
        } else if k.ends_with("_EXTENDED") {
            format!("An array or combined type at path '{p}' has more elements in the reader's schema than the writer's schema")
        } else if k.contains("TYPE") || k == "ENUM_ARRAY_CHANGED" || k == "SCHEMA_ADDED" {
            format!("A type at path '{p}' is different between the reader's schema and the writer's schema")
        } else if k.contains("ADDED_TO_OPEN_CONTENT_MODEL") {
            format!("The reader's schema has an open content model and has a property or item at path '{p}' which is missing in the writer's schema")
        } else if k.contains("ADDED_TO_UNOPEN_CONTENT_MODEL") {
            format!("The reader's schema has an unopen content model and has a required property at path '{p}' which is missing in the writer's schema")
        } else if k.contains("REMOVED_FROM_CLOSED_CONTENT_MODEL") {
            format!("The reader's schema has a closed content model and is missing a property or item present at path '{p}' in the writer's schema")
        } else if k.contains("REMOVED_NOT_COVERED") {
            format!("A property or item is missing in the reader's schema but present at path '{p}' in the writer's schema and is not covered by its partially open content model")
        } else if k.contains("ADDED_NOT_COVERED") {
            format!("The reader's schema has a property or item at path '{p}' which is missing in the writer's schema and is not covered by its partially open content model")
        } else {
            format!("A difference at path '{p}'")
        };
        format!(
            "{{errorType:'{k}', description:'{}'}}",
            text.replace('\'', "\"")
        )
    }
}

/// Why data valid under `writer` may be invalid under `reader` (empty when it is not):
/// Confluent-style messages for the incompatible differences.
pub fn can_read(writer: &Json, reader: &Json) -> Vec<String> {
    differences(writer, reader)
        .iter()
        .filter(|d| !compatible(d.kind))
        .map(Difference::message)
        .collect()
}

/// Every difference between the writer's schema and the reader's, compatible or not.
pub fn differences(writer: &Json, reader: &Json) -> Vec<Difference> {
    let ctx = Ctx { writer, reader };
    let mut out = Vec::new();
    let (w, r) = (
        Side {
            writer: true,
            json: writer,
        },
        Side {
            writer: false,
            json: reader,
        },
    );
    ctx.compare(w, r, "#", &mut out, 0);
    out
}

/// A schema and whose document it belongs to (for its `$ref`s).
#[derive(Clone, Copy)]
struct Side<'s> {
    writer: bool,
    json: &'s Json,
}

impl<'s> Side<'s> {
    fn json(self) -> &'s Json {
        self.json
    }
    /// Another schema of the same document.
    fn with<'t>(self, json: &'t Json) -> Side<'t> {
        Side {
            writer: self.writer,
            json,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Criterion {
    All,
    Any,
    One,
}

impl Criterion {
    fn keyword(self) -> &'static str {
        match self {
            Criterion::All => "allOf",
            Criterion::Any => "anyOf",
            Criterion::One => "oneOf",
        }
    }
}

/// What a schema is, as the JSON Schema library Confluent uses classifies it.
enum Kind {
    Empty,
    False,
    Combined(Criterion, Vec<Json>),
    Enum(Vec<Json>),
    Const(Json),
    Not(Json),
    Object(Map<String, Json>),
    Array(Map<String, Json>),
    String(Map<String, Json>),
    Number(Map<String, Json>, bool),
    Boolean,
    Null,
}

impl Kind {
    /// Schemas of one class are compared keyword by keyword; other pairs are a type change.
    fn class(&self) -> u8 {
        match self {
            Kind::Empty => 0,
            Kind::False => 1,
            Kind::Combined(..) => 2,
            Kind::Enum(_) => 3,
            Kind::Const(_) => 4,
            Kind::Not(_) => 5,
            Kind::Object(_) => 6,
            Kind::Array(_) => 7,
            Kind::String(_) => 8,
            Kind::Number(..) => 9,
            Kind::Boolean => 10,
            Kind::Null => 11,
        }
    }
}

/// Keywords that annotate without constraining.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "definitions",
    "$defs",
    "readOnly",
    "writeOnly",
    "deprecated",
    "format",
];

fn is_annotation(key: &str) -> bool {
    ANNOTATIONS.contains(&key) || key.starts_with("connect.")
}

fn combiner(o: &Map<String, Json>) -> Option<(Criterion, &Vec<Json>)> {
    [Criterion::All, Criterion::Any, Criterion::One]
        .into_iter()
        .find_map(|c| o.get(c.keyword()).and_then(Json::as_array).map(|a| (c, a)))
}

/// Classifies a schema (its `$ref` already followed). A type list is an `anyOf` of one schema
/// per type; a combiner, `enum` or `const` beside other constraints is an `allOf` of both.
fn kind(s: &Json) -> Kind {
    let o = match s {
        Json::Bool(true) => return Kind::Empty,
        Json::Bool(false) => return Kind::False,
        Json::Object(o) => o,
        _ => return Kind::Empty,
    };
    let constraints: Map<String, Json> = o
        .iter()
        .filter(|(k, _)| !is_annotation(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(Json::Array(types)) = o.get("type") {
        if types.len() == 1 {
            let mut single = o.clone();
            single.insert("type".into(), types[0].clone());
            return kind(&Json::Object(single));
        }
        let subs = types
            .iter()
            .map(|t| {
                let mut one = constraints.clone();
                one.insert("type".into(), t.clone());
                Json::Object(one)
            })
            .collect();
        return Kind::Combined(Criterion::Any, subs);
    }
    let special = ["allOf", "anyOf", "oneOf", "enum", "const", "not"];
    let present: Vec<&str> = special
        .iter()
        .copied()
        .filter(|k| constraints.contains_key(*k))
        .collect();
    let others = constraints.len() - present.len();
    if present.len() + usize::from(others > 0) > 1 {
        // Several independent constraints: all of them apply.
        let mut parts = Vec::new();
        if others > 0 {
            let rest: Map<String, Json> = constraints
                .iter()
                .filter(|(k, _)| !special.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            parts.push(Json::Object(rest));
        }
        for k in present {
            let mut one = Map::new();
            one.insert(k.to_string(), constraints[k].clone());
            parts.push(Json::Object(one));
        }
        return Kind::Combined(Criterion::All, parts);
    }
    if let Some((c, subs)) = combiner(o) {
        return Kind::Combined(c, subs.clone());
    }
    if let Some(Json::Array(values)) = o.get("enum") {
        return Kind::Enum(values.clone());
    }
    if let Some(v) = o.get("const") {
        return Kind::Const(v.clone());
    }
    if let Some(n) = o.get("not") {
        return Kind::Not(n.clone());
    }
    let has = |keys: &[&str]| keys.iter().any(|k| o.contains_key(*k));
    match o.get("type").and_then(Json::as_str) {
        Some("object") => Kind::Object(o.clone()),
        Some("array") => Kind::Array(o.clone()),
        Some("string") => Kind::String(o.clone()),
        Some("number") => Kind::Number(o.clone(), false),
        Some("integer") => Kind::Number(o.clone(), true),
        Some("boolean") => Kind::Boolean,
        Some("null") => Kind::Null,
        _ if has(&[
            "properties",
            "required",
            "additionalProperties",
            "patternProperties",
            "dependencies",
            "minProperties",
            "maxProperties",
        ]) =>
        {
            Kind::Object(o.clone())
        }
        _ if has(&[
            "items",
            "additionalItems",
            "minItems",
            "maxItems",
            "uniqueItems",
        ]) =>
        {
            Kind::Array(o.clone())
        }
        _ if has(&["minLength", "maxLength", "pattern"]) => Kind::String(o.clone()),
        _ if has(&[
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "multipleOf",
        ]) =>
        {
            Kind::Number(o.clone(), false)
        }
        _ => Kind::Empty,
    }
}

fn push(out: &mut Vec<Difference>, kind: &'static str, path: &str) {
    out.push(Difference {
        kind,
        path: path.to_string(),
    });
}

fn all_compatible(diffs: &[Difference]) -> bool {
    diffs.iter().all(|d| compatible(d.kind))
}

fn number(o: &Map<String, Json>, key: &str) -> Option<f64> {
    o.get(key).and_then(Json::as_f64)
}

/// Added, removed, increased or decreased, for a numeric keyword.
fn compare_limit(
    o: &Map<String, Json>,
    u: &Map<String, Json>,
    key: &str,
    kinds: [&'static str; 4],
    path: &str,
    out: &mut Vec<Difference>,
) {
    let at = format!("{path}/{key}");
    match (number(o, key), number(u, key)) {
        (None, Some(_)) => push(out, kinds[0], &at),
        (Some(_), None) => push(out, kinds[1], &at),
        (Some(a), Some(b)) if a < b => push(out, kinds[2], &at),
        (Some(a), Some(b)) if a > b => push(out, kinds[3], &at),
        _ => {}
    }
}

fn limits(key: &str) -> [&'static str; 4] {
    match key {
        "maxLength" => [
            "MAX_LENGTH_ADDED",
            "MAX_LENGTH_REMOVED",
            "MAX_LENGTH_INCREASED",
            "MAX_LENGTH_DECREASED",
        ],
        "minLength" => [
            "MIN_LENGTH_ADDED",
            "MIN_LENGTH_REMOVED",
            "MIN_LENGTH_INCREASED",
            "MIN_LENGTH_DECREASED",
        ],
        "maximum" => [
            "MAXIMUM_ADDED",
            "MAXIMUM_REMOVED",
            "MAXIMUM_INCREASED",
            "MAXIMUM_DECREASED",
        ],
        "minimum" => [
            "MINIMUM_ADDED",
            "MINIMUM_REMOVED",
            "MINIMUM_INCREASED",
            "MINIMUM_DECREASED",
        ],
        "exclusiveMaximum" => [
            "EXCLUSIVE_MAXIMUM_ADDED",
            "EXCLUSIVE_MAXIMUM_REMOVED",
            "EXCLUSIVE_MAXIMUM_INCREASED",
            "EXCLUSIVE_MAXIMUM_DECREASED",
        ],
        "exclusiveMinimum" => [
            "EXCLUSIVE_MINIMUM_ADDED",
            "EXCLUSIVE_MINIMUM_REMOVED",
            "EXCLUSIVE_MINIMUM_INCREASED",
            "EXCLUSIVE_MINIMUM_DECREASED",
        ],
        "maxProperties" => [
            "MAX_PROPERTIES_ADDED",
            "MAX_PROPERTIES_REMOVED",
            "MAX_PROPERTIES_INCREASED",
            "MAX_PROPERTIES_DECREASED",
        ],
        "minProperties" => [
            "MIN_PROPERTIES_ADDED",
            "MIN_PROPERTIES_REMOVED",
            "MIN_PROPERTIES_INCREASED",
            "MIN_PROPERTIES_DECREASED",
        ],
        "maxItems" => [
            "MAX_ITEMS_ADDED",
            "MAX_ITEMS_REMOVED",
            "MAX_ITEMS_INCREASED",
            "MAX_ITEMS_DECREASED",
        ],
        _ => [
            "MIN_ITEMS_ADDED",
            "MIN_ITEMS_REMOVED",
            "MIN_ITEMS_INCREASED",
            "MIN_ITEMS_DECREASED",
        ],
    }
}

fn strings(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(String::from))
        .collect()
}

fn has_default(s: &Json) -> bool {
    s.get("default").is_some()
}

/// An object's additional properties: whether allowed, and their schema when one is given.
fn additional<'j>(o: &'j Map<String, Json>, key: &str) -> (bool, Option<&'j Json>) {
    match o.get(key) {
        Some(Json::Bool(false)) => (false, None),
        Some(s @ Json::Object(_)) => (true, Some(s)),
        _ => (true, None),
    }
}

fn object_is_open(o: &Map<String, Json>) -> bool {
    additional(o, "additionalProperties") == (true, None)
        && o.get("patternProperties")
            .and_then(Json::as_object)
            .is_none_or(|p| p.is_empty())
}

/// The schema a property not named in `properties` gets, when the model is partially open.
fn partial_schema<'j>(o: &'j Map<String, Json>, property: &str) -> Option<&'j Json> {
    if let Some(patterns) = o.get("patternProperties").and_then(Json::as_object) {
        for (pattern, schema) in patterns {
            if regex::Regex::new(pattern).is_ok_and(|r| r.is_match(property)) {
                return Some(schema);
            }
        }
    }
    additional(o, "additionalProperties").1
}

fn array_is_open(o: &Map<String, Json>) -> bool {
    additional(o, "additionalItems") == (true, None)
}

/// The largest matching of compatible (original, update) pairs (augmenting paths; the
/// lists are short).
fn max_matching(edges: &[Vec<bool>], updates: usize) -> Vec<(usize, usize)> {
    fn augment(
        i: usize,
        edges: &[Vec<bool>],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for j in 0..owner.len() {
            if edges[i][j] && !seen[j] {
                seen[j] = true;
                if owner[j].is_none_or(|k| augment(k, edges, seen, owner)) {
                    owner[j] = Some(i);
                    return true;
                }
            }
        }
        false
    }
    let mut owner = vec![None; updates];
    for i in 0..edges.len() {
        let mut seen = vec![false; updates];
        augment(i, edges, &mut seen, &mut owner);
    }
    owner
        .iter()
        .enumerate()
        .filter_map(|(j, i)| i.map(|i| (i, j)))
        .collect()
}

struct Ctx<'a> {
    writer: &'a Json,
    reader: &'a Json,
}

impl<'a> Ctx<'a> {
    /// Follows a local `$ref` in the document the schema belongs to.
    fn deref<'s>(&self, side: Side<'s>) -> Side<'s>
    where
        'a: 's,
    {
        let root: &'s Json = if side.writer {
            self.writer
        } else {
            self.reader
        };
        let mut s = side.json();
        for _ in 0..16 {
            match s.get("$ref").and_then(Json::as_str) {
                Some(r) if r.starts_with('#') => match root.pointer(&r[1..]) {
                    Some(target) => s = target,
                    None => break,
                },
                _ => break,
            }
        }
        side.with(s)
    }

    /// Compares into a fresh list.
    fn sub<'s>(&self, o: Side<'s>, u: Side<'s>, path: &str, depth: usize) -> Vec<Difference>
    where
        'a: 's,
    {
        let mut out = Vec::new();
        self.compare(o, u, path, &mut out, depth);
        out
    }

    fn compare_opt<'s>(
        &self,
        o: Option<Side<'s>>,
        u: Option<Side<'s>>,
        path: &str,
        out: &mut Vec<Difference>,
        depth: usize,
    ) where
        'a: 's,
    {
        match (o, u) {
            (None, None) => {}
            (None, Some(_)) => push(out, "SCHEMA_ADDED", path),
            (Some(_), None) => push(out, "SCHEMA_REMOVED", path),
            (Some(o), Some(u)) => self.compare(o, u, path, out, depth),
        }
    }

    fn compare<'s>(
        &self,
        o: Side<'s>,
        u: Side<'s>,
        path: &str,
        out: &mut Vec<Difference>,
        depth: usize,
    ) where
        'a: 's,
    {
        // Recursive schemas are cut off here, as compatible.
        if depth > 48 {
            return;
        }
        let (o, u) = (self.deref(o), self.deref(u));
        let (ok, uk) = (kind(o.json()), kind(u.json()));
        // Subschemas synthesized by `kind` are owned: they are compared through these sides,
        // their `$ref`s still resolved against the right document.
        match (&ok, &uk) {
            (k, Kind::Combined(c, subs)) if !matches!(k, Kind::Combined(..)) => {
                if subs.len() == 1 {
                    let d = self.sub(o, u.with(&subs[0]), path, depth + 1);
                    if all_compatible(&d) {
                        out.extend(d);
                        return;
                    }
                } else if *c != Criterion::All {
                    for s in subs {
                        let d = self.sub(o, u.with(s), path, depth + 1);
                        if all_compatible(&d) {
                            out.extend(d);
                            push(out, "SUM_TYPE_EXTENDED", path);
                            return;
                        }
                    }
                }
            }
            (Kind::Combined(c, subs), k) if !matches!(k, Kind::Combined(..)) => {
                if subs.len() == 1 {
                    let d = self.sub(o.with(&subs[0]), u, path, depth + 1);
                    if all_compatible(&d) {
                        out.extend(d);
                        return;
                    }
                } else if *c == Criterion::All {
                    for s in subs {
                        let d = self.sub(o.with(s), u, path, depth + 1);
                        if all_compatible(&d) {
                            out.extend(d);
                            push(out, "PRODUCT_TYPE_NARROWED", path);
                            return;
                        }
                    }
                }
            }
            _ => {}
        }
        if ok.class() != uk.class() {
            if matches!(ok, Kind::False) || matches!(uk, Kind::Empty) {
                return;
            }
            let connect = |s: &Json| {
                s.get("connect.type")
                    .and_then(Json::as_str)
                    .map(String::from)
            };
            // Connect bytes changed representation (decimals) without changing the data.
            if connect(o.json()).as_deref() == Some("bytes")
                && connect(u.json()).as_deref() == Some("bytes")
            {
                return;
            }
            push(out, "TYPE_CHANGED", path);
            return;
        }
        match (ok, uk) {
            (Kind::String(a), Kind::String(b)) => {
                for key in ["maxLength", "minLength"] {
                    compare_limit(&a, &b, key, limits(key), path, out);
                }
                let at = format!("{path}/pattern");
                match (a.get("pattern"), b.get("pattern")) {
                    (None, Some(_)) => push(out, "PATTERN_ADDED", &at),
                    (Some(_), None) => push(out, "PATTERN_REMOVED", &at),
                    (Some(x), Some(y)) if x != y => push(out, "PATTERN_CHANGED", &at),
                    _ => {}
                }
            }
            (Kind::Number(a, ai), Kind::Number(b, bi)) => {
                for key in ["maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"] {
                    compare_limit(&a, &b, key, limits(key), path, out);
                }
                let at = format!("{path}/multipleOf");
                match (number(&a, "multipleOf"), number(&b, "multipleOf")) {
                    (None, Some(_)) => push(out, "MULTIPLE_OF_ADDED", &at),
                    (Some(_), None) => push(out, "MULTIPLE_OF_REMOVED", &at),
                    (Some(x), Some(y)) if x != y => {
                        let divides = |n: f64, d: f64| {
                            d != 0.0 && {
                                let q = n / d;
                                (q - q.round()).abs() < 1e-9
                            }
                        };
                        let kind = if divides(y, x) {
                            "MULTIPLE_OF_EXPANDED"
                        } else if divides(x, y) {
                            "MULTIPLE_OF_REDUCED"
                        } else {
                            "MULTIPLE_OF_CHANGED"
                        };
                        push(out, kind, &at);
                    }
                    _ => {}
                }
                if ai != bi {
                    push(
                        out,
                        if ai { "TYPE_EXTENDED" } else { "TYPE_NARROWED" },
                        path,
                    );
                }
            }
            (Kind::Enum(a), Kind::Enum(b)) => {
                let covers = |x: &[Json], y: &[Json]| y.iter().all(|v| x.contains(v));
                if !(covers(&a, &b) && covers(&b, &a)) {
                    let kind = if covers(&b, &a) {
                        "ENUM_ARRAY_EXTENDED"
                    } else if covers(&a, &b) {
                        "ENUM_ARRAY_NARROWED"
                    } else {
                        "ENUM_ARRAY_CHANGED"
                    };
                    push(out, kind, &format!("{path}/enum"));
                }
            }
            (Kind::Const(a), Kind::Const(b)) if a != b => {
                push(out, "ENUM_ARRAY_CHANGED", &format!("{path}/const"));
            }
            (Kind::Not(a), Kind::Not(b)) => {
                // Refusing less is the compatible direction: the roles swap.
                let at = format!("{path}/not");
                let d = self.sub(u.with(&b), o.with(&a), &at, depth + 1);
                push(
                    out,
                    if all_compatible(&d) {
                        "NOT_TYPE_NARROWED"
                    } else {
                        "NOT_TYPE_EXTENDED"
                    },
                    &at,
                );
            }
            (Kind::Combined(ac, asubs), Kind::Combined(bc, bsubs)) => {
                self.compare_combined(o, u, (ac, &asubs), (bc, &bsubs), path, out, depth);
            }
            (Kind::Object(a), Kind::Object(b)) => {
                self.compare_objects(o, u, &a, &b, path, out, depth)
            }
            (Kind::Array(a), Kind::Array(b)) => self.compare_arrays(o, u, &a, &b, path, out, depth),
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn compare_combined<'s>(
        &self,
        o: Side<'s>,
        u: Side<'s>,
        (ac, asubs): (Criterion, &[Json]),
        (bc, bsubs): (Criterion, &[Json]),
        path: &str,
        out: &mut Vec<Difference>,
        depth: usize,
    ) where
        'a: 's,
    {
        if ac != bc {
            let single = |s: &[Json]| s.len() == 1;
            let extended = bc == Criterion::Any
                || (single(asubs) && single(bsubs))
                || (single(asubs) && bc == Criterion::One)
                || (single(bsubs) && ac == Criterion::All);
            if !extended {
                push(out, "COMBINED_TYPE_CHANGED", path);
                return;
            }
            push(out, "COMBINED_TYPE_EXTENDED", path);
        }
        if asubs.len() < bsubs.len() {
            push(
                out,
                if bc == Criterion::All {
                    "PRODUCT_TYPE_EXTENDED"
                } else {
                    "SUM_TYPE_EXTENDED"
                },
                path,
            );
        } else if asubs.len() > bsubs.len() {
            push(
                out,
                if ac == Criterion::All {
                    "PRODUCT_TYPE_NARROWED"
                } else {
                    "SUM_TYPE_NARROWED"
                },
                path,
            );
        }
        let mut edges = vec![vec![false; bsubs.len()]; asubs.len()];
        let mut found = vec![vec![Vec::new(); bsubs.len()]; asubs.len()];
        for (i, a) in asubs.iter().enumerate() {
            let at = format!("{path}/{}/{i}", ac.keyword());
            for (j, b) in bsubs.iter().enumerate() {
                let d = self.sub(o.with(a), u.with(b), &at, depth + 1);
                if all_compatible(&d) {
                    edges[i][j] = true;
                    found[i][j] = d;
                }
            }
        }
        let matching = max_matching(&edges, bsubs.len());
        for (i, j) in &matching {
            out.append(&mut found[*i][*j]);
        }
        if matching.len() < asubs.len().min(bsubs.len()) {
            push(out, "COMBINED_TYPE_SUBSCHEMAS_CHANGED", path);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn compare_objects<'s>(
        &self,
        o: Side<'s>,
        u: Side<'s>,
        a: &Map<String, Json>,
        b: &Map<String, Json>,
        path: &str,
        out: &mut Vec<Difference>,
        depth: usize,
    ) where
        'a: 's,
    {
        let empty = Map::new();
        let props = |m: &'_ Map<String, Json>| -> Map<String, Json> {
            m.get("properties")
                .and_then(Json::as_object)
                .unwrap_or(&empty)
                .clone()
        };
        let (ap, bp) = (props(a), props(b));
        let (ar, br) = (strings(a.get("required")), strings(b.get("required")));
        // required
        for name in ap.keys() {
            if let Some(bs) = bp.get(name) {
                let at = format!("{path}/required/{name}");
                match (ar.contains(name), br.contains(name)) {
                    (true, false) => push(out, "REQUIRED_ATTRIBUTE_REMOVED", &at),
                    (false, true) if has_default(bs) => {
                        push(out, "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED", &at)
                    }
                    (false, true) => push(out, "REQUIRED_ATTRIBUTE_ADDED", &at),
                    _ => {}
                }
            }
        }
        // properties
        let mut names: Vec<&String> = ap.keys().collect();
        names.extend(bp.keys().filter(|k| !ap.contains_key(*k)));
        for name in names {
            let at = format!("{path}/properties/{name}");
            match (ap.get(name), bp.get(name)) {
                (Some(os), Some(us)) => self.compare(o.with(os), u.with(us), &at, out, depth + 1),
                (Some(os), None) => {
                    if object_is_open(b) {
                        push(out, "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", &at);
                    } else if let Some(partial) = partial_schema(b, name) {
                        let d = self.sub(o.with(os), u.with(partial), &at, depth + 1);
                        let ok = all_compatible(&d);
                        out.extend(d);
                        push(
                            out,
                            if ok {
                                "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                            } else {
                                "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                            },
                            &at,
                        );
                    } else if *os == Json::Bool(false) {
                        push(
                            out,
                            "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
                            &at,
                        );
                    } else {
                        push(out, "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", &at);
                    }
                }
                (None, Some(us)) => {
                    let required = br.contains(name);
                    if object_is_open(a) {
                        let kind = if matches!(kind(us), Kind::Empty) {
                            "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
                        } else if required && has_default(us) {
                            "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL"
                        } else if required {
                            "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
                        } else {
                            "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
                        };
                        push(out, kind, &at);
                    } else {
                        if let Some(partial) = partial_schema(a, name) {
                            let d = self.sub(o.with(partial), u.with(us), &at, depth + 1);
                            let ok = all_compatible(&d);
                            out.extend(d);
                            push(
                                out,
                                if ok {
                                    "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                                } else {
                                    "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                                },
                                &at,
                            );
                        }
                        let kind = if required && has_default(us) {
                            "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
                        } else if required {
                            "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
                        } else {
                            "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
                        };
                        push(out, kind, &at);
                    }
                }
                (None, None) => {}
            }
        }
        // dependencies: arrays of property names, or schemas
        let deps = |m: &Map<String, Json>| -> Map<String, Json> {
            m.get("dependencies")
                .and_then(Json::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let (ad, bd) = (deps(a), deps(b));
        let mut keys: Vec<&String> = ad.keys().collect();
        keys.extend(bd.keys().filter(|k| !ad.contains_key(*k)));
        for key in keys {
            let at = format!("{path}/dependencies/{key}");
            let (x, y) = (ad.get(key), bd.get(key));
            let is_array = |v: Option<&Json>| v.is_some_and(Json::is_array);
            if is_array(x) || is_array(y) {
                let (xs, ys) = (strings(x), strings(y));
                match (x, y) {
                    (_, None) => push(out, "DEPENDENCY_ARRAY_REMOVED", &at),
                    (None, _) => push(out, "DEPENDENCY_ARRAY_ADDED", &at),
                    _ => {
                        let covers = |p: &[String], q: &[String]| q.iter().all(|v| p.contains(v));
                        if !(covers(&xs, &ys) && covers(&ys, &xs)) {
                            let kind = if covers(&ys, &xs) {
                                "DEPENDENCY_ARRAY_EXTENDED"
                            } else if covers(&xs, &ys) {
                                "DEPENDENCY_ARRAY_NARROWED"
                            } else {
                                "DEPENDENCY_ARRAY_CHANGED"
                            };
                            push(out, kind, &at);
                        }
                    }
                }
            } else {
                match (x, y) {
                    (_, None) => push(out, "DEPENDENCY_SCHEMA_REMOVED", &at),
                    (None, _) => push(out, "DEPENDENCY_SCHEMA_ADDED", &at),
                    (Some(x), Some(y)) => self.compare(o.with(x), u.with(y), &at, out, depth + 1),
                }
            }
        }
        // additionalProperties
        let at = format!("{path}/additionalProperties");
        let ((ap_ok, ap_s), (bp_ok, bp_s)) = (
            additional(a, "additionalProperties"),
            additional(b, "additionalProperties"),
        );
        if ap_ok != bp_ok {
            push(
                out,
                if bp_ok {
                    "ADDITIONAL_PROPERTIES_ADDED"
                } else {
                    "ADDITIONAL_PROPERTIES_REMOVED"
                },
                &at,
            );
        } else {
            match (ap_s, bp_s) {
                (None, Some(_)) => push(out, "ADDITIONAL_PROPERTIES_NARROWED", &at),
                (Some(_), None) => push(out, "ADDITIONAL_PROPERTIES_EXTENDED", &at),
                (Some(x), Some(y)) => self.compare(o.with(x), u.with(y), &at, out, depth + 1),
                (None, None) => {}
            }
        }
        for key in ["maxProperties", "minProperties"] {
            compare_limit(a, b, key, limits(key), path, out);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn compare_arrays<'s>(
        &self,
        o: Side<'s>,
        u: Side<'s>,
        a: &Map<String, Json>,
        b: &Map<String, Json>,
        path: &str,
        out: &mut Vec<Difference>,
        depth: usize,
    ) where
        'a: 's,
    {
        // One schema for every item.
        let all = |m: &Map<String, Json>| m.get("items").filter(|i| !i.is_array()).cloned();
        let (ai, bi) = (all(a), all(b));
        self.compare_opt(
            ai.as_ref().map(|s| o.with(s)),
            bi.as_ref().map(|s| u.with(s)),
            &format!("{path}/items"),
            out,
            depth + 1,
        );
        // A tuple: one schema per position.
        let tuple = |m: &Map<String, Json>| {
            m.get("items")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let (at_, bt) = (tuple(a), tuple(b));
        for index in 0..at_.len().max(bt.len()) {
            let at = format!("{path}/items/{index}");
            match (at_.get(index), bt.get(index)) {
                (Some(x), Some(y)) => self.compare(o.with(x), u.with(y), &at, out, depth + 1),
                (Some(x), None) => {
                    if array_is_open(b) {
                        push(out, "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL", &at);
                    } else if let Some(partial) = additional(b, "additionalItems").1 {
                        let d = self.sub(o.with(x), u.with(partial), &at, depth + 1);
                        let ok = all_compatible(&d);
                        out.extend(d);
                        push(
                            out,
                            if ok {
                                "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                            } else {
                                "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                            },
                            &at,
                        );
                    } else if *x == Json::Bool(false) {
                        push(
                            out,
                            "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
                            &at,
                        );
                    } else {
                        push(out, "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL", &at);
                    }
                }
                (None, Some(y)) => {
                    if array_is_open(a) {
                        push(
                            out,
                            if matches!(kind(y), Kind::Empty) {
                                "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
                            } else {
                                "ITEM_ADDED_TO_OPEN_CONTENT_MODEL"
                            },
                            &at,
                        );
                    } else if let Some(partial) = additional(a, "additionalItems").1 {
                        let d = self.sub(o.with(partial), u.with(y), &at, depth + 1);
                        let ok = all_compatible(&d);
                        out.extend(d);
                        push(
                            out,
                            if ok {
                                "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                            } else {
                                "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                            },
                            &at,
                        );
                    } else {
                        push(out, "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL", &at);
                    }
                }
                (None, None) => {}
            }
        }
        // additionalItems
        let at = format!("{path}/additionalItems");
        let ((a_ok, a_s), (b_ok, b_s)) = (
            additional(a, "additionalItems"),
            additional(b, "additionalItems"),
        );
        if a_ok != b_ok {
            push(
                out,
                if a_ok {
                    "ADDITIONAL_ITEMS_REMOVED"
                } else {
                    "ADDITIONAL_ITEMS_ADDED"
                },
                &at,
            );
        } else {
            match (a_s, b_s) {
                (None, Some(_)) => push(out, "ADDITIONAL_ITEMS_NARROWED", &at),
                (Some(_), None) => push(out, "ADDITIONAL_ITEMS_EXTENDED", &at),
                (Some(x), Some(y)) => self.compare(o.with(x), u.with(y), &at, out, depth + 1),
                (None, None) => {}
            }
        }
        for key in ["maxItems", "minItems"] {
            compare_limit(a, b, key, limits(key), path, out);
        }
        let unique = |m: &Map<String, Json>| m.get("uniqueItems") == Some(&Json::Bool(true));
        match (unique(a), unique(b)) {
            (true, false) => push(out, "UNIQUE_ITEMS_REMOVED", &format!("{path}/uniqueItems")),
            (false, true) => push(out, "UNIQUE_ITEMS_ADDED", &format!("{path}/uniqueItems")),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema_registry::compatibility::{check, Earlier};
    use crate::schema_registry::parse::ParsedSchema;
    use crate::schema_registry::types::Compatibility;
    use serde_json::json;

    /// The verdicts of registering `new` after `old` at BACKWARD, FORWARD, FULL and NONE,
    /// each with the messages.
    fn verdicts(old: &Json, new: &Json) -> [(bool, Vec<String>); 4] {
        let (o, n) = (
            ParsedSchema::Json(old.clone()),
            ParsedSchema::Json(new.clone()),
        );
        let text = old.to_string();
        let earlier = [Earlier {
            version: 1,
            text: &text,
            schema: &o,
        }];
        [
            Compatibility::Backward,
            Compatibility::Forward,
            Compatibility::Full,
            Compatibility::None,
        ]
        .map(|level| {
            let msgs = check(level, &n, &earlier);
            (msgs.is_empty(), msgs)
        })
    }

    /// Asserts the verdicts (backward, forward) — FULL is both, NONE always passes — and that
    /// each failing direction names `kinds` (the backward kind first, then the forward one).
    #[track_caller]
    fn expect(old: Json, new: Json, backward: bool, forward: bool, kinds: &[&str]) {
        let [b, f, full, none] = verdicts(&old, &new);
        assert_eq!(b.0, backward, "BACKWARD {old} -> {new}: {:?}", b.1);
        assert_eq!(f.0, forward, "FORWARD {old} -> {new}: {:?}", f.1);
        assert_eq!(
            full.0,
            backward && forward,
            "FULL {old} -> {new}: {:?}",
            full.1
        );
        assert!(none.0);
        let failing: Vec<String> = [b, f].into_iter().flat_map(|v| v.1).collect();
        for kind in kinds {
            assert!(
                failing
                    .iter()
                    .any(|m| m.contains(&format!("errorType:'{kind}'"))),
                "{kind} not in {failing:?}"
            );
        }
    }

    fn object(props: Json, required: &[&str]) -> Json {
        json!({"type": "object", "properties": props, "required": required})
    }

    fn closed(props: Json, required: &[&str]) -> Json {
        json!({"type": "object", "properties": props, "required": required,
               "additionalProperties": false})
    }

    #[test]
    fn properties_added_and_removed_by_content_model() {
        let id = json!({"id": {"type": "integer"}});
        let id_e = json!({"id": {"type": "integer"}, "e": {"type": "string"}});
        // Open: any property may be there already, with any type, so adding one narrows.
        expect(
            object(id.clone(), &["id"]),
            object(id_e.clone(), &["id"]),
            false,
            true,
            &["OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"],
        );
        expect(
            object(id_e.clone(), &["id"]),
            object(id.clone(), &["id"]),
            true,
            false,
            &["OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"],
        );
        expect(
            object(id.clone(), &["id"]),
            object(json!({"id": {"type": "integer"}, "any": {}}), &["id"]),
            true,
            true,
            &[],
        );
        // Closed: adding an optional property is backward compatible, removing one is not.
        expect(
            closed(id.clone(), &["id"]),
            closed(id_e.clone(), &["id"]),
            true,
            false,
            &["PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"],
        );
        expect(
            closed(id.clone(), &["id"]),
            closed(id_e.clone(), &["id", "e"]),
            false,
            false,
            &[
                "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
                "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
            ],
        );
        let with_default =
            json!({"id": {"type": "integer"}, "e": {"type": "string", "default": "x"}});
        expect(
            closed(id.clone(), &["id"]),
            closed(with_default, &["id", "e"]),
            true,
            false,
            &[],
        );
        // Opening or closing the model.
        expect(
            object(id.clone(), &[]),
            closed(id.clone(), &[]),
            false,
            true,
            &["ADDITIONAL_PROPERTIES_REMOVED"],
        );
    }

    #[test]
    fn partially_open_content_models() {
        let strings = |props: Json| {
            json!({"type": "object", "properties": props,
                   "additionalProperties": {"type": "string"}})
        };
        // The removed property still fits the schema of additional properties.
        expect(
            strings(json!({"a": {"type": "string"}, "b": {"type": "string"}})),
            strings(json!({"a": {"type": "string"}})),
            true,
            true,
            &[],
        );
        expect(
            strings(json!({"a": {"type": "string"}, "n": {"type": "integer"}})),
            strings(json!({"a": {"type": "string"}})),
            false,
            false,
            &[
                "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
            ],
        );
        let patterned = |props: Json| {
            json!({"type": "object", "properties": props,
                   "patternProperties": {"^n_": {"type": "integer"}}, "additionalProperties": false})
        };
        expect(
            patterned(json!({"n_1": {"type": "integer"}})),
            patterned(json!({})),
            true,
            true,
            &[],
        );
    }

    #[test]
    fn type_widening_narrowing_and_changes() {
        let int = json!({"type": "integer"});
        let num = json!({"type": "number"});
        expect(int.clone(), num.clone(), true, false, &["TYPE_NARROWED"]);
        expect(
            json!({"type": "string"}),
            int.clone(),
            false,
            false,
            &["TYPE_CHANGED"],
        );
        // Nullable, as Connect's optional fields are written.
        let nullable = json!({"oneOf": [{"type": "null"}, {"type": "integer"}]});
        expect(
            int.clone(),
            nullable.clone(),
            true,
            false,
            &["TYPE_CHANGED"],
        );
        expect(
            int.clone(),
            json!({"type": ["integer", "null"]}),
            true,
            false,
            &[],
        );
        // A union losing a branch.
        let two = json!({"oneOf": [{"type": "string"}, {"type": "integer"}]});
        let one = json!({"oneOf": [{"type": "string"}]});
        expect(
            two.clone(),
            one.clone(),
            false,
            true,
            &["SUM_TYPE_NARROWED"],
        );
        // Connect bytes as a base64 string or as a decimal number: the same data.
        expect(
            json!({"type": "string", "connect.type": "bytes"}),
            json!({"type": "number", "connect.type": "bytes"}),
            true,
            true,
            &[],
        );
        // Annotations do not matter.
        expect(
            json!({"type": "string", "title": "a", "description": "x"}),
            json!({"type": "string", "title": "b", "description": "y"}),
            true,
            true,
            &[],
        );
    }

    #[test]
    fn enum_and_const_changes() {
        let ab = json!({"enum": ["a", "b"]});
        let abc = json!({"enum": ["a", "b", "c"]});
        let ac = json!({"enum": ["a", "c"]});
        expect(
            ab.clone(),
            abc.clone(),
            true,
            false,
            &["ENUM_ARRAY_NARROWED"],
        );
        expect(ab.clone(), ac, false, false, &["ENUM_ARRAY_CHANGED"]);
        // With a type beside it, an enum is one of two constraints that all apply.
        let typed = |values: Json| json!({"type": "string", "enum": values});
        expect(
            typed(json!(["a", "b"])),
            typed(json!(["a", "b", "c"])),
            true,
            false,
            &["COMBINED_TYPE_SUBSCHEMAS_CHANGED"],
        );
        // An enum removed accepts more; one added accepts less.
        expect(
            typed(json!(["a", "b"])),
            json!({"type": "string"}),
            true,
            false,
            &[],
        );
        expect(
            json!({"const": 1}),
            json!({"const": 2}),
            false,
            false,
            &["ENUM_ARRAY_CHANGED"],
        );
    }

    #[test]
    fn required_changes() {
        let props = json!({"id": {"type": "integer"}, "e": {"type": "string"}});
        expect(
            object(props.clone(), &["id"]),
            object(props.clone(), &["id", "e"]),
            false,
            true,
            &["REQUIRED_ATTRIBUTE_ADDED"],
        );
        let with_default =
            json!({"id": {"type": "integer"}, "e": {"type": "string", "default": ""}});
        expect(
            object(with_default.clone(), &["id"]),
            object(with_default, &["id", "e"]),
            true,
            true,
            &[],
        );
    }

    #[test]
    fn string_lengths_and_patterns() {
        let s = |extra: Json| {
            let mut m = json!({"type": "string"});
            m.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            m
        };
        expect(
            s(json!({"maxLength": 10})),
            s(json!({"maxLength": 5})),
            false,
            true,
            &["MAX_LENGTH_DECREASED"],
        );
        expect(
            s(json!({})),
            s(json!({"maxLength": 5})),
            false,
            true,
            &["MAX_LENGTH_ADDED"],
        );
        expect(
            s(json!({"minLength": 1})),
            s(json!({"minLength": 2})),
            false,
            true,
            &["MIN_LENGTH_INCREASED"],
        );
        expect(
            s(json!({"minLength": 2})),
            s(json!({})),
            true,
            false,
            &["MIN_LENGTH_ADDED"],
        );
        expect(
            s(json!({})),
            s(json!({"pattern": "^a"})),
            false,
            true,
            &["PATTERN_ADDED"],
        );
        expect(
            s(json!({"pattern": "^a"})),
            s(json!({"pattern": "^b"})),
            false,
            false,
            &["PATTERN_CHANGED"],
        );
    }

    #[test]
    fn numeric_ranges() {
        let n = |extra: Json| {
            let mut m = json!({"type": "number"});
            m.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            m
        };
        expect(
            n(json!({"maximum": 10})),
            n(json!({"maximum": 5})),
            false,
            true,
            &["MAXIMUM_DECREASED"],
        );
        expect(
            n(json!({"minimum": 0})),
            n(json!({"minimum": 1})),
            false,
            true,
            &["MINIMUM_INCREASED"],
        );
        expect(
            n(json!({"minimum": 1})),
            n(json!({})),
            true,
            false,
            &["MINIMUM_ADDED"],
        );
        expect(
            n(json!({})),
            n(json!({"exclusiveMinimum": 0})),
            false,
            true,
            &["EXCLUSIVE_MINIMUM_ADDED"],
        );
        expect(
            n(json!({"multipleOf": 2})),
            n(json!({"multipleOf": 4})),
            false,
            true,
            &["MULTIPLE_OF_EXPANDED"],
        );
        expect(
            n(json!({"multipleOf": 2})),
            n(json!({"multipleOf": 3})),
            false,
            false,
            &["MULTIPLE_OF_CHANGED"],
        );
    }

    #[test]
    fn array_items() {
        let of = |items: Json| json!({"type": "array", "items": items});
        expect(
            of(json!({"type": "integer"})),
            of(json!({"type": "number"})),
            true,
            false,
            &["TYPE_NARROWED"],
        );
        expect(
            of(json!({"type": "integer"})),
            of(json!({"type": "string"})),
            false,
            false,
            &["TYPE_CHANGED"],
        );
        expect(
            json!({"type": "array"}),
            of(json!({"type": "string"})),
            false,
            true,
            &["SCHEMA_ADDED"],
        );
        expect(
            json!({"type": "array"}),
            json!({"type": "array", "maxItems": 3}),
            false,
            true,
            &["MAX_ITEMS_ADDED"],
        );
        expect(
            json!({"type": "array"}),
            json!({"type": "array", "uniqueItems": true}),
            false,
            true,
            &["UNIQUE_ITEMS_ADDED"],
        );
        // Tuples: an item added to an open tuple narrows, to a closed one widens.
        let tuple = |items: Json, closed: bool| {
            let mut t = json!({"type": "array", "items": items});
            if closed {
                t["additionalItems"] = json!(false);
            }
            t
        };
        let one = json!([{"type": "string"}]);
        let two = json!([{"type": "string"}, {"type": "integer"}]);
        expect(
            tuple(one.clone(), false),
            tuple(two.clone(), false),
            false,
            true,
            &["ITEM_ADDED_TO_OPEN_CONTENT_MODEL"],
        );
        expect(
            tuple(one, true),
            tuple(two, true),
            true,
            false,
            &["ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"],
        );
    }

    #[test]
    fn object_counts_and_dependencies() {
        expect(
            json!({"type": "object", "minProperties": 1}),
            json!({"type": "object", "minProperties": 2}),
            false,
            true,
            &["MIN_PROPERTIES_INCREASED"],
        );
        expect(
            json!({"type": "object"}),
            json!({"type": "object", "dependencies": {"a": ["b"]}}),
            false,
            true,
            &["DEPENDENCY_ARRAY_ADDED"],
        );
    }

    #[test]
    fn nested_schemas_and_local_refs_name_the_path() {
        let v1 = json!({"type": "object", "properties": {
            "address": {"$ref": "#/definitions/Address"}},
            "definitions": {"Address": {"type": "object", "properties": {"zip": {"type": "integer"}}}}});
        let v2 = json!({"type": "object", "properties": {
            "address": {"$ref": "#/definitions/Address"}},
            "definitions": {"Address": {"type": "object", "properties": {"zip": {"type": "string"}}}}});
        let msgs = can_read(&v1, &v2);
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(msgs[0].contains("TYPE_CHANGED"), "{msgs:?}");
        assert!(
            msgs[0].contains("#/properties/address/properties/zip"),
            "{msgs:?}"
        );
        assert!(can_read(&v1, &v1).is_empty());
    }
}
