//! Config providers (KIP-297): values such as `${file:/etc/secrets.properties:db.password}`,
//! `${env:DB_PASSWORD}` or `${dir:/run/secrets:db-password}` in connector configs, resolved
//! from files, environment variables or directories when a connector or task starts, so that
//! secrets never sit in the config itself.
//!
//! The worker config names the providers and their classes:
//!
//! ```properties
//! config.providers=file,env,dir
//! config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
//! config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
//! config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider
//! config.providers.dir.param.allowed.paths=/run/secrets
//! ```
//!
//! Classes may also be given by simple name (`FileConfigProvider`) or short alias (`file`,
//! `env`, `directory`); a provider named `file`, `env`, `dir` or `directory` without a class
//! line gets the matching built-in class. `config.providers.<name>.param.<key>` settings are
//! passed to the provider: `allowed.paths` (file and directory providers, KIP-993) limits the
//! paths they may read, `allowlist.pattern` (env provider) the variables it may read.
//!
//! As in Connect, a reference is `${provider:path:key}` or `${provider:key}`, references to
//! providers that are not configured are left as they are, and each value is resolved once
//! (a resolved value is not scanned again). Unlike Connect, a reference to a key the provider
//! does not have is an error rather than being left unresolved, so that a typo does not send
//! the literal `${...}` text to an external system as a password. Error messages name the
//! config key and the reference, never a resolved value.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, LazyLock};

use regex::Regex;

use super::def::{split_list, with_prefix};
use super::{read_properties_file, ConfigMap, PropertiesError};
use crate::errors::{ConnectError, Result};

/// `FileConfigProvider`: `${file:/path/to/file.properties:key}` reads a properties file.
pub const FILE_CONFIG_PROVIDER: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
/// `EnvVarConfigProvider`: `${env:NAME}` reads an environment variable.
pub const ENV_VAR_CONFIG_PROVIDER: &str =
    "org.apache.kafka.common.config.provider.EnvVarConfigProvider";
/// `DirectoryConfigProvider`: `${dir:/path/to/dir:file}` reads a whole file.
pub const DIRECTORY_CONFIG_PROVIDER: &str =
    "org.apache.kafka.common.config.provider.DirectoryConfigProvider";

/// The worker key listing provider names.
pub const CONFIG_PROVIDERS: &str = "config.providers";
/// `allowed.paths`: the directories and files the file and directory providers may read.
pub const ALLOWED_PATHS: &str = "allowed.paths";
/// `allowlist.pattern`: the environment variables the env provider may read.
pub const ALLOWLIST_PATTERN: &str = "allowlist.pattern";

/// `${provider:path:key}` or `${provider:key}`, as Connect's `ConfigTransformer` reads it.
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}").expect("the reference pattern is valid")
});

/// A source of config values (Connect's `ConfigProvider`).
pub trait ConfigProvider: Send + Sync {
    /// The values of `keys` at `path` (`None` when the reference has no path). Keys the
    /// provider does not have are left out. Errors must not contain values.
    fn get(&self, path: Option<&str>, keys: &BTreeSet<String>) -> Result<BTreeMap<String, String>>;
}

/// Paths a provider may read (`allowed.paths`); empty means anywhere.
#[derive(Clone, Debug, Default)]
struct AllowedPaths(Vec<PathBuf>);

/// Resolves `.` and `..` without touching the file system (Java's `Path.normalize`).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

impl AllowedPaths {
    fn from_params(params: &ConfigMap) -> Result<Self> {
        let Some(raw) = params.get(ALLOWED_PATHS) else {
            return Ok(AllowedPaths::default());
        };
        let mut out = Vec::new();
        for p in split_list(raw) {
            let path = Path::new(&p);
            if !path.is_absolute() {
                return Err(ConnectError::Config(format!(
                    "All paths in '{ALLOWED_PATHS}' must be absolute; '{p}' is not"
                )));
            }
            out.push(normalize(path));
        }
        Ok(AllowedPaths(out))
    }

    /// The normalized path when it may be read.
    fn check(&self, path: &str) -> Result<PathBuf> {
        let normalized = normalize(Path::new(path));
        if self.0.is_empty() || self.0.iter().any(|a| normalized.starts_with(a)) {
            Ok(normalized)
        } else {
            Err(ConnectError::Config(format!(
                "The path {path} is not allowed to be accessed (see '{ALLOWED_PATHS}')"
            )))
        }
    }
}

