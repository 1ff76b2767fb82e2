//! The writer thread: appends each loop turn's records to the journal, syncs them if asked,
//! tells the loop how far it got, and starts a compaction when the journal has grown.
//!
//! Batches from several turns that queued up while it wrote are written together and share
//! one sync: that is the group commit. A compaction runs on a thread of its own over
//! journals the writer has closed, so appends never wait for it.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::files::Files;
use super::{Batch, Options, Progress, Sync};
use crate::{log_error, log_notice};

/// A journal is compacted into the snapshot once it holds this much, or as much as the
/// last snapshot if that is more: the files stay within about twice the state.
pub const COMPACT_MIN_BYTES: u64 = 16 << 20;

/// How long the writer waits before trying again after a failed write or sync.
const RETRY: Duration = Duration::from_secs(1);

/// A disk slower than the traffic, for tests of what waits for it: while the file that
/// `MIDGE_TEST_WRITER_GATE` names exists, the writer writes nothing. Debug builds only.
#[cfg(debug_assertions)]
fn wait_at_test_gate() {
    static GATE: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    let gate = GATE.get_or_init(|| std::env::var_os("MIDGE_TEST_WRITER_GATE").map(Into::into));
    while gate.as_ref().is_some_and(|g| g.exists()) {
        std::thread::sleep(Duration::from_millis(2));
    }
}

pub(super) enum Message {
    Batch(Batch),
    /// Write what is left, compact, and end.
    Stop,
}

pub(super) struct Writer {
    pub files: Files,
    pub options: Options,
    pub progress: Arc<Progress>,
    pub waker: Arc<mio::Waker>,
    pub file: File,
    pub generation: u64,
    /// Bytes in the journal, its header included.
    pub journal_len: u64,
    /// Size of the snapshot the current journals follow.
    pub snapshot_len: u64,
}

impl Writer {
    /// Writes until told to stop. `compacting` is a compaction already started, of the
    /// journals recovery found.
    pub fn run(mut self, messages: Receiver<Message>, mut compacting: Option<JoinHandle<()>>) {
        let mut written = 0u64;
        let mut changes = 0u64;
        let mut last_save = Instant::now();
        let mut stop = false;
        let mut batches = Vec::new();
        while !stop {
            match messages.recv_timeout(RETRY) {
                Ok(message) => stop |= take(message, &mut batches),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => stop = true,
            }
            while let Ok(message) = messages.try_recv() {
                stop |= take(message, &mut batches);
            }
            if !batches.is_empty() {
                let bytes: u64 = batches.iter().map(|b: &Batch| b.bytes.len() as u64).sum();
                changes += batches.iter().map(|b| u64::from(b.records)).sum::<u64>();
                let last = batches.last().map_or(0, |b| b.number);
                self.append(&batches);
                batches.clear();
                written += bytes;
                self.progress.written.store(written, Ordering::SeqCst);
                self.progress.written_batch.store(last, Ordering::SeqCst);
                if self.options.sync == Sync::Fsync {
                    retry("sync", || self.file.sync_data());
                    self.progress.synced_batch.store(last, Ordering::SeqCst);
                }
                if self.progress.wanted.swap(false, Ordering::SeqCst) {
                    let _ = self.waker.wake();
                }
            }
            if compacting.as_ref().is_some_and(|c| c.is_finished()) {
                let _ = compacting.take().map(JoinHandle::join);
                self.snapshot_len = std::fs::metadata(self.files.snapshot()).map_or(0, |m| m.len());
            }
            let due = self.compaction_due(changes, last_save);
            if due && compacting.is_none() && !stop {
                compacting = self.rotate();
                changes = 0;
                last_save = Instant::now();
            }
        }
        let _ = compacting.map(JoinHandle::join);
        retry("sync", || self.file.sync_data());
        let saved = if self.journal_len > super::files::header_len() {
            self.files.compact(self.generation)
        } else {
            std::fs::remove_file(self.files.journal(self.generation))
        };
        if let Err(e) = saved {
            log_error!("Error: Unable to save persistence snapshot: {e}.");
        }
    }

    /// Appends the batches. A failed write is cut back to the last whole batch and tried
    /// again until it succeeds: the records stay in order and acknowledgements wait.
    fn append(&mut self, batches: &[Batch]) {
        #[cfg(debug_assertions)]
        wait_at_test_gate();
        let bytes: Vec<&[u8]> = batches.iter().map(|b| b.bytes.as_slice()).collect();
        let len: u64 = bytes.iter().map(|b| b.len() as u64).sum();
        let start = self.journal_len;
        retry("write", || {
            let result = bytes.iter().try_for_each(|b| self.file.write_all(b));
            if result.is_err() {
                self.file.set_len(start)?;
                use std::io::Seek;
                self.file.seek(io::SeekFrom::Start(start))?;
            }
            result
        });
        self.journal_len += len;
    }

    fn compaction_due(&self, changes: u64, last_save: Instant) -> bool {
        let journal = self.journal_len - super::files::header_len();
        if journal == 0 {
            return false;
        }
        if journal >= COMPACT_MIN_BYTES.max(self.snapshot_len) {
            return true;
        }
        let interval = self.options.autosave_interval;
        match interval {
            0 => false,
            n if self.options.autosave_on_changes => changes >= n,
            n => last_save.elapsed() >= Duration::from_secs(n),
        }
    }

    /// Closes the journal, opens the next and compacts the closed ones into the snapshot
    /// on a thread of its own.
    fn rotate(&mut self) -> Option<JoinHandle<()>> {
        let through = self.generation;
        // Synced, with its directory entry, only where acknowledgements wait for syncs: the
        // old journal's batches are synced already then, and without `fsync` no sync is
        // promised at all. Syncs here hold up the writer, and every acknowledgement with it.
        let sync = self.options.sync == Sync::Fsync;
        let next = match self.files.create_journal(through + 1, sync) {
            Ok(file) => file,
            Err(e) => {
                log_error!("Error: Unable to open persistence journal: {e}.");
                return None;
            }
        };
        self.file = next;
        self.generation = through + 1;
        self.journal_len = super::files::header_len();
        let files = self.files.clone();
        compact_apart(files, through)
    }
}

/// Compacts the journals up to `through` into the snapshot on a thread of its own.
pub(super) fn compact_apart(files: Files, through: u64) -> Option<JoinHandle<()>> {
    let snapshot = files.snapshot();
    std::thread::Builder::new()
        .name("midge-compact".into())
        .spawn(move || match files.compact(through) {
            Ok(()) => log_notice!("Saved persistence snapshot {}.", snapshot.display()),
            Err(e) => log_error!("Error: Unable to save persistence snapshot: {e}."),
        })
        .ok()
}

/// Adds a message's batch to `batches`; true for `Stop`.
fn take(message: Message, batches: &mut Vec<Batch>) -> bool {
    match message {
        Message::Batch(batch) => {
            batches.push(batch);
            false
        }
        Message::Stop => true,
    }
}

/// Runs `op` until it succeeds, logging the first failure of a run of them.
fn retry(what: &str, mut op: impl FnMut() -> io::Result<()>) {
    let mut failed = false;
    while let Err(e) = op() {
        if !failed {
            log_error!("Error: Persistence {what} failed: {e}; trying again every second.");
            failed = true;
        }
        std::thread::sleep(RETRY);
    }
    if failed {
        log_notice!("Persistence {what} succeeded again.");
    }
}
