//! Durable state: a journal of changes, written off the loop, and the snapshot it is
//! compacted into.
//!
//! The broker records each change to durable state as it makes it (`Journal::record`),
//! into a buffer for the turn. At the end of the turn the buffer goes to the writer thread
//! (`writer.rs`), which appends it to the journal, syncs it if `persistence_sync fsync`
//! asks, and publishes how far it got (`Progress`); it wakes the loop when the loop waits
//! for it. An acknowledgement that promises durability is held until the records made
//! before it are written (`Journal::is_durable`). The loop never touches the disk.
//!
//! Records are handed over and written a turn's batch at a time, so how far the writer got
//! is a batch number: 1, 2, ... (wrapping, 0 never used), small enough to keep on every
//! connection.
//!
//! Files, recovery and repair: `files.rs`; the record format: `record.rs`; the state the
//! records describe: `state.rs`.

mod deliveries;
mod files;
mod mosquitto_db;
pub mod record;
pub mod state;
#[cfg(test)]
mod tests;
mod writer;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::Instant;

pub use deliveries::{message_of, stored_message, unix_seconds};
pub use files::{Files, Recovered};
pub use record::{Op, StoredMessage};
pub use state::{RetainSource, State, StoredDelivery, StoredSession};
pub use writer::COMPACT_MIN_BYTES;

/// Records handed to the writer but not yet written, past which the broker reads no more
/// input until the disk catches up: a disk slower than the traffic holds publishers back
/// instead of growing memory.
pub const BACKLOG_MAX: u64 = 64 << 20;

/// What an acknowledgement waits for (`persistence_sync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sync {
    /// Nothing: records are written within a turn or so, and a crash may lose the last.
    None,
    /// The records before it written to the operating system: a crash of midge (SIGKILL,
    /// OOM kill, panic) loses nothing acknowledged; a power loss may.
    Write,
    /// The records before it synced to the disk, one sync shared by all the turns written
    /// together: a power loss loses nothing acknowledged either.
    Fsync,
}

impl Sync {
    pub fn from_name(name: &str) -> Option<Sync> {
        Some(match name {
            "none" => Sync::None,
            "write" => Sync::Write,
            "fsync" => Sync::Fsync,
            _ => return None,
        })
    }
}

/// The persistence settings of the config file.
#[derive(Clone, Debug)]
pub struct Options {
    pub dir: PathBuf,
    /// `persistence_file`: the stem of midge's file names.
    pub stem: String,
    pub sync: Sync,
    /// `autosave_interval`: seconds between snapshots (changes, with `autosave_on_changes`);
    /// 0 for snapshots only when the journal has grown, and at shut-down.
    pub autosave_interval: u64,
    pub autosave_on_changes: bool,
}

/// How far the writer got, shared with the loop.
#[derive(Debug, Default)]
struct Progress {
    /// Bytes written, for the backlog.
    written: AtomicU64,
    /// The last batch written, and synced.
    written_batch: AtomicU32,
    synced_batch: AtomicU32,
    /// The loop waits for progress: wake it after the next write.
    wanted: AtomicBool,
}

/// One turn's records.
struct Batch {
    bytes: Vec<u8>,
    records: u32,
    number: u32,
}

/// The number of the `n`th batch handed over: 1, 2, ... u32::MAX, 1, ..., and 0, which
/// means "none", for the 0th.
fn batch_number(n: u64) -> u32 {
    match n {
        0 => 0,
        n => ((n - 1) % u64::from(u32::MAX) + 1) as u32,
    }
}

/// The loop's end of persistence.
pub struct Journal {
    pending: Vec<u8>,
    pending_records: u32,
    /// Bytes handed to the writer since start.
    handed: u64,
    /// Batches handed over since start, never wrapping (see `message_id`); the last one's
    /// number is `batch_number(batches)`.
    batches: u64,
    /// The last message id used, in this run or in the files.
    last_message_id: u64,
    now: Instant,
    sync: Sync,
    progress: Arc<Progress>,
    messages: Sender<writer::Message>,
    writer: Option<JoinHandle<()>>,
}

