//! The plugin registry: every connector, task, converter, transformation and predicate class
//! the worker can instantiate, found by Kafka Connect class name or alias. Python plugins are
//! resolved on demand through a [`PluginSource`].

use std::sync::Arc;

use parking_lot::RwLock;
use serde::Serialize;

use super::api::{Connector, Task};
use super::suggest::did_you_mean;
use crate::config::connector::ConnectorType;
use crate::config::ConfigDef;
use crate::convert::{ConverterFactory, HeaderConverterFactory};
use crate::errors::{ConnectError, Result};

/// Plugin kinds, with the names REST uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginType {
    Source,
    Sink,
    Converter,
    HeaderConverter,
    Transformation,
    Predicate,
}

impl PluginType {
    /// The plugin type of a connector class; `None` when its kind is unknown.
    pub fn of_connector(t: ConnectorType) -> Option<PluginType> {
        match t {
            ConnectorType::Source => Some(PluginType::Source),
            ConnectorType::Sink => Some(PluginType::Sink),
            ConnectorType::Unknown => None,
        }
    }
}

/// REST `PluginInfo`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PluginInfo {
    pub class: String,
    #[serde(rename = "type")]
    pub plugin_type: PluginType,
    pub version: String,
    /// Entry-point names of a Python plugin (`orders-source`), which config can use in
    /// place of `class`. Not in Kafka Connect's answer, and left out when empty, so
    /// built-ins are listed exactly as Connect lists them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

pub type ConnectorFactory = Arc<dyn Fn() -> Result<Box<dyn Connector>> + Send + Sync>;
pub type TaskFactory = Arc<dyn Fn() -> Result<Task> + Send + Sync>;
pub use crate::transform::{PredicateFactory, TransformFactory};

/// A connector class.
#[derive(Clone)]
pub struct ConnectorPlugin {
    pub class: String,
    pub aliases: Vec<String>,
    pub version: String,
    pub connector_type: ConnectorType,
    pub new_connector: ConnectorFactory,
}

/// A task class (named by `task.class` in task configs).
#[derive(Clone)]
pub struct TaskPlugin {
    pub class: String,
    pub new_task: TaskFactory,
}

/// A transformation class with its config definition.
#[derive(Clone)]
pub struct TransformPlugin {
    pub class: String,
    pub aliases: Vec<String>,
    pub version: String,
    pub config_def: ConfigDef,
    pub new: TransformFactory,
}

/// A predicate class with its config definition.
#[derive(Clone)]
pub struct PredicatePlugin {
    pub class: String,
    pub aliases: Vec<String>,
    pub version: String,
    pub config_def: ConfigDef,
    pub new: PredicateFactory,
}

/// A converter class; some are also header converters.
#[derive(Clone)]
pub struct ConverterPlugin {
    pub class: String,
    pub aliases: Vec<String>,
    pub version: String,
    pub new: Option<ConverterFactory>,
    pub new_header: Option<HeaderConverterFactory>,
}

/// A source of plugins resolved at lookup time (Python classes and entry points).
/// `None` means "not mine"; `Some(Err(..))` means "mine, but it failed to load".
pub trait PluginSource: Send + Sync {
    fn connector(&self, name: &str) -> Option<Result<ConnectorPlugin>>;
    fn task(&self, name: &str) -> Option<Result<TaskPlugin>>;
    fn transform(&self, name: &str) -> Option<Result<TransformPlugin>>;
    fn predicate(&self, name: &str) -> Option<Result<PredicatePlugin>>;
    fn converter(&self, name: &str) -> Option<Result<ConverterPlugin>>;
    /// Plugins this source can list (for example, registered entry points).
    fn list(&self) -> Vec<PluginInfo>;
}

/// Default aliases for a class: its simple name and the simple name without `suffix`
/// (Kafka Connect's `PluginUtils.simpleName` / `prunedName`).
pub fn default_aliases(class: &str, suffix: &str) -> Vec<String> {
    let simple = class.rsplit('.').next().unwrap_or(class).to_string();
    let mut out = vec![simple.clone()];
    if let Some(pruned) = simple.strip_suffix(suffix) {
        if !pruned.is_empty() {
            out.push(pruned.to_string());
        }
    }
    out
}

