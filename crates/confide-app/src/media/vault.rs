//! The media vault: sealed objects under a private directory (0700 directories, 0600 files,
//! written atomically). Object keys are `<tenant>/<message>`; no key comes from request input.

use confide_core::ids::{MessageId, TenantId};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct MediaVault {
    root: PathBuf,
}

impl MediaVault {
    /// The vault named by `media_url` (`file://PATH`).
    pub fn from_url(url: &str) -> Result<MediaVault, String> {
        let path = url
            .strip_prefix("file://")
            .ok_or_else(|| format!("media_url: {url:?} is not a file:// URL"))?;
        if path.is_empty() {
            return Err("media_url: the path is empty".into());
        }
        Ok(MediaVault {
            root: PathBuf::from(path),
        })
    }

    pub fn key(tenant: TenantId, message: MessageId) -> String {
        format!("{tenant}/{message}")
    }

    fn path(&self, tenant: TenantId, message: MessageId) -> PathBuf {
        self.root.join(tenant.to_string()).join(message.to_string())
    }

    /// Stores a sealed object, replacing any earlier one atomically.
    pub fn put(
        &self,
        tenant: TenantId,
        message: MessageId,
        sealed: &[u8],
    ) -> std::io::Result<String> {
        let path = self.path(tenant, message);
        let dir = path.parent().unwrap_or(&self.root);
        create_private_dir(dir)?;
        let tmp = dir.join(format!(".{message}.tmp"));
        {
            let mut f = private_file(&tmp)?;
            f.write_all(sealed)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        Ok(Self::key(tenant, message))
    }

    /// Reads a sealed object.
    pub fn get(&self, tenant: TenantId, message: MessageId) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.path(tenant, message))
    }
}

/// Erasure: deleting objects. An object that is not there is already gone.
impl MediaVault {
    /// Deletes the object of one message (its contact was erased, or retention expired it).
    pub fn delete(&self, tenant: TenantId, message: MessageId) -> std::io::Result<bool> {
        match std::fs::remove_file(self.path(tenant, message)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes every object of a tenant (tenant erasure).
    pub fn delete_tenant(&self, tenant: TenantId) -> std::io::Result<()> {
        match std::fs::remove_dir_all(self.root.join(tenant.to_string())) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}
