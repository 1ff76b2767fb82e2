//! The files in `persistence_location`: one snapshot and the journals written after it.
//!
//! `P` (`persistence_file`, `mosquitto.db` by default) is a snapshot: the whole state as of
//! the end of journal generation G, named in its header. `P.N.log` is journal generation
//! N: the changes made after generation N - 1, appended as they happen. Recovery reads the
//! snapshot and then every journal after G in order. A snapshot is written to `P.tmp`,
//! synced, renamed over `P` and the directory synced; only then are the journals it covers
//! removed, so a crash at any point leaves a set of files that recovers the same state,
//! and a clean shut-down leaves `P` alone, as mosquitto does.
//!
//! Damage never stops the broker: a journal's torn or garbage tail is cut at its last whole
//! record; a file that is not a midge file of a format this build reads (zero-filled by a
//! power loss, say, or written by a newer midge) is renamed aside to `NAME.damaged` and left
//! for the operator. A mosquitto 2.0 database where the snapshot goes is imported
//! (`mosquitto_db.rs`) and kept as `NAME.mosquitto`; one that cannot be is only renamed
//! so. Each is logged.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::record::{End, FORMAT, MAGIC, Op, Records, Role};
use super::state::State;
use crate::{log_notice, log_warning};

/// What mosquitto's own database files start with.
use super::mosquitto_db::MAGIC as MOSQUITTO_MAGIC;

#[derive(Clone, Debug)]
pub struct Files {
    dir: PathBuf,
    stem: String,
}

/// What recovery found.
#[derive(Debug, Default)]
pub struct Recovered {
    pub state: State,
    /// The newest generation read; the broker's journal is the next.
    pub generation: u64,
    /// Records read, in all files.
    pub records: u64,
    /// Files read.
    pub files: usize,
}

impl Files {
    pub fn new(dir: &Path, stem: &str) -> Files {
        Files {
            dir: dir.to_path_buf(),
            stem: stem.to_string(),
        }
    }

    pub fn snapshot(&self) -> PathBuf {
        self.dir.join(&self.stem)
    }

    pub fn journal(&self, generation: u64) -> PathBuf {
        self.dir.join(format!("{}.{generation}.log", self.stem))
    }

    fn temp(&self) -> PathBuf {
        self.dir.join(format!("{}.tmp", self.stem))
    }

