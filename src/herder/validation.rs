//! Connector config validation shared by both herders (Kafka Connect's
//! `AbstractHerder.validateConnectorConfig`): the common keys, the transforms and predicates,
//! and the connector's own keys, with Connect's error texts.

use std::sync::Arc;

use crate::config::connector::{
    check_name, common_def, cross_check, exactly_once_required, ConnectorType, TransactionBoundary,
    CONNECTOR_CLASS, EXACTLY_ONCE_SUPPORT, NAME, TASKS_MAX, TRANSACTION_BOUNDARY,
};
use crate::config::def::split_list;
use crate::config::worker::WORKER_TASKS_MAX;
use crate::config::worker::{ExactlyOnceSourceSupport, STANDALONE_EXACTLY_ONCE_REFUSED};
use crate::config::{ConfigDef, ConfigInfo, ConfigKey, ConfigMap, ConfigType, Importance};
use crate::errors::{ConnectError, Result};
use crate::plugin::PluginRegistry;
use crate::plugin::{ConnectorTransactionBoundaries, ExactlyOnceSupport};
use crate::runtime::transform_chain::stage_config;

use super::types::ConfigInfos;

/// [`validate_connector_config`] on a blocking thread. Validating may import a Python
/// plugin's module and runs its `validate`: user code that must never stall the async
/// runtime's threads, which serve the REST API and the herder.
pub async fn validate_off_runtime(
    registry: Arc<PluginRegistry>,
    config: ConfigMap,
    worker_tasks_max: usize,
    exactly_once: Option<ExactlyOnceSourceSupport>,
) -> Result<ConfigInfos> {
    tokio::task::spawn_blocking(move || {
        validate_connector_config_with(&registry, &config, worker_tasks_max, exactly_once)
    })
    .await
    .map_err(|e| ConnectError::Other(format!("validating the connector config failed: {e}")))?
}

/// Validates a connector config. Unknown connector classes are a 400 that lists the
/// available connectors (Kafka Connect answers 500 here). A `tasks.max` above the worker's
/// `worker.tasks.max` is an error on `tasks.max`.
pub fn validate_connector_config(
    registry: &PluginRegistry,
    config: &ConfigMap,
    worker_tasks_max: usize,
) -> Result<ConfigInfos> {
    validate_connector_config_with(registry, config, worker_tasks_max, None)
}

