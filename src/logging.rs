//! Logging: `tracing` with a filter that can be changed at run time
//! (`GET/PUT /admin/loggers`, KIP-495).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use parking_lot::Mutex;
use serde::Serialize;
use tracing_subscriber::filter::Directive;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

use crate::errors::{ConnectError, Result};

/// The level of one logger, as REST shows it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LoggerLevel {
    pub level: String,
    pub last_modified: Option<i64>,
}

struct Loggers {
    root: LoggerLevel,
    named: BTreeMap<String, LoggerLevel>,
    handle: Option<reload::Handle<EnvFilter, Registry>>,
}

static LOGGERS: OnceLock<Mutex<Loggers>> = OnceLock::new();

fn loggers() -> &'static Mutex<Loggers> {
    LOGGERS.get_or_init(|| {
        Mutex::new(Loggers {
            root: LoggerLevel {
                level: "INFO".into(),
                last_modified: None,
            },
            named: BTreeMap::new(),
            handle: None,
        })
    })
}

/// Log4j level names to `tracing` filter levels.
fn filter_level(level: &str) -> Option<&'static str> {
    Some(match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" | "WARNING" => "warn",
        "ERROR" | "FATAL" => "error",
        "OFF" => "off",
        _ => return None,
    })
}

/// Kafka Connect logger names map onto Conveyor's modules; other names are Rust targets.
fn target_for(logger: &str) -> String {
    match logger.strip_prefix("org.apache.kafka.connect") {
        Some(rest) if rest.is_empty() || rest.starts_with('.') => "conveyor".to_string(),
        _ => logger.replace('.', "::"),
    }
}

/// The filter directive that gives `logger` its `level`, or `None` when the name cannot be one.
fn directive(logger: &str, level: &str) -> Option<Directive> {
    format!("{}={level}", target_for(logger)).parse().ok()
}

/// Refuses a logger name that cannot name a logger: Kafka Connect's are Java class and package
/// names, Conveyor's are Rust module paths (`conveyor.rest`), so letters, digits and `.`,
/// `_`, `-`, `$`, `:`. Anything else (`a[b`, `a=b`, `a,b`, spaces) would change the meaning of
/// the filter it goes into.
fn check_logger_name(name: &str) -> Result<()> {
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '$' | ':');
    if !name.is_empty() && name.chars().all(allowed) && directive(name, "info").is_some() {
        return Ok(());
    }
    Err(ConnectError::BadRequest(format!(
        "Invalid logger name '{name}': a logger name is made of letters, digits, '.', '_', '-', \
         '$' and ':', and starts with a letter or a digit"
    )))
}

/// The filter for the root level and every named logger. Each logger is a directive of its
/// own, so that one that cannot be parsed is skipped alone and never takes the others (or
/// the librdkafka default) with it.
fn build_filter(l: &Loggers) -> EnvFilter {
    let mut filter = EnvFilter::new(filter_level(&l.root.level).unwrap_or("info"));
    // librdkafka is chatty at INFO about things the task status already says.
    if let Some(d) = directive("librdkafka", "warn") {
        filter = filter.add_directive(d);
    }
    for (name, level) in &l.named {
        if name == "root" {
            continue;
        }
        match directive(name, filter_level(&level.level).unwrap_or("info")) {
            Some(d) => filter = filter.add_directive(d),
            None => {
                tracing::warn!(logger = ?name, "ignoring the level of a logger whose name is not valid")
            }
        }
    }
    filter
}

/// Installs the global subscriber once. `RUST_LOG` overrides the default level.
pub fn init(default_level: &str) {
    let mut l = loggers().lock();
    if l.handle.is_some() {
        return;
    }
    if let Ok(env) = std::env::var("CONVEYOR_LOG_LEVEL") {
        if filter_level(&env).is_some() {
            l.root.level = env.to_ascii_uppercase();
        }
    } else if filter_level(default_level).is_some() {
        l.root.level = default_level.to_ascii_uppercase();
    }
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) => EnvFilter::try_new(spec).unwrap_or_else(|_| build_filter(&l)),
        Err(_) => build_filter(&l),
    };
    let (layer, handle) = reload::Layer::new(filter);
    let fmt_layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true);
    if tracing_subscriber::registry()
        .with(layer)
        .with(fmt_layer)
        .try_init()
        .is_ok()
    {
        l.handle = Some(handle);
    }
}

/// Every logger with an explicit level, plus `root`.
pub fn levels() -> BTreeMap<String, LoggerLevel> {
    let l = loggers().lock();
    let mut out = l.named.clone();
    out.insert("root".into(), l.root.clone());
    out
}

/// The level of one logger: its own, or the root level when it has none.
pub fn level(name: &str) -> LoggerLevel {
    let l = loggers().lock();
    if name == "root" {
        return l.root.clone();
    }
    l.named.get(name).cloned().unwrap_or_else(|| LoggerLevel {
        level: l.root.level.clone(),
        last_modified: None,
    })
}

/// Sets a logger's level; returns the loggers affected (Connect's answer shape).
pub fn set_level(name: &str, level: &str) -> Result<Vec<String>> {
    if filter_level(level).is_none() {
        // Kafka Connect's text, lower case included.
        return Err(ConnectError::NotFound(format!(
            "invalid log level '{level}'."
        )));
    }
    if name != "root" {
        check_logger_name(name)?;
    }
    let mut l = loggers().lock();
    let entry = LoggerLevel {
        level: level.trim().to_ascii_uppercase(),
        last_modified: Some(chrono::Utc::now().timestamp_millis()),
    };
    let mut affected = vec![name.to_string()];
    if name == "root" {
        l.root = entry;
        affected.extend(l.named.keys().cloned());
    } else {
        let children: Vec<String> = l
            .named
            .keys()
            .filter(|k| k.starts_with(&format!("{name}.")))
            .cloned()
            .collect();
        for c in &children {
            l.named.insert(c.clone(), entry.clone());
        }
        affected.extend(children);
        l.named.insert(name.to_string(), entry);
    }
    if let Some(h) = &l.handle {
        let f = build_filter(&l);
        let _ = h.reload(f);
    }
    affected.sort();
    Ok(affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logger_names() {
        for ok in [
            "org.apache.kafka.connect.runtime.WorkerSinkTask",
            "conveyor.rest",
            "io.debezium$Inner",
            "librdkafka",
            "a-b_c",
            "conveyor::runtime",
            "é",
        ] {
            assert!(check_logger_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a[b", "a]", "a{b}", "a=b", "a,b", "a b", "\"x\"", "", "$x", "a\nb",
        ] {
            let err = check_logger_name(bad).unwrap_err();
            assert!(matches!(err, ConnectError::BadRequest(_)), "{bad}");
            assert!(err.to_string().starts_with("Invalid logger name"), "{err}");
        }
    }

    #[test]
    fn one_bad_logger_never_breaks_the_others() {
        let mut named = BTreeMap::new();
        let level = |l: &str| LoggerLevel {
            level: l.into(),
            last_modified: None,
        };
        named.insert("a[b".to_string(), level("DEBUG"));
        named.insert("conveyor.rest".to_string(), level("TRACE"));
        let filter = build_filter(&Loggers {
            root: level("ERROR"),
            named,
            handle: None,
        })
        .to_string();
        assert!(filter.contains("librdkafka=warn"), "{filter}");
        assert!(filter.contains("conveyor::rest=trace"), "{filter}");
        assert!(filter.contains("error"), "{filter}");
        assert!(
            !filter.contains("a[b") && !filter.contains("a::[b"),
            "{filter}"
        );
    }
}
