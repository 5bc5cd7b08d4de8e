//! `plugin.path` directories go on Python's import path, so whoever can write a file in one
//! runs code in the worker, with its credentials. A directory that anyone on the machine can
//! write to (or a module or package in it that anyone can write to, or a parent directory
//! that anyone can rename things in) stops the worker, unless
//! `plugin.path.allow.world.writable=true`; one that other users of its group can write to,
//! or that another user owns, is a warning.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::errors::{ConnectError, Result};

/// The worker setting that lets a world-writable `plugin.path` through (with a warning).
pub const ALLOW_WORLD_WRITABLE: &str = "plugin.path.allow.world.writable";

const OTHERS_WRITE: u32 = 0o002;
const GROUP_WRITE: u32 = 0o020;
const STICKY: u32 = 0o1000;

/// What is wrong with one place on the import path.
#[derive(Debug, PartialEq)]
enum Finding {
    /// Anyone can add or change code: refused unless allowed.
    WorldWritable(String),
    /// Others than the worker's user can: a warning.
    Shared(String),
}

fn mode(meta: &std::fs::Metadata) -> u32 {
    meta.permissions().mode()
}

/// Checks one `plugin.path` entry (as given; relative to the working directory, as Python
/// will resolve it).
fn inspect(entry: &str, uid: u32) -> Vec<Finding> {
    let mut findings = Vec::new();
    let Ok(dir) = std::fs::canonicalize(entry) else {
        // Nothing to import from; Python skips it too.
        return findings;
    };
    let Ok(meta) = std::fs::metadata(&dir) else {
        return findings;
    };
    let shown = dir.display();
    if mode(&meta) & OTHERS_WRITE != 0 {
        findings.push(Finding::WorldWritable(format!(
            "plugin.path: {shown} is world-writable: anyone on this machine can put code there \
             that the worker imports and runs"
        )));
    } else if mode(&meta) & GROUP_WRITE != 0 {
        findings.push(Finding::Shared(format!(
            "plugin.path: {shown} is writable by its group: every member can put code there \
             that the worker imports and runs"
        )));
    }
    if meta.uid() != uid && meta.uid() != 0 {
        findings.push(Finding::Shared(format!(
            "plugin.path: {shown} belongs to another user (uid {}), who can put code there \
             that the worker imports and runs",
            meta.uid()
        )));
    }
    // Modules, packages and byte-code caches right inside it.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if !meta.file_type().is_symlink() && mode(&meta) & OTHERS_WRITE != 0 {
                findings.push(Finding::WorldWritable(format!(
                    "plugin.path: {} is world-writable: anyone on this machine can change code \
                     that the worker imports and runs",
                    entry.path().display()
                )));
            }
        }
    }
    // A parent where anyone may rename entries (no sticky bit, as /tmp has) lets anyone swap
    // the whole directory.
    for parent in dir.ancestors().skip(1) {
        if let Ok(meta) = std::fs::metadata(parent) {
            if mode(&meta) & OTHERS_WRITE != 0 && mode(&meta) & STICKY == 0 {
                findings.push(Finding::WorldWritable(format!(
                    "plugin.path: {}, a parent of {shown}, is world-writable without the sticky \
                     bit: anyone on this machine can replace {shown}",
                    parent.display()
                )));
            }
        }
    }
    findings
}

/// Checks every `plugin.path` directory: logs what others could change, and refuses
/// world-writable places unless `allow_world_writable`.
pub fn check_plugin_path(plugin_path: &[String], allow_world_writable: bool) -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let mut refused = Vec::new();
    for entry in plugin_path.iter().filter(|e| !e.trim().is_empty()) {
        for finding in inspect(entry.trim(), uid) {
            match finding {
                Finding::WorldWritable(m) if !allow_world_writable => refused.push(m),
                Finding::WorldWritable(m) => {
                    tracing::warn!("{m} (allowed by {ALLOW_WORLD_WRITABLE}=true)")
                }
                Finding::Shared(m) => tracing::warn!("{m}"),
            }
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(ConnectError::Config(format!(
        "{}. Make it writable by its owner only (chmod o-w), or set \
         {ALLOW_WORLD_WRITABLE}=true in the worker config to run anyway",
        refused.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{set_permissions, Permissions};
    use std::path::Path;

    fn chmod(p: &Path, mode: u32) {
        set_permissions(p, Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn world_writable_places_are_refused_unless_allowed() {
        let tmp = tempfile::tempdir().unwrap();
        chmod(tmp.path(), 0o700);
        let dir = tmp.path().join("plugins");
        std::fs::create_dir(&dir).unwrap();
        chmod(&dir, 0o755);
        let path = vec![dir.display().to_string()];
        assert!(check_plugin_path(&path, false).is_ok());

        chmod(&dir, 0o777);
        let err = check_plugin_path(&path, false).unwrap_err().to_string();
        assert!(
            err.contains(&format!("plugin.path: {} is world-writable", dir.display()))
                && err.contains("plugin.path.allow.world.writable=true"),
            "{err}"
        );
        assert!(check_plugin_path(&path, true).is_ok());

        // A module anyone can change, in a safe directory.
        chmod(&dir, 0o755);
        let module = dir.join("mod.py");
        std::fs::write(&module, "X = 1\n").unwrap();
        chmod(&module, 0o666);
        let err = check_plugin_path(&path, false).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{} is world-writable", module.display())),
            "{err}"
        );
        chmod(&module, 0o644);

        // A parent anyone can rename things in.
        chmod(tmp.path(), 0o777);
        let err = check_plugin_path(&path, false).unwrap_err().to_string();
        assert!(err.contains("without the sticky bit"), "{err}");
        // ... but not with the sticky bit, as /tmp has.
        chmod(tmp.path(), 0o1777);
        assert!(check_plugin_path(&path, false).is_ok());
        chmod(tmp.path(), 0o700);

        // Group-writable: a warning only. Missing directories: nothing to import.
        chmod(&dir, 0o775);
        assert!(check_plugin_path(&path, false).is_ok());
        assert!(check_plugin_path(&["/nonexistent/plugins".into()], false).is_ok());
    }
}
