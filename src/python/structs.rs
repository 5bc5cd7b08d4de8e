//! `conveyor.Struct`: an immutable structured value with a struct schema (Kafka Connect's
//! `Struct`). It reads like a read-only dict of its fields.

use pyo3::basic::CompareOp;
use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use super::errors::data_error;
use super::schema::PySchema;
use super::values::{to_py, to_struct, to_value, Path};
use crate::data::{SchemaType, Struct, Value};

/// A value of a struct schema. Build it from a dict or keyword arguments; it is checked
/// against the schema (types, required fields) when built.
#[pyclass(frozen, module = "conveyor", name = "Struct", mapping)]
pub struct PyStruct {
    pub value: Struct,
}

fn field_value<'py>(py: Python<'py>, s: &Struct, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let field = s
        .schema()
        .field(name)
        .ok_or_else(|| PyKeyError::new_err(name.to_string()))?;
    let v = s.get(name).unwrap_or(&Value::Null);
    to_py(py, v, Some(&field.schema))
}

/// `Struct` -> plain dicts, recursively (for `to_dict`).
fn plain<'py>(py: Python<'py>, obj: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(s) = obj.cast::<PyStruct>() {
        return Ok(s.get().to_dict(py)?.into_any());
    }
    if let Ok(l) = obj.cast::<PyList>() {
        let out = PyList::empty(py);
        for item in l.iter() {
            out.append(plain(py, item)?)?;
        }
        return Ok(out.into_any());
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let out = PyDict::new(py);
        for (k, v) in d.iter() {
            out.set_item(k, plain(py, v)?)?;
        }
        return Ok(out.into_any());
    }
    Ok(obj)
}

#[pymethods]
impl PyStruct {
    /// `Struct(schema, {"id": 1})` or `Struct(schema, id=1)`.
    #[new]
    #[pyo3(signature = (schema, values=None, **fields))]
    fn new(
        schema: PyRef<'_, PySchema>,
        values: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let py = schema.py();
        if schema.schema.schema_type != SchemaType::Struct {
            return Err(PyTypeError::new_err(format!(
                "Struct needs a struct schema, got {}",
                schema.schema.describe()
            )));
        }
        let merged = PyDict::new(py);
        if let Some(v) = values.filter(|v| !v.is_none()) {
            merged.update(v.cast::<pyo3::types::PyMapping>().map_err(|_| {
                PyTypeError::new_err("Struct values must be a dict of field name to value")
            })?)?;
        }
        if let Some(f) = fields {
            merged.update(f.as_mapping())?;
        }
        Ok(PyStruct {
            value: to_struct(merged.as_any(), &schema.schema, &Path::Root("struct"))?,
        })
    }

    /// The struct schema.
    #[getter]
    fn schema(&self) -> PySchema {
        PySchema {
            schema: self.value.schema().clone(),
        }
    }

    fn __getitem__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        field_value(py, &self.value, name)
    }

    /// The value of field `name`, or `default` when there is no such field.
    #[pyo3(signature = (name, default=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if self.value.schema().field(name).is_none() {
            return Ok(default.unwrap_or_else(|| py.None().into_bound(py)));
        }
        field_value(py, &self.value, name)
    }

    fn __contains__(&self, name: &str) -> bool {
        self.value.schema().field(name).is_some()
    }

    fn __len__(&self) -> usize {
        self.value.schema().fields.len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.keys(py)?.into_any().try_iter().map(|i| i.into_any())
    }

    /// Field names, in schema order.
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(
            py,
            self.value.schema().fields.iter().map(|f| f.name.as_str()),
        )
    }

    /// Field values, in schema order.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for f in &self.value.schema().fields {
            out.append(field_value(py, &self.value, &f.name)?)?;
        }
        Ok(out)
    }

    /// `(name, value)` pairs, in schema order.
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for f in &self.value.schema().fields {
            out.append(PyTuple::new(
                py,
                [
                    f.name.clone().into_pyobject(py)?.into_any(),
                    field_value(py, &self.value, &f.name)?,
                ],
            )?)?;
        }
        Ok(out)
    }

    /// The fields as a plain `dict`, nested structs included.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for f in &self.value.schema().fields {
            out.set_item(&f.name, plain(py, field_value(py, &self.value, &f.name)?)?)?;
        }
        Ok(out)
    }

    /// A copy with some fields changed (checked against the schema).
    #[pyo3(signature = (**changes))]
    fn replace(&self, py: Python<'_>, changes: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut value = self.value.clone();
        if let Some(changes) = changes {
            for (k, v) in changes.iter() {
                let name: String = k.extract()?;
                let field = value.schema().field(&name).cloned().ok_or_else(|| {
                    data_error(
                        py,
                        format!("'{name}' is not a field of {}", value.schema().describe()),
                    )
                })?;
                let root = Path::Root("struct");
                let converted = to_value(&v, &field.schema, &Path::Field(&root, &name))?;
                value.put_unchecked(field.index, converted);
            }
        }
        value
            .validate()
            .map_err(|e| data_error(py, format!("struct: {e}")))?;
        Ok(PyStruct { value })
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Ok(other) = other.cast::<PyStruct>() else {
            return Ok(py.NotImplemented());
        };
        let equal = self.value == other.get().value;
        match op {
            CompareOp::Eq => Ok(equal.into_pyobject(py)?.to_owned().into_any().unbind()),
            CompareOp::Ne => Ok((!equal).into_pyobject(py)?.to_owned().into_any().unbind()),
            _ => Ok(py.NotImplemented()),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let d = self.to_dict(py)?;
        let name = self
            .value
            .schema()
            .name
            .as_deref()
            .map(|n| format!("{n}, "))
            .unwrap_or_default();
        Ok(format!("Struct({name}{})", d.repr()?))
    }
}
