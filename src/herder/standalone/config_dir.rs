//! `--config-dir`: standalone connector configs and target states kept on disk, one JSON
//! file per connector, so that a restarted worker comes back as it was (paused connectors
//! stay paused). Kafka Connect's standalone mode keeps these in memory only.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::ConfigMap;
use crate::errors::{ConnectError, Result};
use crate::runtime::TargetState;

/// One connector as stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StoredConnector {
    pub name: String,
    pub config: ConfigMap,
    pub target_state: TargetState,
}

/// A directory of connector files.
#[derive(Clone, Debug)]
pub struct ConfigDir {
    dir: PathBuf,
}

impl ConfigDir {
    pub fn open(dir: impl AsRef<Path>) -> Result<ConfigDir> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| {
            ConnectError::Io(format!("cannot create config dir {}: {e}", dir.display()))
        })?;
        Ok(ConfigDir { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        // Connector names may hold any character; keep file names safe and unique.
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let hash = name.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
        self.dir.join(format!("{safe}-{hash:016x}.json"))
    }

    /// Every stored connector file that can be read, with its path. A file that cannot be
    /// read or parsed is logged and left alone: one damaged file never stops the worker.
    fn read_all(&self) -> Result<Vec<(PathBuf, StoredConnector)>> {
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&self.dir).map_err(|e| {
            ConnectError::Io(format!(
                "cannot read config dir {}: {e}",
                self.dir.display()
            ))
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let parsed = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    serde_json::from_slice::<StoredConnector>(&bytes).map_err(|e| e.to_string())
                });
            match parsed {
                Ok(stored) => out.push((path, stored)),
                Err(e) => tracing::error!(
                    file = %path.display(),
                    error = %e,
                    "skipping a file in the config dir that is not a stored connector config; \
                     fix or remove it"
                ),
            }
        }
        out.sort_by(|a, b| a.1.name.cmp(&b.1.name).then_with(|| a.0.cmp(&b.0)));
        Ok(out)
    }

    /// Every stored connector, by name.
    pub fn load(&self) -> Result<Vec<StoredConnector>> {
        Ok(self.read_all()?.into_iter().map(|(_, s)| s).collect())
    }

    pub fn save(&self, stored: &StoredConnector) -> Result<()> {
        let path = self.path(&stored.name);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(stored)?)?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }

    /// Removes the connector's file, and any other file that holds the same name (written by
    /// hand, or under another file name).
    pub fn remove(&self, name: &str) -> Result<()> {
        let mut paths = vec![self.path(name)];
        paths.extend(
            self.read_all()?
                .into_iter()
                .filter(|(_, s)| s.name == name)
                .map(|(p, _)| p),
        );
        for path in paths {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(name: &str) -> StoredConnector {
        StoredConnector {
            name: name.into(),
            config: [("name".to_string(), name.to_string())].into(),
            target_state: TargetState::Paused,
        }
    }

    #[test]
    fn damaged_files_are_skipped_and_names_with_any_characters_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ConfigDir::open(tmp.path()).unwrap();
        for name in ["b/c", "a\u{0}b", "a\nb"] {
            dir.save(&stored(name)).unwrap();
        }
        std::fs::write(tmp.path().join("torn.json"), "{\"name\": \"x\", \"con").unwrap();
        std::fs::write(tmp.path().join("notes.txt"), "not a connector").unwrap();
        let names: Vec<String> = dir.load().unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["a\u{0}b", "a\nb", "b/c"]);
        assert_eq!(dir.load().unwrap()[0], stored("a\u{0}b"));

        // A file written by hand under another name is removed with the connector.
        std::fs::write(
            tmp.path().join("by-hand.json"),
            serde_json::to_vec(&stored("b/c")).unwrap(),
        )
        .unwrap();
        dir.remove("b/c").unwrap();
        let names: Vec<String> = dir.load().unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["a\u{0}b", "a\nb"]);
        assert!(
            tmp.path().join("torn.json").exists(),
            "left for the user to fix"
        );
    }
}
