//! The zip of a full export, written as a stream into the sealed media store: the export job
//! hands entries and bytes to a zip writer on a blocking thread of its own (the `zip` crate is
//! synchronous), whose output goes through a bounded channel to an upload that seals it chunk by
//! chunk with the tenant's key ([`crate::media::store::SealedWriter`]). Nothing is written in
//! clear anywhere, and memory stays bounded: a few buffers of [`BUFFER`] bytes per channel, the
//! deflate state and the upload's parts in flight, whatever the size of the export.

use crate::media::store::{MediaStore, MediaStoreError};
use confide_crypto::media::MediaSealer;
use std::io::Write;
use tokio::sync::mpsc;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// Bytes gathered before they are handed on (to the zip thread, then to the upload).
const BUFFER: usize = 256 * 1024;
/// Buffers waiting in each channel at most.
const IN_FLIGHT: usize = 4;

enum Cmd {
    /// A new entry: its name and whether it is deflated (JSON, CSV) or stored (media).
    Start(String, bool),
    Data(Vec<u8>),
    Finish,
}

/// Why the zip could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ZipSinkError {
    #[error("zip: {0}")]
    Zip(String),
    #[error(transparent)]
    Storage(#[from] MediaStoreError),
}

/// The zip's output, one buffer at a time, to the upload; an empty buffer marks the end of a
/// complete archive (a channel closed without it is an abandoned one).
struct ChannelWriter {
    tx: mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn hand_on(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(BUFFER));
        self.tx
            .blocking_send(full)
            .map_err(|_| std::io::Error::other("the export upload stopped"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BUFFER {
            self.hand_on()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.hand_on()
    }
}

/// A zip being written into the media store.
pub(crate) struct ZipSink {
    cmds: mpsc::Sender<Cmd>,
    buf: Vec<u8>,
    zipper: tokio::task::JoinHandle<Result<(), String>>,
    upload: tokio::task::JoinHandle<Result<u64, MediaStoreError>>,
}

/// The zip's time stamp (entries carry the export's time, from the injected clock).
fn zip_time(at: time::OffsetDateTime) -> DateTime {
    DateTime::from_date_and_time(
        u16::try_from(at.year()).unwrap_or(1980),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
    )
    .unwrap_or_default()
}

fn zip_thread(
    mut cmds: mpsc::Receiver<Cmd>,
    out: mpsc::Sender<Vec<u8>>,
    at: DateTime,
) -> Result<(), String> {
    let mut zip = ZipWriter::new_stream(ChannelWriter {
        tx: out,
        buf: Vec::with_capacity(BUFFER),
    });
    let options = SimpleFileOptions::default()
        .last_modified_time(at)
        .large_file(true)
        .unix_permissions(0o600);
    while let Some(cmd) = cmds.blocking_recv() {
        match cmd {
            Cmd::Start(name, deflate) => {
                let method = if deflate {
                    CompressionMethod::Deflated
                } else {
                    CompressionMethod::Stored
                };
                zip.start_file(name, options.compression_method(method))
                    .map_err(|e| e.to_string())?;
            }
            Cmd::Data(d) => zip.write_all(&d).map_err(|e| e.to_string())?,
            Cmd::Finish => {
                let mut w = zip.finish().map_err(|e| e.to_string())?.into_inner();
                w.flush().map_err(|e| e.to_string())?;
                // The end mark: the archive is complete.
                w.tx.blocking_send(Vec::new())
                    .map_err(|_| "the export upload stopped".to_string())?;
                return Ok(());
            }
        }
    }
    Err("the export was abandoned".into())
}

impl ZipSink {
    /// Starts a zip at `key`, sealed by `sealer`, its entries dated `at`.
    pub(crate) async fn open(
        media: &MediaStore,
        key: &str,
        sealer: MediaSealer,
        at: time::OffsetDateTime,
    ) -> Result<ZipSink, ZipSinkError> {
        let mut writer = media.writer(key, sealer).await?;
        let (cmds, cmds_rx) = mpsc::channel(IN_FLIGHT);
        let (out, mut out_rx) = mpsc::channel::<Vec<u8>>(IN_FLIGHT);
        let stamp = zip_time(at);
        let zipper = tokio::task::spawn_blocking(move || zip_thread(cmds_rx, out, stamp));
        let upload = tokio::spawn(async move {
            while let Some(chunk) = out_rx.recv().await {
                if chunk.is_empty() {
                    return writer.finish().await;
                }
                if let Err(e) = writer.write(&chunk).await {
                    writer.abort().await;
                    return Err(e);
                }
            }
            writer.abort().await;
            Err(MediaStoreError::Seal(
                "the export zip was not completed".into(),
            ))
        });
        Ok(ZipSink {
            cmds,
            buf: Vec::with_capacity(BUFFER),
            zipper,
            upload,
        })
    }

    async fn send(&mut self, cmd: Cmd) -> Result<(), ZipSinkError> {
        if self.cmds.send(cmd).await.is_err() {
            // The zip thread stopped: its error says why.
            return Err(ZipSinkError::Zip("the zip writer stopped".into()));
        }
        Ok(())
    }

    async fn hand_on(&mut self) -> Result<(), ZipSinkError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(BUFFER));
        self.send(Cmd::Data(full)).await
    }

    /// Starts the next entry (the previous one ends).
    pub(crate) async fn start(&mut self, name: &str, deflate: bool) -> Result<(), ZipSinkError> {
        self.hand_on().await?;
        self.send(Cmd::Start(name.to_string(), deflate)).await
    }

    /// Appends to the current entry.
    pub(crate) async fn write(&mut self, data: &[u8]) -> Result<(), ZipSinkError> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BUFFER {
            self.hand_on().await?;
        }
        Ok(())
    }

    /// Completes the archive and the upload: the zip's size in bytes.
    pub(crate) async fn finish(mut self) -> Result<u64, ZipSinkError> {
        let sent = match self.hand_on().await {
            Ok(()) => self.send(Cmd::Finish).await,
            Err(e) => Err(e),
        };
        drop(self.cmds);
        let zipped = self
            .zipper
            .await
            .map_err(|e| ZipSinkError::Zip(e.to_string()))?;
        let uploaded = self
            .upload
            .await
            .map_err(|e| ZipSinkError::Zip(e.to_string()))?;
        zipped.map_err(ZipSinkError::Zip)?;
        sent?;
        Ok(uploaded?)
    }

    /// Abandons the archive: the upload is aborted, nothing stays in storage.
    pub(crate) async fn abort(self) {
        drop(self.cmds);
        let _ = self.zipper.await;
        let _ = self.upload.await;
    }
}