/// The aliases worth suggesting besides the class itself: not its simple name, which the
/// suggestions already compare the class by (`InsertField$Key` for
/// `...transforms.InsertField$Key`), so that one plugin is not suggested twice.
fn extra_aliases<'a>(class: &'a str, aliases: &'a [String]) -> impl Iterator<Item = &'a String> {
    let simple = class.rsplit('.').next().unwrap_or(class);
    aliases.iter().filter(move |a| a.as_str() != simple)
}

fn matches(class: &str, aliases: &[String], name: &str) -> bool {
    class == name || aliases.iter().any(|a| a == name)
}

/// Every plugin the worker knows.
#[derive(Default)]
pub struct PluginRegistry {
    connectors: Vec<ConnectorPlugin>,
    tasks: Vec<TaskPlugin>,
    transforms: Vec<TransformPlugin>,
    predicates: Vec<PredicatePlugin>,
    converters: Vec<ConverterPlugin>,
    sources: RwLock<Vec<Arc<dyn PluginSource>>>,
}

impl PluginRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_connector(&mut self, p: ConnectorPlugin) {
        self.connectors.push(p);
    }

    pub fn add_task(&mut self, p: TaskPlugin) {
        self.tasks.push(p);
    }

    pub fn add_transform(&mut self, p: TransformPlugin) {
        self.transforms.push(p);
    }

    pub fn add_predicate(&mut self, p: PredicatePlugin) {
        self.predicates.push(p);
    }

    pub fn add_converter(&mut self, p: ConverterPlugin) {
        self.converters.push(p);
    }

    /// Adds a dynamic source (checked after the built-ins).
    pub fn add_source(&self, source: Arc<dyn PluginSource>) {
        self.sources.write().push(source);
    }

    fn find_in_sources<T>(
        &self,
        f: impl Fn(&dyn PluginSource) -> Option<Result<T>>,
    ) -> Option<Result<T>> {
        self.sources.read().iter().find_map(|s| f(s.as_ref()))
    }

    /// The connector class called `name`, or an error listing the available ones.
    pub fn connector(&self, name: &str) -> Result<ConnectorPlugin> {
        let name = name.trim();
        if let Some(p) = self
            .connectors
            .iter()
            .find(|p| matches(&p.class, &p.aliases, name))
        {
            return Ok(p.clone());
        }
        if let Some(r) = self.find_in_sources(|s| s.connector(name)) {
            return r;
        }
        let listed: Vec<PluginInfo> = self
            .list()
            .into_iter()
            .filter(|p| matches!(p.plugin_type, PluginType::Source | PluginType::Sink))
            .collect();
        let available: Vec<&str> = listed.iter().map(|p| p.class.as_str()).collect();
        let known = listed
            .iter()
            .flat_map(|p| p.aliases.iter())
            .chain(
                self.connectors
                    .iter()
                    .flat_map(|c| extra_aliases(&c.class, &c.aliases)),
            )
            .map(String::as_str)
            .chain(available.iter().copied());
        Err(ConnectError::Config(format!(
            "Failed to find any class that implements Connector and which name matches {name}, available connectors are: {}{}",
            available.join(", "),
            did_you_mean(name, known)
        )))
    }

    /// The task class called `name`.
    pub fn task(&self, name: &str) -> Result<TaskPlugin> {
        let name = name.trim();
        if let Some(p) = self.tasks.iter().find(|p| p.class == name) {
            return Ok(p.clone());
        }
        if let Some(r) = self.find_in_sources(|s| s.task(name)) {
            return r;
        }
        Err(ConnectError::Config(format!(
            "Failed to find any class that implements Task and which name matches {name}"
        )))
    }

    pub fn transform(&self, name: &str) -> Result<TransformPlugin> {
        let name = name.trim();
        if let Some(p) = self
            .transforms
            .iter()
            .find(|p| matches(&p.class, &p.aliases, name))
        {
            return Ok(p.clone());
        }
        if let Some(r) = self.find_in_sources(|s| s.transform(name)) {
            return r;
        }
        let suggestion = self.suggest(
            name,
            |t| matches!(t, PluginType::Transformation),
            |k| {
                self.transforms
                    .iter()
                    .flat_map(|t| extra_aliases(&t.class, &t.aliases))
                    .for_each(|a| k.push(a.clone()))
            },
        );
        Err(ConnectError::Config(format!(
            "Class {name} could not be found. Available transformations: {}{suggestion}",
            self.transforms
                .iter()
                .map(|t| t.class.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    pub fn predicate(&self, name: &str) -> Result<PredicatePlugin> {
        let name = name.trim();
        if let Some(p) = self
            .predicates
            .iter()
            .find(|p| matches(&p.class, &p.aliases, name))
        {
            return Ok(p.clone());
        }
        if let Some(r) = self.find_in_sources(|s| s.predicate(name)) {
            return r;
        }
        let suggestion = self.suggest(
            name,
            |t| matches!(t, PluginType::Predicate),
            |k| {
                self.predicates
                    .iter()
                    .flat_map(|t| extra_aliases(&t.class, &t.aliases))
                    .for_each(|a| k.push(a.clone()))
            },
        );
        Err(ConnectError::Config(format!(
            "Class {name} could not be found. Available predicates: {}{suggestion}",
            self.predicates
                .iter()
                .map(|t| t.class.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    pub fn converter(&self, name: &str) -> Result<ConverterPlugin> {
        let name = name.trim();
        if let Some(p) = self
            .converters
            .iter()
            .find(|p| matches(&p.class, &p.aliases, name))
        {
            return Ok(p.clone());
        }
        if let Some(r) = self.find_in_sources(|s| s.converter(name)) {
            return r;
        }
        let suggestion = self.suggest(
            name,
            |t| matches!(t, PluginType::Converter | PluginType::HeaderConverter),
            |k| {
                self.converters
                    .iter()
                    .flat_map(|t| extra_aliases(&t.class, &t.aliases))
                    .for_each(|a| k.push(a.clone()))
            },
        );
        Err(ConnectError::Config(format!(
            "Class {name} could not be found. Available converters: {}{suggestion}",
            self.converters
                .iter()
                .map(|t| t.class.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    /// ` Did you mean ...?` for `name` among the listed plugins whose type passes `of_type`
    /// (with their aliases) and the built-in aliases `builtin_aliases` adds.
    fn suggest(
        &self,
        name: &str,
        of_type: impl Fn(PluginType) -> bool,
        builtin_aliases: impl FnOnce(&mut Vec<String>),
    ) -> String {
        let mut known: Vec<String> = Vec::new();
        for info in self.list() {
            if of_type(info.plugin_type) {
                known.push(info.class);
                known.extend(info.aliases);
            }
        }
        builtin_aliases(&mut known);
        did_you_mean(name, known.iter().map(String::as_str))
    }

    /// Every listable plugin, built-ins first, sorted by type then class within each group.
    pub fn list(&self) -> Vec<PluginInfo> {
        let mut out: Vec<PluginInfo> = Vec::new();
        for c in &self.connectors {
            if let Some(plugin_type) = PluginType::of_connector(c.connector_type) {
                out.push(PluginInfo {
                    class: c.class.clone(),
                    plugin_type,
                    version: c.version.clone(),
                    aliases: Vec::new(),
                });
            }
        }
        for c in &self.converters {
            if c.new.is_some() {
                out.push(PluginInfo {
                    class: c.class.clone(),
                    plugin_type: PluginType::Converter,
                    version: c.version.clone(),
                    aliases: Vec::new(),
                });
            }
            if c.new_header.is_some() {
                out.push(PluginInfo {
                    class: c.class.clone(),
                    plugin_type: PluginType::HeaderConverter,
                    version: c.version.clone(),
                    aliases: Vec::new(),
                });
            }
        }
        for t in &self.transforms {
            out.push(PluginInfo {
                class: t.class.clone(),
                plugin_type: PluginType::Transformation,
                version: t.version.clone(),
                aliases: Vec::new(),
            });
        }
        for p in &self.predicates {
            out.push(PluginInfo {
                class: p.class.clone(),
                plugin_type: PluginType::Predicate,
                version: p.version.clone(),
                aliases: Vec::new(),
            });
        }
        for s in self.sources.read().iter() {
            for info in s.list() {
                if !out
                    .iter()
                    .any(|o| o.class == info.class && o.plugin_type == info.plugin_type)
                {
                    out.push(info);
                }
            }
        }
        out.sort_by(|a, b| (a.plugin_type as u8, &a.class).cmp(&(b.plugin_type as u8, &b.class)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_follow_connect() {
        assert_eq!(
            default_aliases(
                "org.apache.kafka.connect.file.FileStreamSourceConnector",
                "Connector"
            ),
            vec!["FileStreamSourceConnector", "FileStreamSource"]
        );
        assert_eq!(default_aliases("Plain", "Connector"), vec!["Plain"]);
    }
}