impl Journal {
    /// Recovers the state from the files, then starts the writer on a new journal. The
    /// journals recovery read are compacted into the snapshot meanwhile, apart.
    pub fn open(options: Options, waker: Arc<mio::Waker>) -> io::Result<(Journal, Recovered)> {
        let files = Files::new(&options.dir, &options.stem);
        let recovered = files.recover()?;
        let generation = recovered.generation + 1;
        let file = files.create_journal(generation, true)?;
        let compacting = files
            .journals()?
            .iter()
            .any(|g| *g < generation)
            .then(|| writer::compact_apart(files.clone(), generation - 1))
            .flatten();
        let progress = Arc::new(Progress::default());
        let (messages, receiver) = mpsc::channel();
        let sync = options.sync;
        let writer = writer::Writer {
            snapshot_len: std::fs::metadata(files.snapshot()).map_or(0, |m| m.len()),
            files,
            options,
            progress: Arc::clone(&progress),
            waker,
            file,
            generation,
            journal_len: files::header_len(),
        };
        let writer = std::thread::Builder::new()
            .name("midge-persist".into())
            .spawn(move || writer.run(receiver, compacting))?;
        let journal = Journal {
            pending: Vec::new(),
            pending_records: 0,
            handed: 0,
            batches: 0,
            last_message_id: recovered.state.last_message_id(),
            now: Instant::now(),
            sync,
            progress,
            messages,
            writer: Some(writer),
        };
        Ok((journal, recovered))
    }

    /// Records a change, to be handed to the writer at the end of the turn.
    pub fn record(&mut self, op: &Op) {
        op.encode(&mut self.pending);
        self.pending_records += 1;
    }

    /// Records a change whose body `body` writes (see `record::deliver_body`): the
    /// per-message records, encoded from borrowed fields.
    fn record_with(&mut self, body: impl FnOnce(&mut Vec<u8>)) {
        record::frame(&mut self.pending, body);
        self.pending_records += 1;
    }

    /// The batch the last record made is in, or will be once handed over.
    pub fn end(&self) -> u32 {
        let handed = u64::from(!self.pending.is_empty());
        batch_number(self.batches + handed)
    }

    /// Whether the records of `batch` and before are as durable as `persistence_sync`
    /// asks: always with `Sync::None`. Otherwise false also asks the writer to wake the
    /// loop after its next write.
    pub fn is_durable(&self, batch: u32) -> bool {
        let done = |order| match self.sync {
            Sync::None => batch,
            Sync::Write => self.progress.written_batch.load(order),
            Sync::Fsync => self.progress.synced_batch.load(order),
        };
        // Within 2^31 batches of each other, as anything waiting is.
        let reached = |done: u32| done.wrapping_sub(batch) as i32 >= 0;
        if reached(done(Ordering::Acquire)) {
            return true;
        }
        // Asked before looking again, so that a write finishing in between still wakes.
        self.want_wake();
        reached(done(Ordering::SeqCst))
    }

    /// Asks the writer to wake the loop after its next write.
    pub fn want_wake(&self) {
        self.progress.wanted.store(true, Ordering::SeqCst);
    }

    /// Hands the turn's records to the writer.
    pub fn hand_off(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        // Not counted as a change: it changes nothing but what compaction may forget.
        Op::BatchEnd.encode(&mut self.pending);
        let bytes = std::mem::take(&mut self.pending);
        self.handed += bytes.len() as u64;
        let records = std::mem::take(&mut self.pending_records);
        self.batches += 1;
        let number = batch_number(self.batches);
        // The writer ends only when told to or when it can no longer run; records after
        // that have nowhere to go either way.
        let _ = self.messages.send(writer::Message::Batch(Batch {
            bytes,
            records,
            number,
        }));
    }

    /// Bytes handed over and not yet written.
    pub fn backlog(&self) -> u64 {
        self.handed
            .saturating_sub(self.progress.written.load(Ordering::Acquire))
    }

    /// Writes everything, saves a snapshot and waits for the writer to end.
    pub fn close(&mut self) {
        self.hand_off();
        let _ = self.messages.send(writer::Message::Stop);
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.close();
    }
}