/// [`validate_connector_config`] on a worker in `exactly_once` mode (`None`: standalone),
/// which decides what `exactly.once.support=required` is checked against.
pub fn validate_connector_config_with(
    registry: &PluginRegistry,
    config: &ConfigMap,
    worker_tasks_max: usize,
    exactly_once: Option<ExactlyOnceSourceSupport>,
) -> Result<ConfigInfos> {
    let class = config
        .get(CONNECTOR_CLASS)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ConnectError::BadRequest(format!(
                "Connector config {} contains no connector type",
                crate::config::display_masked(config, &[])
            ))
        })?;
    let plugin = registry
        .connector(class)
        .map_err(|e| ConnectError::BadRequest(e.to_string()))?;
    let connector = (plugin.new_connector)()?;

    let mut infos: Vec<ConfigInfo> = Vec::new();
    let mut groups: Vec<String> = Vec::new();

    // Common keys, plus transforms.*/predicates.* definitions.
    let mut def = common_def(Some(plugin.connector_type));
    let mut stage_errors: Vec<(String, String)> = Vec::new();
    add_stage_defs(registry, config, &mut def, &mut stage_errors);
    let mut common = def.validate(config);
    stage_errors.extend(cross_check(config, Some(plugin.connector_type)));
    // The name as given, not trimmed: a name that ends in a newline would still be refused.
    if let Some(Err(e)) = config.get(NAME).map(|n| check_name(n)) {
        stage_errors.extend(e.0.into_iter().map(|m| (NAME.to_string(), m)));
    }
    stage_errors
        .extend(tasks_max_over_limit(config, worker_tasks_max).map(|e| (TASKS_MAX.to_string(), e)));
    for (key, err) in stage_errors {
        if let Some(info) = common.iter_mut().find(|i| i.value.name == key) {
            if !info.value.errors.contains(&err) {
                info.value.errors.push(err);
            }
        }
    }
    for g in def.groups() {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    infos.append(&mut common);

    // The connector's own keys.
    let own_def = connector.config_def();
    for g in own_def.groups() {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    for info in connector.validate(config) {
        if !infos.iter().any(|i| i.value.name == info.value.name) {
            infos.push(info);
        }
    }
    if plugin.connector_type == ConnectorType::Source {
        check_exactly_once(connector.as_ref(), config, exactly_once, &mut infos);
    }
    let error_count = infos.iter().map(|i| i.value.errors.len()).sum();
    Ok(ConfigInfos {
        name: plugin.class,
        error_count,
        groups,
        configs: infos,
    })
}

/// Connect's `exactly.once.support=required` preflight check.
pub const EOS_NOT_ENABLED: &str = "This worker does not have exactly-once source support enabled.";
/// The connector said it cannot deliver exactly once with this config.
pub const EOS_UNSUPPORTED: &str =
    "The connector does not support exactly-once semantics with the provided configuration.";
/// The connector does not say whether it can deliver exactly once.
pub const EOS_NOT_IMPLEMENTED: &str = "The connector does not implement the API required for \
preflight validation of exactly-once source support. Please consult the documentation for the \
connector to determine whether it supports exactly-once semantics, and then consider \
reconfiguring the connector to use the value \"requested\" for this property (which will \
disable this preflight check and allow the connector to be created).";
/// `transaction.boundary=connector` for a connector that cannot define boundaries.
pub const BOUNDARIES_UNSUPPORTED: &str = "The connector does not support connector-defined \
transaction boundaries with the given configuration. Please reconfigure it to use a different \
transaction boundary definition.";

/// Adds Connect's errors for `exactly.once.support=required` and
/// `transaction.boundary=connector` (`DistributedHerder.validateSourceConnectorConfig`); only
/// keys whose value is otherwise valid are checked.
fn check_exactly_once(
    connector: &dyn crate::plugin::Connector,
    config: &ConfigMap,
    exactly_once: Option<ExactlyOnceSourceSupport>,
    infos: &mut [ConfigInfo],
) {
    fn add(infos: &mut [ConfigInfo], key: &str, errors: Vec<String>) {
        if let Some(info) = infos
            .iter_mut()
            .find(|i| i.value.name == key && i.value.errors.is_empty())
        {
            info.value.errors.extend(errors);
        }
    }
    if exactly_once_required(config) {
        match exactly_once {
            None => add(
                infos,
                EXACTLY_ONCE_SUPPORT,
                vec![STANDALONE_EXACTLY_ONCE_REFUSED.to_string()],
            ),
            Some(mode) => {
                let mut errors = Vec::new();
                if mode != ExactlyOnceSourceSupport::Enabled {
                    errors.push(EOS_NOT_ENABLED.to_string());
                }
                match connector.exactly_once_support(config) {
                    Ok(Some(ExactlyOnceSupport::Supported)) => {}
                    Ok(Some(ExactlyOnceSupport::Unsupported)) => {
                        errors.push(EOS_UNSUPPORTED.to_string())
                    }
                    Ok(None) => errors.push(EOS_NOT_IMPLEMENTED.to_string()),
                    Err(e) => errors.push(format!(
                        "Failed while validating connector support for exactly-once semantics: {e}"
                    )),
                }
                // Both errors go on the key, as Connect adds each in turn.
                add(infos, EXACTLY_ONCE_SUPPORT, errors);
            }
        }
    }
    if TransactionBoundary::of(config) == TransactionBoundary::Connector
        && config.contains_key(TRANSACTION_BOUNDARY)
    {
        match connector.can_define_transaction_boundaries(config) {
            Ok(ConnectorTransactionBoundaries::Supported) => {}
            Ok(ConnectorTransactionBoundaries::Unsupported) => {
                add(infos, TRANSACTION_BOUNDARY, vec![BOUNDARIES_UNSUPPORTED.to_string()])
            }
            Err(e) => add(
                infos,
                TRANSACTION_BOUNDARY,
                vec![format!("Failed while validating connector support for defining its own transaction boundaries: {e}")],
            ),
        }
    }
}

/// The error for a `tasks.max` that is more than the worker may run, if it is.
pub fn tasks_max_over_limit(config: &ConfigMap, worker_tasks_max: usize) -> Option<String> {
    let value = config.get(TASKS_MAX)?.trim();
    // A value that is not an INT is ConfigDef's error already.
    let asked = value.parse::<i32>().ok()?;
    (i64::from(asked) > worker_tasks_max as i64).then(|| {
        format!(
            "Invalid value {value} for configuration {TASKS_MAX}: this worker runs at most \
             {worker_tasks_max} tasks ({WORKER_TASKS_MAX}); lower {TASKS_MAX}, or raise \
             {WORKER_TASKS_MAX} in the worker config if the worker can hold that many tasks"
        )
    })
}

/// Adds `transforms.<alias>.*` and `predicates.<alias>.*` keys, and errors for aliases whose
/// class cannot be found.
fn add_stage_defs(
    registry: &PluginRegistry,
    config: &ConfigMap,
    def: &mut ConfigDef,
    errors: &mut Vec<(String, String)>,
) {
    let predicate_aliases = config
        .get("predicates")
        .map(|s| split_list(s))
        .unwrap_or_default();
    for alias in config
        .get("transforms")
        .map(|s| split_list(s))
        .unwrap_or_default()
    {
        let prefix = format!("transforms.{alias}.");
        let group = format!("Transforms: {alias}");
        let type_key = format!("{prefix}type");
        def.add(
            ConfigKey::new(&type_key, ConfigType::Class)
                .importance(Importance::High)
                .doc("Class for the 'transforms' transformation.")
                .group(&group, 0),
        );
        def.add(
            ConfigKey::new(format!("{prefix}predicate"), ConfigType::String)
                .default_value("")
                .importance(Importance::Medium)
                .doc("The alias of a predicate used to determine whether to apply this transformation.")
                .group(&group, 1),
        );
        def.add(
            ConfigKey::new(format!("{prefix}negate"), ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Medium)
                .doc("Whether the configured predicate should be negated.")
                .group(&group, 2),
        );
        if let Some(p) = config
            .get(&format!("{prefix}predicate"))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            if !predicate_aliases.iter().any(|a| a == p) {
                errors.push((
                    format!("{prefix}predicate"),
                    format!("Invalid value {p} for configuration {prefix}predicate: the predicate alias is not listed in 'predicates'"),
                ));
            }
        }
        if let Some(class) = config
            .get(&type_key)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            match registry.transform(class) {
                Ok(plugin) => {
                    def.embed(&prefix, &group, 3, &plugin.config_def);
                    if let Err(e) = (plugin.new)(&stage_config(config, &prefix)) {
                        errors.push((
                            type_key.clone(),
                            format!("Invalid value {class} for configuration {type_key}: {e}"),
                        ));
                    }
                }
                Err(e) => errors.push((
                    type_key.clone(),
                    format!("Invalid value {class} for configuration {type_key}: {e}"),
                )),
            }
        }
    }
    for alias in predicate_aliases {
        let prefix = format!("predicates.{alias}.");
        let group = format!("Predicates: {alias}");
        let type_key = format!("{prefix}type");
        def.add(
            ConfigKey::new(&type_key, ConfigType::Class)
                .importance(Importance::High)
                .doc("Class for the 'predicates' predicate.")
                .group(&group, 0),
        );
        if let Some(class) = config
            .get(&type_key)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            match registry.predicate(class) {
                Ok(plugin) => {
                    def.embed(&prefix, &group, 1, &plugin.config_def);
                    if let Err(e) = (plugin.new)(&stage_config(config, &prefix)) {
                        errors.push((
                            type_key.clone(),
                            format!("Invalid value {class} for configuration {type_key}: {e}"),
                        ));
                    }
                }
                Err(e) => errors.push((
                    type_key.clone(),
                    format!("Invalid value {class} for configuration {type_key}: {e}"),
                )),
            }
        }
    }
}

