//! The SMT chain of a connector: `transforms=a,b` with `transforms.a.type`, optional
//! `transforms.a.predicate` and `transforms.a.negate` (Connect's `TransformationChain` and
//! `TransformationStage`). Records go through a stage a batch at a time, so a Python SMT
//! crosses the FFI boundary once per batch.

use crate::config::def::{split_list, with_prefix};
use crate::config::ConfigMap;
use crate::data::Record;
use crate::errors::{ConnectError, Result};
use crate::plugin::{PluginRegistry, Predicate, Transformation};

/// A stage that failed on a record.
#[derive(Debug, Clone)]
pub struct TransformFailure {
    /// The transformation (or predicate) class that failed.
    pub class: String,
    pub error: ConnectError,
}

struct ConditionalPredicate {
    predicate: Box<dyn Predicate>,
    class: String,
    negate: bool,
}

struct TransformStage {
    class: String,
    transform: Box<dyn Transformation>,
    predicate: Option<ConditionalPredicate>,
}

/// Transformations applied in order.
#[derive(Default)]
pub struct TransformChain {
    stages: Vec<TransformStage>,
    reads_source_offsets: bool,
}

/// Keys of a transform or predicate config that belong to the runtime, not the plugin.
const STAGE_KEYS: &[&str] = &["type", "predicate", "negate"];

/// The plugin's own config: `transforms.<alias>.*` minus the runtime's keys.
pub fn stage_config(raw: &ConfigMap, prefix: &str) -> ConfigMap {
    with_prefix(raw, prefix)
        .into_iter()
        .filter(|(k, _)| !STAGE_KEYS.contains(&k.as_str()))
        .collect()
}

impl TransformChain {
    /// Builds the chain a connector config describes.
    pub fn build(raw: &ConfigMap, registry: &PluginRegistry) -> Result<TransformChain> {
        let aliases = raw
            .get("transforms")
            .map(|s| split_list(s))
            .unwrap_or_default();
        let mut stages = Vec::new();
        for alias in aliases {
            let prefix = format!("transforms.{alias}.");
            let class = raw.get(&format!("{prefix}type")).map(|s| s.trim().to_string()).ok_or_else(|| {
                ConnectError::Config(format!("Missing required configuration \"{prefix}type\" which has no default value."))
            })?;
            let plugin = registry.transform(&class)?;
            let transform = (plugin.new)(&stage_config(raw, &prefix))
                .map_err(|e| e.context(format!("transform {alias} ({class})")))?;
            let predicate = match raw
                .get(&format!("{prefix}predicate"))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
            {
                None => None,
                Some(p_alias) => {
                    let p_prefix = format!("predicates.{p_alias}.");
                    let p_class = raw.get(&format!("{p_prefix}type")).map(|s| s.trim().to_string()).ok_or_else(|| {
                        ConnectError::Config(format!(
                            "Missing required configuration \"{p_prefix}type\" which has no default value."
                        ))
                    })?;
                    let p_plugin = registry.predicate(&p_class)?;
                    let predicate = (p_plugin.new)(&stage_config(raw, &p_prefix))
                        .map_err(|e| e.context(format!("predicate {p_alias} ({p_class})")))?;
                    let negate = raw
                        .get(&format!("{prefix}negate"))
                        .map(|v| v.trim().eq_ignore_ascii_case("true"))
                        .unwrap_or(false);
                    Some(ConditionalPredicate {
                        predicate,
                        class: p_plugin.class,
                        negate,
                    })
                }
            };
            stages.push(TransformStage {
                class: plugin.class,
                transform,
                predicate,
            });
        }
        let reads_source_offsets = stages.iter().any(|s| {
            s.transform.reads_source_offset()
                || s.predicate
                    .as_ref()
                    .is_some_and(|p| p.predicate.reads_source_offset())
        });
        Ok(TransformChain {
            stages,
            reads_source_offsets,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Whether a stage (transformation or predicate) reads source records' offsets.
    pub fn reads_source_offsets(&self) -> bool {
        self.reads_source_offsets
    }

    /// Runs a batch through every stage. Each result is the transformed record, `None` when a
    /// stage dropped it, or the stage that failed.
    pub fn apply(&mut self, records: Vec<Record>) -> Vec<Result<Option<Record>, TransformFailure>> {
        let mut slots: Vec<Result<Option<Record>, TransformFailure>> =
            records.into_iter().map(|r| Ok(Some(r))).collect();
        for stage in &mut self.stages {
            let mut indices = Vec::new();
            let mut batch = Vec::new();
            for (i, slot) in slots.iter_mut().enumerate() {
                let Ok(Some(record)) = slot else { continue };
                let applies = match &mut stage.predicate {
                    None => Ok(true),
                    Some(p) => p
                        .predicate
                        .test(record)
                        .map(|t| t != p.negate)
                        .map_err(|error| TransformFailure {
                            class: p.class.clone(),
                            error,
                        }),
                };
                match applies {
                    Ok(true) => {
                        if let Ok(Some(r)) = std::mem::replace(slot, Ok(None)) {
                            indices.push(i);
                            batch.push(r);
                        }
                    }
                    Ok(false) => {}
                    Err(f) => *slot = Err(f),
                }
            }
            if batch.is_empty() {
                continue;
            }
            let results = stage.transform.apply_batch(batch);
            for (i, r) in indices.into_iter().zip(results) {
                slots[i] = r.map_err(|error| TransformFailure {
                    class: stage.class.clone(),
                    error,
                });
            }
        }
        slots
    }

    /// Closes every transformation and predicate.
    pub fn close(&mut self) {
        for s in &mut self.stages {
            s.transform.close();
            if let Some(p) = &mut s.predicate {
                p.predicate.close();
            }
        }
    }
}