    /// The generations of the journals present, oldest first.
    pub fn journals(&self) -> io::Result<Vec<u64>> {
        let prefix = format!("{}.", self.stem);
        let mut generations: Vec<u64> = fs::read_dir(&self.dir)?
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                name.strip_prefix(&prefix)?
                    .strip_suffix(".log")?
                    .parse()
                    .ok()
            })
            .collect();
        generations.sort_unstable();
        Ok(generations)
    }

    /// Reads the snapshot and the journals after it into one state, repairing as it goes:
    /// torn journal tails are cut, unreadable files moved aside, journals the snapshot
    /// already covers and an unfinished snapshot removed.
    pub fn recover(&self) -> io::Result<Recovered> {
        fs::create_dir_all(&self.dir)?;
        remove_if_present(&self.temp())?;
        let mut recovered = Recovered::default();
        let snapshot = self.snapshot();
        self.import_mosquitto(&snapshot)?;
        if let Some(read) = self.read(&snapshot, Role::Snapshot, &mut recovered)? {
            if let End::Damaged { offset } = read.end {
                // Written whole and renamed into place, a snapshot has no torn tail; what
                // could be read is kept, and the next snapshot replaces the file.
                log_warning!(
                    "Warning: Persistence file {} is damaged at byte {offset}; the records after it are lost.",
                    snapshot.display()
                );
            }
            recovered.generation = read.generation;
        }
        let covered = recovered.generation;
        for generation in self.journals()? {
            let path = self.journal(generation);
            if generation <= covered {
                fs::remove_file(&path)?;
                continue;
            }
            if let Some(read) = self.read(&path, Role::Journal, &mut recovered)?
                && let End::Damaged { offset } = read.end
            {
                log_notice!(
                    "Persistence journal {} ends in a damaged or incomplete record at byte {offset} of {}; cut there.",
                    path.display(),
                    read.len
                );
                OpenOptions::new()
                    .write(true)
                    .open(&path)?
                    .set_len(offset as u64)?;
            }
            recovered.generation = recovered.generation.max(generation);
        }
        Ok(recovered)
    }

    /// A mosquitto 2.0 database where the snapshot goes, left there by the mosquitto midge
    /// replaces, becomes midge's snapshot; the database itself is kept beside it, renamed
    /// `NAME.mosquitto`. One midge cannot read stays where it is, for `read` to move aside.
    fn import_mosquitto(&self, snapshot: &Path) -> io::Result<()> {
        let data = match fs::read(snapshot) {
            Ok(data) if data.starts_with(MOSQUITTO_MAGIC) => data,
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let (state, imported) = match super::mosquitto_db::import(&data) {
            Ok(found) => found,
            Err(why) => {
                log_warning!(
                    "Warning: Persistence file {} is a mosquitto database midge cannot import: it {why}.",
                    snapshot.display()
                );
                return Ok(());
            }
        };
        let mut aside = snapshot.as_os_str().to_owned();
        aside.push(".mosquitto");
        fs::rename(snapshot, &aside)?;
        self.write_snapshot(&state, 0)?;
        log_notice!(
            "Imported mosquitto's database {}: {} sessions, {} subscriptions, {} retained messages, {} queued messages; the file is kept as {}.",
            snapshot.display(),
            imported.sessions,
            imported.subscriptions,
            imported.retained,
            imported.messages,
            Path::new(&aside).display()
        );
        Ok(())
    }

    /// Applies one file's records to `recovered`. `None` if the file is absent or was
    /// unreadable and has been moved aside.
    fn read(
        &self,
        path: &Path,
        role: Role,
        recovered: &mut Recovered,
    ) -> io::Result<Option<FileRead>> {
        let data = match fs::read(path) {
            Ok(data) => Bytes::from(data),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = data.len();
        let mut records = Records::new(data.clone(), MAGIC.len());
        let header = match data.starts_with(MAGIC).then(|| records.next()).flatten() {
            Some(Op::Header {
                format,
                role: found,
                generation,
            }) if format <= FORMAT && found == role => Ok(generation),
            Some(Op::Header { format, .. }) if format > FORMAT => Err(format!(
                "written in format {format}, newer than this midge's ({FORMAT})"
            )),
            _ if role == Role::Journal && len < 64 && zero_or_magic_prefix(&data) => {
                // Created, but its header never reached the disk: nothing was lost.
                fs::remove_file(path)?;
                return Ok(None);
            }
            _ if data.starts_with(MOSQUITTO_MAGIC) => {
                Err("a mosquitto database, which midge does not read".to_string())
            }
            _ => Err("not a midge persistence file".to_string()),
        };
        let generation = match header {
            Ok(generation) => generation,
            Err(why) => {
                let suffix = match data.starts_with(MOSQUITTO_MAGIC) {
                    true => ".mosquitto",
                    false => ".damaged",
                };
                let mut aside = path.as_os_str().to_owned();
                aside.push(suffix);
                let aside = PathBuf::from(aside);
                fs::rename(path, &aside)?;
                log_warning!(
                    "Warning: Persistence file {} is {why}; moved aside to {} and not read.",
                    path.display(),
                    aside.display()
                );
                return Ok(None);
            }
        };
        while let Some(record) = records.next_record() {
            // Changes are counted; the ends of batches are not changes.
            let change = !matches!(record, super::record::Record::Other(Op::BatchEnd));
            recovered.state.apply_record(record);
            recovered.records += u64::from(change);
        }
        recovered.files += 1;
        Ok(Some(FileRead {
            generation,
            end: records.end().unwrap_or(End::Clean),
            len,
        }))
    }

    /// Creates journal `generation`, empty but for its header.
    pub fn create_journal(&self, generation: u64, sync: bool) -> io::Result<File> {
        let path = self.journal(generation);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)?;
        file.write_all(&header(Role::Journal, generation))?;
        if sync {
            file.sync_all()?;
            sync_dir(&self.dir)?;
        }
        Ok(file)
    }

    /// Rewrites the snapshot to cover every journal up to `through`, then removes them.
    /// Reads the files rather than being handed the state, so that the broker's loop never
    /// pauses for it and the state is built by the same code that recovers it.
    pub fn compact(&self, through: u64) -> io::Result<()> {
        let mut recovered = Recovered::default();
        if let Some(read) = self.read(&self.snapshot(), Role::Snapshot, &mut recovered)? {
            recovered.generation = read.generation;
        }
        let covered = recovered.generation;
        let journals: Vec<u64> = self
            .journals()?
            .into_iter()
            .filter(|g| *g <= through)
            .collect();
        for &generation in journals.iter().filter(|g| **g > covered) {
            self.read(&self.journal(generation), Role::Journal, &mut recovered)?;
        }
        self.write_snapshot(&recovered.state, through)?;
        for generation in journals {
            remove_if_present(&self.journal(generation))?;
        }
        Ok(())
    }

    fn write_snapshot(&self, state: &State, generation: u64) -> io::Result<()> {
        let temp = self.temp();
        let mut file = File::create(&temp)?;
        let mut buf = header(Role::Snapshot, generation);
        for op in state.ops() {
            op.encode(&mut buf);
            if buf.len() >= 1 << 20 {
                file.write_all(&buf)?;
                buf.clear();
            }
        }
        file.write_all(&buf)?;
        file.sync_all()?;
        fs::rename(&temp, self.snapshot())?;
        sync_dir(&self.dir)
    }
}

struct FileRead {
    generation: u64,
    end: End,
    len: usize,
}

/// The bytes of a file's magic and header.
pub fn header_len() -> u64 {
    header(Role::Journal, 0).len() as u64
}

/// A file's magic and header record.
fn header(role: Role, generation: u64) -> Vec<u8> {
    let mut buf = MAGIC.to_vec();
    Op::Header {
        format: FORMAT,
        role,
        generation,
    }
    .encode(&mut buf);
    buf
}

/// Whether `data` is what a journal holds before its header is whole: nothing, zeros, or
/// the start of its magic.
fn zero_or_magic_prefix(data: &[u8]) -> bool {
    data.iter().all(|b| *b == 0) || MAGIC.starts_with(&data[..data.len().min(MAGIC.len())])
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Makes a rename or a new file in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