/// Connect's 400 text for an invalid config.
pub fn invalid_config_message(infos: &ConfigInfos) -> String {
    let errors = infos.error_messages();
    format!(
        "Connector configuration is invalid and contains the following {} error(s):\n{}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`",
        errors.len(),
        errors.join("\n")
    )
}

/// The connector type for a config, from its class.
pub fn connector_type_of(registry: &PluginRegistry, config: &ConfigMap) -> Option<ConnectorType> {
    let class = config.get(CONNECTOR_CLASS)?;
    registry.connector(class).ok().map(|p| p.connector_type)
}

/// Names of the PASSWORD keys of a connector config (common, connector and SMT keys), and of
/// the keys that are secrets by name whatever reads them (client overrides such as
/// `producer.override.sasl.jaas.config`, see [`crate::config::is_secret_key`]).
pub fn password_keys(registry: &PluginRegistry, config: &ConfigMap) -> Vec<String> {
    let mut out: Vec<String> = config
        .keys()
        .filter(|k| crate::config::is_secret_key(k))
        .cloned()
        .collect();
    if let Some(class) = config.get(CONNECTOR_CLASS) {
        if let Ok(plugin) = registry.connector(class) {
            if let Ok(c) = (plugin.new_connector)() {
                out.extend(c.config_def().password_keys().map(String::from));
            }
        }
    }
    for alias in config
        .get("transforms")
        .map(|s| split_list(s))
        .unwrap_or_default()
    {
        let prefix = format!("transforms.{alias}.");
        if let Some(class) = config.get(&format!("{prefix}type")) {
            if let Ok(p) = registry.transform(class) {
                out.extend(p.config_def.password_keys().map(|k| format!("{prefix}{k}")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::builtin_registry;

    use crate::config::test_support::map;

    fn errors_of(infos: &ConfigInfos, key: &str) -> Vec<String> {
        infos
            .configs
            .iter()
            .find(|i| i.value.name == key)
            .map(|i| i.value.errors.clone())
            .unwrap_or_default()
    }

    #[test]
    fn exactly_once_keys_are_checked_as_connect_does() {
        let reg = builtin_registry();
        let source = |extra: &[(&str, &str)]| {
            let mut pairs = vec![
                ("connector.class", "FileStreamSource"),
                ("name", "x"),
                ("topic", "t"),
            ];
            pairs.extend_from_slice(extra);
            map(&pairs)
        };
        let required = source(&[("exactly.once.support", "REQUIRED")]);
        // FileStreamSource does not say whether it supports exactly-once delivery.
        let on = validate_connector_config_with(
            &reg,
            &required,
            1000,
            Some(ExactlyOnceSourceSupport::Enabled),
        )
        .unwrap();
        assert_eq!(
            errors_of(&on, EXACTLY_ONCE_SUPPORT),
            vec![EOS_NOT_IMPLEMENTED.to_string()]
        );
        let preparing = validate_connector_config_with(
            &reg,
            &required,
            1000,
            Some(ExactlyOnceSourceSupport::Preparing),
        )
        .unwrap();
        assert_eq!(
            errors_of(&preparing, EXACTLY_ONCE_SUPPORT),
            vec![EOS_NOT_ENABLED.to_string(), EOS_NOT_IMPLEMENTED.to_string()]
        );
        let standalone = validate_connector_config(&reg, &required, 1000).unwrap();
        assert_eq!(
            errors_of(&standalone, EXACTLY_ONCE_SUPPORT),
            vec![STANDALONE_EXACTLY_ONCE_REFUSED.to_string()]
        );
        let boundary = validate_connector_config(
            &reg,
            &source(&[("transaction.boundary", "connector")]),
            1000,
        )
        .unwrap();
        assert_eq!(
            errors_of(&boundary, TRANSACTION_BOUNDARY),
            vec![BOUNDARIES_UNSUPPORTED.to_string()]
        );
        let bad = validate_connector_config(
            &reg,
            &source(&[
                ("transaction.boundary", "sometimes"),
                ("transaction.boundary.interval.ms", "-5"),
            ]),
            1000,
        )
        .unwrap();
        assert_eq!(bad.error_count, 2, "{:?}", bad.error_messages());
        assert_eq!(
            errors_of(&bad, "transaction.boundary.interval.ms"),
            vec![
                "Invalid value -5 for configuration transaction.boundary.interval.ms: Value must be at least 0"
                    .to_string()
            ]
        );
        // Sinks have none of these keys.
        let sink = validate_connector_config(
            &reg,
            &map(&[
                ("connector.class", "FileStreamSink"),
                ("name", "s"),
                ("topics", "t"),
                ("exactly.once.support", "required"),
            ]),
            1000,
        )
        .unwrap();
        assert!(errors_of(&sink, EXACTLY_ONCE_SUPPORT).is_empty());
    }

    #[test]
    fn missing_required_keys_are_counted() {
        let reg = builtin_registry();
        let infos = validate_connector_config(
            &reg,
            &map(&[("connector.class", "FileStreamSource"), ("name", "x")]),
            1000,
        )
        .unwrap();
        assert_eq!(
            infos.name,
            "org.apache.kafka.connect.file.FileStreamSourceConnector"
        );
        assert_eq!(infos.error_count, 1, "{:?}", infos.error_messages());
        assert!(infos.error_messages()[0].contains("\"topic\""));
        assert!(infos.groups.contains(&"Common".to_string()));
        let msg = invalid_config_message(&infos);
        assert!(msg.starts_with(
            "Connector configuration is invalid and contains the following 1 error(s):\n"
        ));
    }

    #[test]
    fn control_characters_in_names_are_refused_as_connect_does() {
        let reg = builtin_registry();
        for (name, codes) in [("a\nb", "10"), ("a\u{7}b\u{7f}", "7, 127"), ("ab\n", "10")] {
            let infos = validate_connector_config(
                &reg,
                &map(&[
                    ("connector.class", "FileStreamSource"),
                    ("name", name),
                    ("topic", "t"),
                ]),
                1000,
            )
            .unwrap();
            assert_eq!(
                infos.error_messages(),
                vec![format!("Invalid value {name} for configuration name: String may not contain control sequences but had the following ASCII chars: {codes}")],
                "{name:?}"
            );
        }
    }

    #[test]
    fn unknown_class_lists_available_connectors() {
        let reg = builtin_registry();
        let err = validate_connector_config(
            &reg,
            &map(&[("connector.class", "Nope"), ("name", "x")]),
            1000,
        )
        .unwrap_err();
        assert!(matches!(err, ConnectError::BadRequest(_)));
        assert!(
            err.to_string()
                .contains("org.apache.kafka.connect.file.FileStreamSinkConnector"),
            "{err}"
        );
    }

    #[test]
    fn sink_topics_rule_is_reported_on_topics() {
        let reg = builtin_registry();
        let infos = validate_connector_config(
            &reg,
            &map(&[("connector.class", "FileStreamSink"), ("name", "x")]),
            1000,
        )
        .unwrap();
        let topics = infos
            .configs
            .iter()
            .find(|c| c.value.name == "topics")
            .unwrap();
        assert_eq!(
            topics.value.errors,
            vec!["Must configure one of topics or topics.regex"]
        );
    }

    #[test]
    fn tasks_max_above_the_worker_limit_is_an_error_on_tasks_max() {
        let reg = builtin_registry();
        let config = |tasks_max: &str| {
            map(&[
                ("connector.class", "FileStreamSink"),
                ("name", "x"),
                ("topics", "t"),
                ("tasks.max", tasks_max),
            ])
        };
        let infos = validate_connector_config(&reg, &config("100000"), 1000).unwrap();
        assert_eq!(infos.error_count, 1, "{:?}", infos.error_messages());
        let tasks_max = infos
            .configs
            .iter()
            .find(|c| c.value.name == "tasks.max")
            .unwrap();
        assert_eq!(
            tasks_max.value.errors,
            vec![
                "Invalid value 100000 for configuration tasks.max: this worker runs at most 1000 \
                 tasks (worker.tasks.max); lower tasks.max, or raise worker.tasks.max in the \
                 worker config if the worker can hold that many tasks"
            ]
        );
        let msg = invalid_config_message(&infos);
        assert!(msg.contains("following 1 error(s)"), "{msg}");
        // At the limit is fine; a value that is not a number is ConfigDef's error alone.
        assert_eq!(
            validate_connector_config(&reg, &config("1000"), 1000)
                .unwrap()
                .error_count,
            0
        );
        let bad = validate_connector_config(&reg, &config("lots"), 1000).unwrap();
        assert_eq!(bad.error_count, 1, "{:?}", bad.error_messages());
        assert!(tasks_max_over_limit(&config("99999999999999999999"), 1000).is_none());
    }
}
