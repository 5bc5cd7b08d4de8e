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

    /// Every stored connector, by name.
    pub fn load(&self) -> Result<Vec<StoredConnector>> {
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
            let bytes = std::fs::read(&path)?;
            let stored: StoredConnector = serde_json::from_slice(&bytes).map_err(|e| {
                ConnectError::Config(format!(
                    "{} is not a stored connector config: {e}",
                    path.display()
                ))
            })?;
            out.push(stored);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub fn save(&self, stored: &StoredConnector) -> Result<()> {
        let path = self.path(&stored.name);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(stored)?)?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }

    pub fn remove(&self, name: &str) -> Result<()> {
        match std::fs::remove_file(self.path(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}