fn require_path<'a>(provider: &str, path: Option<&'a str>, example: &str) -> Result<&'a str> {
    path.filter(|p| !p.is_empty()).ok_or_else(|| {
        ConnectError::Config(format!(
            "{provider} needs a path in the reference, as in {example}"
        ))
    })
}

/// Reads keys from Java properties files.
#[derive(Debug, Default)]
pub struct FileConfigProvider {
    allowed: AllowedPaths,
}

impl FileConfigProvider {
    pub fn new(params: &ConfigMap) -> Result<Self> {
        Ok(FileConfigProvider {
            allowed: AllowedPaths::from_params(params)?,
        })
    }
}

impl ConfigProvider for FileConfigProvider {
    fn get(&self, path: Option<&str>, keys: &BTreeSet<String>) -> Result<BTreeMap<String, String>> {
        let path = require_path(
            "FileConfigProvider",
            path,
            "${file:/path/to/file.properties:key}",
        )?;
        let file = self.allowed.check(path)?;
        let props = read_properties_file(&file).map_err(|e| match e {
            PropertiesError::Io { source, .. } => ConnectError::Config(format!(
                "Could not read properties from file {path}: {source}"
            )),
            // The malformed line may itself be a secret, so only its number is reported.
            PropertiesError::Malformed { line, .. } => ConnectError::Config(format!(
                "Could not read properties from file {path}: line {line} is malformed"
            )),
        })?;
        Ok(props
            .into_iter()
            .filter(|(k, _)| keys.contains(k))
            .collect())
    }
}

/// Reads environment variables.
#[derive(Debug)]
pub struct EnvVarConfigProvider {
    allowlist: Regex,
}

impl EnvVarConfigProvider {
    pub fn new(params: &ConfigMap) -> Result<Self> {
        let pattern = params
            .get(ALLOWLIST_PATTERN)
            .map(|s| s.trim())
            .unwrap_or(".*");
        let allowlist = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
            ConnectError::Config(format!(
                "Invalid value {pattern} for configuration {ALLOWLIST_PATTERN}: {e}"
            ))
        })?;
        Ok(EnvVarConfigProvider { allowlist })
    }
}

impl ConfigProvider for EnvVarConfigProvider {
    fn get(&self, path: Option<&str>, keys: &BTreeSet<String>) -> Result<BTreeMap<String, String>> {
        if let Some(p) = path.filter(|p| !p.is_empty()) {
            return Err(ConnectError::Config(format!(
                "Path is not supported for EnvVarConfigProvider, invalid value '{p}'"
            )));
        }
        Ok(keys
            .iter()
            .filter(|k| self.allowlist.is_match(k))
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v)))
            .collect())
    }
}

/// Reads whole files from a directory: the key is the file name.
#[derive(Debug, Default)]
pub struct DirectoryConfigProvider {
    allowed: AllowedPaths,
}

impl DirectoryConfigProvider {
    pub fn new(params: &ConfigMap) -> Result<Self> {
        Ok(DirectoryConfigProvider {
            allowed: AllowedPaths::from_params(params)?,
        })
    }
}

impl ConfigProvider for DirectoryConfigProvider {
    fn get(&self, path: Option<&str>, keys: &BTreeSet<String>) -> Result<BTreeMap<String, String>> {
        let path = require_path("DirectoryConfigProvider", path, "${dir:/path/to/dir:file}")?;
        let dir = self.allowed.check(path)?;
        if !dir.is_dir() {
            return Err(ConnectError::Config(format!(
                "Could not read directory {path}: not a directory"
            )));
        }
        let mut out = BTreeMap::new();
        for key in keys {
            // Only plain file names inside the directory, as Connect lists the directory.
            if key.is_empty() || key.contains(['/', '\\']) || key == "." || key == ".." {
                continue;
            }
            let file = dir.join(key);
            if !file.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&file).map_err(|e| {
                ConnectError::Config(format!("Could not read file {}: {e}", file.display()))
            })?;
            out.insert(key.clone(), text);
        }
        Ok(out)
    }
}

/// Builds a provider from a class name or alias.
fn provider_for(name: &str, class: &str, params: &ConfigMap) -> Result<Arc<dyn ConfigProvider>> {
    let simple = class.rsplit('.').next().unwrap_or(class);
    Ok(match simple {
        "FileConfigProvider" | "file" => Arc::new(FileConfigProvider::new(params)?),
        "EnvVarConfigProvider" | "env" => Arc::new(EnvVarConfigProvider::new(params)?),
        "DirectoryConfigProvider" | "directory" | "dir" => {
            Arc::new(DirectoryConfigProvider::new(params)?)
        }
        _ => {
            return Err(ConnectError::Config(format!(
                "Invalid value {class} for configuration config.providers.{name}.class: unknown config provider; available: {FILE_CONFIG_PROVIDER}, {ENV_VAR_CONFIG_PROVIDER}, {DIRECTORY_CONFIG_PROVIDER} (or file, env, directory)"
            )))
        }
    })
}

