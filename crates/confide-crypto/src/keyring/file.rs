//! The keyring file on disk: loading (refused when group or others may access it), atomic
//! `0600` saves, and `create_new`, which never overwrites.

use super::Keyring;
use super::error::KeyringError;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// A keyring file is a few hundred bytes per key; anything this large is not one.
const MAX_FILE_LEN: u64 = 1 << 20;

impl Keyring {
    /// Reads a keyring file. On unix, refuses a file whose mode grants group or others any access.
    pub fn load(path: &Path) -> Result<Self, KeyringError> {
        let read_error = |source: io::Error| match source.kind() {
            io::ErrorKind::NotFound => KeyringError::NotFound {
                path: path.to_owned(),
            },
            _ => KeyringError::Read {
                path: path.to_owned(),
                source,
            },
        };
        let malformed = |reason: String| KeyringError::Malformed {
            origin: path.display().to_string(),
            reason,
        };
        let mut file = File::open(path).map_err(read_error)?;
        let meta = file.metadata().map_err(read_error)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyringError::InsecurePermissions {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        if meta.len() > MAX_FILE_LEN {
            return Err(malformed(format!(
                "the file is larger than {MAX_FILE_LEN} bytes"
            )));
        }
        // Sized up front so reading does not reallocate and leave unzeroized copies behind.
        let capacity = usize::try_from(meta.len()).unwrap_or(0) + 1;
        let mut text = Zeroizing::new(String::with_capacity(capacity));
        file.read_to_string(&mut text).map_err(read_error)?;
        Self::parse(&text).map_err(malformed)
    }

    /// Writes the keyring to `path` atomically: a `0600` temporary file in the same directory,
    /// then a rename over the old file. Creates a missing directory with mode `0700`.
    pub fn save(&self, path: &Path) -> Result<(), KeyringError> {
        let tmp = self.write_temp(path)?;
        if let Err(source) = fs::rename(&tmp, path) {
            remove_quietly(&tmp);
            return Err(write_error(path, source));
        }
        sync_parent(path)
    }

    /// Like [`save`](Self::save), but fails with [`KeyringError::AlreadyExists`] instead of
    /// replacing an existing file (for `confide keys init`).
    pub fn create_new(&self, path: &Path) -> Result<(), KeyringError> {
        let exists = || KeyringError::AlreadyExists {
            path: path.to_owned(),
        };
        if path.symlink_metadata().is_ok() {
            return Err(exists());
        }
        let tmp = self.write_temp(path)?;
        // A hard link, unlike a rename, never replaces an existing file.
        let linked = fs::hard_link(&tmp, path);
        remove_quietly(&tmp);
        match linked {
            Ok(()) => sync_parent(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(exists()),
            Err(source) => Err(write_error(path, source)),
        }
    }

    /// Writes the keyring to a fresh `0600` temporary file next to `path` and returns its path.
    fn write_temp(&self, path: &Path) -> Result<PathBuf, KeyringError> {
        let json = self.to_json()?;
        let name = path.file_name().ok_or_else(|| {
            write_error(
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
            )
        })?;
        let dir = parent_dir(path);
        if !dir.exists() {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(|e| write_error(path, e))?;
        }
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        // A stale file from a crash would keep its old mode; start from nothing.
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(write_error(path, e)),
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&tmp).and_then(|mut file| {
            file.write_all(json.as_bytes())?;
            file.sync_all()
        });
        match written {
            Ok(()) => Ok(tmp),
            Err(e) => {
                remove_quietly(&tmp);
                Err(write_error(path, e))
            }
        }
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn write_error(path: &Path, source: io::Error) -> KeyringError {
    KeyringError::Write {
        path: path.to_owned(),
        source,
    }
}

/// Best-effort cleanup of a temporary file; the original error matters more.
fn remove_quietly(path: &Path) {
    let _ = fs::remove_file(path);
}

/// Makes a rename or link into the keyring's directory durable.
fn sync_parent(path: &Path) -> Result<(), KeyringError> {
    #[cfg(unix)]
    File::open(parent_dir(path))
        .and_then(|dir| dir.sync_all())
        .map_err(|e| write_error(path, e))?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::tests::keyring;
    use confide_core::clock::ManualClock;
    use confide_core::entropy::SeededEntropy;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn save_then_load_round_trips_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/nested/keyring.json");
        let k = keyring(13);
        k.save(&path).unwrap();
        #[cfg(unix)]
        {
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
            assert_eq!(mode(&dir.path().join("keys")), 0o700);
        }
        let loaded = Keyring::load(&path).unwrap();
        assert_eq!(loaded.status(), k.status());
        assert_eq!(
            loaded.platform_blind_index("p", b"v"),
            k.platform_blind_index("p", b"v")
        );
    }

    #[test]
    fn save_replaces_atomically_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let clock = ManualClock::at_epoch_2026();
        let e = SeededEntropy::new(14);
        let mut k = Keyring::generate(&clock, &e);
        k.save(&path).unwrap();
        let new_id = k.rotate(&clock, &e);
        k.save(&path).unwrap();
        assert_eq!(Keyring::load(&path).unwrap().primary_kek_id(), new_id);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["keyring.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn save_tightens_a_previously_loose_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        keyring(15).save(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn create_new_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let first = keyring(16);
        first.create_new(&path).unwrap();
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        let before = fs::read(&path).unwrap();
        let err = keyring(17).create_new(&path).unwrap_err();
        assert!(matches!(&err, KeyringError::AlreadyExists { path: p } if *p == path));
        assert!(err.to_string().contains(&path.display().to_string()));
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn load_refuses_group_or_world_access() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let k = keyring(18);
        k.save(&path).unwrap();
        for loose in [0o640, 0o604, 0o644, 0o660, 0o700 | 0o001] {
            fs::set_permissions(&path, fs::Permissions::from_mode(loose)).unwrap();
            let err = Keyring::load(&path).unwrap_err();
            assert!(
                matches!(err, KeyringError::InsecurePermissions { mode, .. } if mode == loose),
                "{loose:o}"
            );
            let message = err.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains(&format!("{loose:03o}")), "{message}");
            assert!(message.contains("chmod 600"), "{message}");
        }
        for tight in [0o600, 0o400] {
            fs::set_permissions(&path, fs::Permissions::from_mode(tight)).unwrap();
            assert!(Keyring::load(&path).is_ok(), "{tight:o}");
        }
    }

    #[test]
    fn load_names_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.json");
        let err = Keyring::load(&path).unwrap_err();
        assert!(matches!(&err, KeyringError::NotFound { path: p } if *p == path));
        assert!(err.to_string().contains("keys init"));
    }

    #[cfg(unix)]
    #[test]
    fn load_reports_unreadable_files() {
        use std::os::unix::fs::DirBuilderExt as _;
        let dir = tempfile::tempdir().unwrap();
        // A private directory opens but cannot be read as a file.
        let sub = dir.path().join("sub");
        fs::DirBuilder::new().mode(0o700).create(&sub).unwrap();
        let err = Keyring::load(&sub).unwrap_err();
        assert!(matches!(err, KeyringError::Read { .. }), "{err}");
        let path = dir.path().join("keyring.json");
        let mut options = OpenOptions::new();
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.write(true).create_new(true).open(&path).unwrap();
        file.write_all(&[0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(
            Keyring::load(&path),
            Err(KeyringError::Read { .. })
        ));
    }

    #[test]
    fn malformed_file_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let mut options = OpenOptions::new();
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.write(true).create_new(true).open(&path).unwrap();
        file.write_all(b"{}").unwrap();
        let message = Keyring::load(&path).unwrap_err().to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
}