/// A parsed `${provider:path:key}` reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The reference as written, `${...}` included.
    pub text: String,
    pub provider: String,
    pub path: Option<String>,
    pub key: String,
}

/// Every `${provider:path:key}` reference in `value`, configured or not.
pub fn references(value: &str) -> Vec<Reference> {
    REFERENCE
        .captures_iter(value)
        .map(|c| Reference {
            text: c[0].to_string(),
            provider: c[1].to_string(),
            path: c.get(2).map(|m| m.as_str().to_string()),
            key: c[3].to_string(),
        })
        .collect()
}

/// The worker's configured providers, by name. Build one from the worker's raw config with
/// [`ConfigProviders::from_worker_config`], then [`ConfigProviders::resolve`] connector and
/// task configs just before they are used (REST keeps showing the raw values).
#[derive(Clone, Default)]
pub struct ConfigProviders {
    providers: BTreeMap<String, Arc<dyn ConfigProvider>>,
}

impl std::fmt::Debug for ConfigProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigProviders")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ConfigProviders {
    /// Reads `config.providers`, `config.providers.<name>.class` and
    /// `config.providers.<name>.param.*` from a worker's raw config.
    pub fn from_worker_config(worker: &ConfigMap) -> Result<Self> {
        let names = worker
            .get(CONFIG_PROVIDERS)
            .map(|s| split_list(s))
            .unwrap_or_default();
        let mut providers = BTreeMap::new();
        for name in names.into_iter().filter(|n| !n.is_empty()) {
            let prefix = format!("{CONFIG_PROVIDERS}.{name}.");
            let class = match worker.get(&format!("{prefix}class")).map(|c| c.trim()) {
                Some(c) if !c.is_empty() => c.to_string(),
                _ if matches!(name.as_str(), "file" | "env" | "dir" | "directory") => name.clone(),
                _ => {
                    return Err(ConnectError::Config(format!(
                        "Missing required configuration \"{prefix}class\" for config provider '{name}' listed in '{CONFIG_PROVIDERS}'"
                    )))
                }
            };
            let params = with_prefix(worker, &format!("{prefix}param."));
            providers.insert(name.clone(), provider_for(&name, &class, &params)?);
        }
        Ok(ConfigProviders { providers })
    }

    /// Providers given directly, by name (for embedding and tests).
    pub fn from_providers(
        providers: impl IntoIterator<Item = (String, Arc<dyn ConfigProvider>)>,
    ) -> Self {
        ConfigProviders {
            providers: providers.into_iter().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// The configured provider names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// True when some value of `config` refers to a configured provider.
    pub fn has_references(&self, config: &ConfigMap) -> bool {
        config.values().any(|v| {
            references(v)
                .iter()
                .any(|r| self.providers.contains_key(&r.provider))
        })
    }

    /// `config` with every reference to a configured provider replaced by its value. Each
    /// provider is asked once per path for all the keys the config needs from it.
    pub fn resolve(&self, config: &ConfigMap) -> Result<ConfigMap> {
        if self.providers.is_empty() {
            return Ok(config.clone());
        }
        // Which keys each (provider, path) must supply, and the first config key asking.
        let mut wanted: BTreeMap<(String, Option<String>), (BTreeSet<String>, String)> =
            BTreeMap::new();
        for (config_key, value) in config {
            for r in references(value) {
                if self.providers.contains_key(&r.provider) {
                    wanted
                        .entry((r.provider, r.path))
                        .or_insert_with(|| (BTreeSet::new(), config_key.clone()))
                        .0
                        .insert(r.key);
                }
            }
        }
        if wanted.is_empty() {
            return Ok(config.clone());
        }
        let mut data: HashMap<(String, Option<String>), BTreeMap<String, String>> = HashMap::new();
        for ((provider, path), (keys, config_key)) in wanted {
            let p = &self.providers[&provider];
            let values = p.get(path.as_deref(), &keys).map_err(|e| {
                let example = references(&config[&config_key])
                    .into_iter()
                    .find(|r| r.provider == provider && r.path == path)
                    .map(|r| r.text)
                    .unwrap_or_default();
                ConnectError::Config(format!(
                    "Could not resolve {example} in configuration {config_key}: {e}"
                ))
            })?;
            data.insert((provider, path), values);
        }
        let mut out = ConfigMap::new();
        for (config_key, value) in config {
            let mut missing: Option<Reference> = None;
            let resolved = REFERENCE.replace_all(value, |c: &regex::Captures| {
                let r = Reference {
                    text: c[0].to_string(),
                    provider: c[1].to_string(),
                    path: c.get(2).map(|m| m.as_str().to_string()),
                    key: c[3].to_string(),
                };
                match data.get(&(r.provider.clone(), r.path.clone())) {
                    // Not a configured provider: left as written, as Connect does.
                    None => r.text,
                    Some(values) => match values.get(&r.key) {
                        Some(v) => v.clone(),
                        None => {
                            let text = r.text.clone();
                            missing.get_or_insert(r);
                            text
                        }
                    },
                }
            });
            if let Some(r) = missing {
                let place = match &r.path {
                    Some(p) if !p.is_empty() => format!(" in {p}"),
                    _ => String::new(),
                };
                return Err(ConnectError::Config(format!(
                    "Could not resolve {} in configuration {config_key}: config provider '{}' has no key '{}'{place}",
                    r.text, r.provider, r.key
                )));
            }
            out.insert(config_key.clone(), resolved.into_owned());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn map(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn secrets_file(dir: &Path) -> PathBuf {
        let path = dir.join("secrets.properties");
        let mut f = std::fs::File::create(&path).unwrap();
        writeln!(f, "db.user=admin\ndb.password=s3cr3t:with=chars").unwrap();
        path
    }

    #[test]
    fn parses_references_like_connect() {
        let refs = references("jdbc:${file:/a/b.properties:url}?x=${env:HOME} ${topic} ${a::b}");
        let parts: Vec<(String, Option<String>, String)> = refs
            .into_iter()
            .map(|r| (r.provider, r.path, r.key))
            .collect();
        assert_eq!(
            parts,
            [
                ("file".into(), Some("/a/b.properties".into()), "url".into()),
                ("env".into(), None, "HOME".into()),
                ("a".into(), Some(String::new()), "b".into()),
            ]
        );
    }

    #[test]
    fn resolves_file_env_and_directory_references() {
        let dir = tempfile::tempdir().unwrap();
        let file = secrets_file(dir.path());
        let secrets = dir.path().join("secrets");
        std::fs::create_dir(&secrets).unwrap();
        std::fs::write(secrets.join("api-key"), "k-123\n").unwrap();
        std::env::set_var("CONVEYOR_PROVIDER_TEST_TOKEN", "tok");

        let providers = ConfigProviders::from_worker_config(&map(&[
            ("config.providers", "file,env,dir"),
            ("config.providers.file.class", FILE_CONFIG_PROVIDER),
            ("config.providers.env.class", "EnvVarConfigProvider"),
            ("config.providers.dir.class", "directory"),
            (
                "config.providers.dir.param.allowed.paths",
                &dir.path().display().to_string(),
            ),
        ]))
        .unwrap();
        assert_eq!(
            providers.names().collect::<Vec<_>>(),
            ["dir", "env", "file"]
        );

        let f = file.display().to_string();
        let s = secrets.display().to_string();
        let config = map(&[
            ("connection.user", &format!("${{file:{f}:db.user}}")),
            ("connection.password", &format!("${{file:{f}:db.password}}")),
            ("token", "Bearer ${env:CONVEYOR_PROVIDER_TEST_TOKEN}"),
            ("api.key", &format!("${{dir:{s}:api-key}}")),
            ("topic.format", "${topic}-${timestamp}"),
            ("other", "${vault:secret/db:password}"),
        ]);
        assert!(providers.has_references(&config));
        let resolved = providers.resolve(&config).unwrap();
        assert_eq!(resolved["connection.user"], "admin");
        assert_eq!(resolved["connection.password"], "s3cr3t:with=chars");
        assert_eq!(resolved["token"], "Bearer tok");
        assert_eq!(
            resolved["api.key"], "k-123\n",
            "directory values are whole files"
        );
        assert_eq!(resolved["topic.format"], "${topic}-${timestamp}");
        assert_eq!(
            resolved["other"], "${vault:secret/db:password}",
            "references to unconfigured providers are left as written"
        );
    }

    #[test]
    fn default_classes_for_well_known_names() {
        std::env::set_var("CONVEYOR_PROVIDER_TEST_DEFAULT", "v");
        let providers =
            ConfigProviders::from_worker_config(&map(&[("config.providers", "env")])).unwrap();
        let out = providers
            .resolve(&map(&[("a", "${env:CONVEYOR_PROVIDER_TEST_DEFAULT}")]))
            .unwrap();
        assert_eq!(out["a"], "v");
        let err = ConfigProviders::from_worker_config(&map(&[("config.providers", "vault")]))
            .unwrap_err();
        assert!(
            err.to_string().contains("config.providers.vault.class"),
            "{err}"
        );
        let err = ConfigProviders::from_worker_config(&map(&[
            ("config.providers", "x"),
            (
                "config.providers.x.class",
                "com.example.VaultConfigProvider",
            ),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("unknown config provider"), "{err}");
    }

    #[test]
    fn errors_name_the_key_and_reference_but_never_a_value() {
        let dir = tempfile::tempdir().unwrap();
        let file = secrets_file(dir.path());
        let f = file.display().to_string();
        let providers =
            ConfigProviders::from_worker_config(&map(&[("config.providers", "file")])).unwrap();

        let err = providers
            .resolve(&map(&[
                ("ok", &format!("${{file:{f}:db.password}}")),
                ("bad", &format!("${{file:{f}:db.pasword}}")),
            ]))
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ConnectError::Config(_)));
        assert!(msg.contains("configuration bad"), "{msg}");
        assert!(msg.contains(&format!("${{file:{f}:db.pasword}}")), "{msg}");
        assert!(!msg.contains("s3cr3t"), "{msg}");

        let err = providers
            .resolve(&map(&[("p", "${file:/no/such/file.properties:k}")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("configuration p")
                && err.contains("Could not read properties from file /no/such/file.properties"),
            "{err}"
        );

        let malformed = dir.path().join("bad.properties");
        std::fs::write(&malformed, "ok=1\nhunter2\n").unwrap();
        let err = providers
            .resolve(&map(&[(
                "p",
                &format!("${{file:{}:ok}}", malformed.display()),
            )]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2 is malformed") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn allowed_paths_and_env_allowlist_are_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let file = secrets_file(dir.path());
        let allowed = dir.path().join("allowed");
        std::fs::create_dir(&allowed).unwrap();
        let providers = ConfigProviders::from_worker_config(&map(&[
            ("config.providers", "file"),
            (
                "config.providers.file.param.allowed.paths",
                &allowed.display().to_string(),
            ),
        ]))
        .unwrap();
        let sneaky = format!("{}/../secrets.properties", allowed.display());
        for path in [file.display().to_string(), sneaky] {
            let err = providers
                .resolve(&map(&[("p", &format!("${{file:{path}:db.user}}"))]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("is not allowed to be accessed"), "{err}");
        }
        assert!(ConfigProviders::from_worker_config(&map(&[
            ("config.providers", "file"),
            ("config.providers.file.param.allowed.paths", "relative/dir"),
        ]))
        .is_err());

        std::env::set_var("CONVEYOR_ALLOWED_X", "x");
        std::env::set_var("CONVEYOR_HIDDEN_Y", "y");
        let env = ConfigProviders::from_worker_config(&map(&[
            ("config.providers", "env"),
            (
                "config.providers.env.param.allowlist.pattern",
                "CONVEYOR_ALLOWED_.*",
            ),
        ]))
        .unwrap();
        assert_eq!(
            env.resolve(&map(&[("a", "${env:CONVEYOR_ALLOWED_X}")]))
                .unwrap()["a"],
            "x"
        );
        let err = env
            .resolve(&map(&[("a", "${env:CONVEYOR_HIDDEN_Y}")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no key 'CONVEYOR_HIDDEN_Y'"), "{err}");
        let err = env
            .resolve(&map(&[("a", "${env:/some/path:CONVEYOR_ALLOWED_X}")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Path is not supported for EnvVarConfigProvider"),
            "{err}"
        );
    }

    #[test]
    fn directory_keys_cannot_leave_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("inner");
        std::fs::create_dir(&inner).unwrap();
        std::fs::write(dir.path().join("outside"), "nope").unwrap();
        let p = DirectoryConfigProvider::new(&ConfigMap::new()).unwrap();
        let keys: BTreeSet<String> = ["../outside".to_string()].into();
        let got = p.get(Some(&inner.display().to_string()), &keys).unwrap();
        assert!(got.is_empty());
        assert!(p.get(None, &keys).is_err());
    }

    #[test]
    fn no_providers_means_no_change() {
        let providers = ConfigProviders::from_worker_config(&ConfigMap::new()).unwrap();
        assert!(providers.is_empty());
        let config = map(&[("a", "${file:/x:y}")]);
        assert_eq!(providers.resolve(&config).unwrap(), config);
    }
}
