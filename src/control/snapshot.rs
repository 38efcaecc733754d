//! Snapshots: the whole flow table of a running appliance in one file, so
//! that a restart routes every flow to the node it had before.
//!
//! A snapshot holds the key kind ([`FlowKey::KIND`]), the number of nodes,
//! each node's [`NodeState`] and weight, and every flow (key → node).
//! [`write()`] replaces a snapshot atomically; [`load`] reads one back and
//! refuses, with one line naming the file (and the line where there is
//! one), anything it cannot trust whole.
//!
//! # Format (version 1)
//!
//! ```text
//! # efd-lb snapshot v1
//! key_kind ipv4_dst
//! nodes 3
//! node 0 active 1
//! node 1 draining 1
//! node 2 out 0
//! # flows: key,node
//! 10.0.0.1,0
//! 10.0.0.2,1
//! end 2
//! ```
//!
//! * Line 1 is the versioned header, exactly `# efd-lb snapshot v1`. A
//!   reader refuses another version rather than guess.
//! * `key_kind <kind>`, `nodes <count>`, then one `node <id> <state>
//!   <weight>` line per node, ids `0..count` in order, states as in the API
//!   (`active`, `draining`, `out`).
//! * The flows, one `key,node` line each: the flow-file format (see
//!   [`crate::flows::load_flow_file`]) and its parser, so the same keys,
//!   the same errors, node ids below `count`, no key twice.
//! * `end <flows>`, the number of flow lines, then a newline: the last line
//!   of the file. A file that stops anywhere before it (a copy cut short,
//!   a full disk outside [`write()`]) does not end with an end line and a
//!   newline, or its count disagrees, and is refused as truncated.
//!
//! Between the header and the end line, blank lines and `#` comments
//! (whole-line or trailing) are ignored, as in flow files, so a snapshot
//! can be annotated by hand.
//!
//! ## Why text
//!
//! A snapshot is what an operator inspects and repairs when a restart goes
//! wrong, so it is readable with standard tools: `head` shows the nodes,
//! `tail -n 1` the flow count, `grep -c , FILE` counts flows, `awk -F,
//! '$2 == 3' FILE` lists node 3's flows, `diff` compares two snapshots, and
//! `grep , FILE > flows.csv` is a flow file for `--flow-file` (no metadata
//! line has a comma). The flow lines are the flow-file format, so one
//! parser and one set of error messages serve both. The cost is size and
//! speed against a binary dump: about 16 bytes per IPv4 flow (16 MB for a
//! million flows) and one text parse per line, which still loads a million
//! flows in a small fraction of a second in a release build (see the
//! `restart_routes_a_million_flows_to_the_same_nodes` test). The header
//! carries a version so that a later, different format is refused by this
//! reader instead of misread. There is no checksum: [`write()`] never leaves
//! a partial file under the snapshot's name, truncation by other means is
//! caught by the end line, and a damaged line is refused by the parser
//! unless it still reads as a valid flow.
//!
//! # Atomic replacement
//!
//! [`write()`] writes to a temporary file in the snapshot's directory, named
//! `.<name>.tmp-<pid>-<n>` and created exclusively, fsyncs it, renames it
//! over the snapshot and fsyncs the directory. The snapshot's name holds
//! either the previous snapshot or the new one, whole, at every instant,
//! also across a crash or power loss (on a file system that keeps fsync's
//! promises, as ext4 and xfs do). On an error before the rename the
//! temporary file is removed and the previous snapshot is untouched.
//!
//! A writer killed before the rename (SIGKILL, a crash) leaves its
//! temporary file behind; [`load`] never reads it. The next [`write()`] to
//! the same snapshot removes such stale files first, and
//! [`remove_stale_temp_files`] does it on its own (for example at
//! start-up). A temporary file is stale when the process that made it is
//! gone, or when it carries this process's id but is not one of this
//! process's writes in progress (a previous incarnation with the same pid,
//! as in a container). Removing a file that was in fact still being
//! written can only make that write fail at its rename; it never damages
//! the snapshot.

#![forbid(unsafe_code)]

use super::status::NodeState;
use crate::flows::{self, io_error_text, Flow, FlowFileError};
use crate::ids::NodeId;
use crate::key::FlowKey;
use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The version of the format this module writes and reads.
pub const VERSION: u32 = 1;

/// The first line of a snapshot without its version number.
const MAGIC: &str = "# efd-lb snapshot v";

/// The first line of a snapshot of this version.
pub const HEADER: &str = "# efd-lb snapshot v1";

/// What [`write()`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The snapshot.
    pub path: PathBuf,
    /// Flows in it.
    pub flows: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A snapshot read back by [`load`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot<K> {
    /// Each node's state and weight, by node id.
    pub nodes: Vec<(NodeState, u32)>,
    /// Every flow, in file order.
    pub flows: Vec<Flow<K>>,
}

/// Why a snapshot could not be written or loaded. `Display` is one line
/// starting with `path:` or `path:line:`.
#[derive(Debug)]
pub enum SnapshotError {
    /// A file operation failed.
    Io {
        /// The snapshot.
        path: PathBuf,
        /// What was being done ("reading", "writing .snap.tmp-1-0", ...).
        action: String,
        /// The underlying error.
        source: io::Error,
    },
    /// [`write()`] was given something [`load`] would refuse; nothing was
    /// replaced.
    Invalid {
        /// The snapshot.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file is not UTF-8 text.
    NotUtf8 {
        /// The snapshot.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: usize,
    },
    /// The first line is not a snapshot header.
    NotASnapshot {
        /// The file.
        path: PathBuf,
        /// Its first line (shortened).
        first_line: String,
    },
    /// The header names a version this build does not read.
    Version {
        /// The snapshot.
        path: PathBuf,
        /// The version as written after `v`.
        found: String,
    },
    /// The snapshot is of another key kind.
    KeyKind {
        /// The snapshot.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The kind in the file.
        found: String,
        /// The kind asked for ([`FlowKey::KIND`]).
        expected: &'static str,
    },
    /// The snapshot has another number of nodes than the appliance.
    NodeCount {
        /// The snapshot.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The count in the file.
        found: u64,
        /// The appliance's number of nodes.
        expected: u16,
    },
    /// A metadata line (`key_kind`, `nodes`, `end`, ...) is missing or not
    /// of its form.
    BadLine {
        /// The snapshot.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was expected there (quoted forms).
        expected: &'static str,
        /// The line (comment removed, trimmed).
        text: String,
    },
    /// A `node` line is wrong.
    BadNode {
        /// The snapshot.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The line (comment removed, trimmed).
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A flow line is wrong: its form, key or node, a node out of range, a
    /// key seen before (line numbers are the snapshot's).
    Flow(FlowFileError),
    /// The file stops before its end line or disagrees with it.
    Truncated {
        /// The snapshot.
        path: PathBuf,
        /// 1-based line of the end line, if there is one.
        line: Option<usize>,
        /// What shows it.
        detail: String,
    },
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SnapshotError::*;
        match self {
            Io {
                path,
                action,
                source,
            } => write!(f, "{}: {action}: {}", path.display(), io_error_text(source)),
            Invalid { path, reason } => {
                write!(f, "{}: snapshot not written: {reason}", path.display())
            }
            NotUtf8 { path, line } => {
                write!(f, "{}:{line}: not UTF-8 text", path.display())
            }
            NotASnapshot { path, first_line } => write!(
                f,
                "{}:1: not an efd-lb snapshot (expected {HEADER:?}, got {first_line:?})",
                path.display()
            ),
            Version { path, found } => write!(
                f,
                "{}:1: snapshot version v{found} not supported (this build reads v{VERSION})",
                path.display()
            ),
            KeyKind {
                path,
                line,
                found,
                expected,
            } => write!(
                f,
                "{}:{line}: snapshot of {found} keys, expected {expected}",
                path.display()
            ),
            NodeCount {
                path,
                line,
                found,
                expected,
            } => write!(
                f,
                "{}:{line}: snapshot of {found} nodes, expected {expected}",
                path.display()
            ),
            BadLine {
                path,
                line,
                expected,
                text,
            } => write!(
                f,
                "{}:{line}: expected {expected}, got {text:?}",
                path.display()
            ),
            BadNode {
                path,
                line,
                text,
                reason,
            } => write!(
                f,
                "{}:{line}: bad node line {text:?}: {reason}",
                path.display()
            ),
            Flow(e) => fmt::Display::fmt(e, f),
            Truncated { path, line, detail } => match line {
                Some(line) => write!(f, "{}:{line}: truncated: {detail}", path.display()),
                None => write!(f, "{}: truncated: {detail}", path.display()),
            },
        }
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SnapshotError::Io { source, .. } => Some(source),
            SnapshotError::Flow(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FlowFileError> for SnapshotError {
    fn from(e: FlowFileError) -> Self {
        SnapshotError::Flow(e)
    }
}

// ---------------------------------------------------------------- writing

/// Writes a snapshot of `nodes` (each node's state and weight, by id) and
/// `flows` (key → node, every key once) to `path`, replacing the previous
/// one atomically (see the module documentation).
///
/// Every flow's node must be below `nodes.len()` and no key may repeat;
/// otherwise nothing is replaced ([`SnapshotError::Invalid`]), so that
/// [`load`] can read whatever `write` put in place. On any error before
/// the rename the temporary file is removed and the previous snapshot is
/// left as it was. An error syncing the directory after the rename means
/// the new snapshot is in place but perhaps not yet durable.
pub fn write<K: FlowKey>(
    path: &Path,
    nodes: &[(NodeState, u32)],
    flows: impl Iterator<Item = (K, NodeId)>,
) -> Result<SnapshotInfo, SnapshotError> {
    let invalid = |reason: String| SnapshotError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let name = path
        .file_name()
        .ok_or_else(|| invalid("the path names no file".to_string()))?;
    if nodes.len() > usize::from(u16::MAX) {
        return Err(invalid(format!("{} nodes (at most 65535)", nodes.len())));
    }
    let dir = parent_dir(path);
    // Best effort: a directory we cannot list fails below, with its reason.
    let _ = remove_stale_temp_files(path);
    // Removed on every early return (and on a panic of `flows`).
    let (temp, file) = TempFile::create(path, dir, name)?;
    let (flows, bytes) = write_body(path, &temp, file, nodes, flows)?;
    let io_err = |action: String| {
        move |source| SnapshotError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    fault(Fault::Rename)
        .and_then(|()| fs::rename(&temp.path, path))
        .map_err(io_err(format!("renaming {} over it", temp.name())))?;
    temp.renamed();
    fault(Fault::SyncDir)
        .and_then(|()| File::open(dir)?.sync_all())
        .map_err(io_err(
            "syncing its directory (the new snapshot is in place)".to_string(),
        ))?;
    Ok(SnapshotInfo {
        path: path.to_path_buf(),
        flows,
        bytes,
    })
}

/// Writes the whole file to `temp` and syncs it; returns the flow count
/// and the bytes written.
fn write_body<K: FlowKey>(
    path: &Path,
    temp: &TempFile,
    file: File,
    nodes: &[(NodeState, u32)],
    flows: impl Iterator<Item = (K, NodeId)>,
) -> Result<(u64, u64), SnapshotError> {
    // Lazily: the message is only made on an error.
    let io_err = |what: &str, source| SnapshotError::Io {
        path: path.to_path_buf(),
        action: format!("{what} {}", temp.name()),
        source,
    };
    let writing = |e| io_err("writing", e);
    let mut out = BufWriter::with_capacity(1 << 20, Counted::new(file));
    write!(
        out,
        "{HEADER}\nkey_kind {}\nnodes {}\n",
        K::KIND,
        nodes.len()
    )
    .map_err(writing)?;
    for (id, (state, weight)) in nodes.iter().enumerate() {
        writeln!(out, "node {id} {state} {weight}").map_err(writing)?;
    }
    out.write_all(b"# flows: key,node\n").map_err(writing)?;
    let mut seen: hashbrown::HashSet<K> = hashbrown::HashSet::with_capacity(flows.size_hint().0);
    let mut count = 0u64;
    for (key, node) in flows {
        if node.index() >= nodes.len() {
            return Err(SnapshotError::Invalid {
                path: path.to_path_buf(),
                reason: format!(
                    "flow {key} on node {node}, out of range ({} nodes)",
                    nodes.len()
                ),
            });
        }
        if !seen.insert(key) {
            return Err(SnapshotError::Invalid {
                path: path.to_path_buf(),
                reason: format!("flow {key} given twice"),
            });
        }
        writeln!(out, "{key},{node}").map_err(writing)?;
        count += 1;
    }
    writeln!(out, "end {count}").map_err(writing)?;
    let counted = out.into_inner().map_err(|e| writing(e.into_error()))?;
    fault(Fault::Sync)
        .and_then(|()| counted.file.sync_all())
        .map_err(|e| io_err("syncing", e))?;
    Ok((count, counted.bytes))
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A file writer that counts the bytes written (and, in tests, fails on
/// demand).
struct Counted {
    file: File,
    bytes: u64,
}

impl Counted {
    fn new(file: File) -> Counted {
        Counted { file, bytes: 0 }
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        fault(Fault::WriteAfter(self.bytes))?;
        let n = self.file.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The temporary files of writes in progress in this process.
static ACTIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Numbers this process's temporary files.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// A temporary file being written, registered in [`ACTIVE`] while it
/// exists; dropped before [`TempFile::renamed`], it is removed.
struct TempFile {
    path: PathBuf,
    renamed: bool,
}

impl TempFile {
    /// Creates `.<name>.tmp-<pid>-<n>` in `dir`, exclusively.
    fn create(
        snapshot: &Path,
        dir: &Path,
        name: &OsStr,
    ) -> Result<(TempFile, File), SnapshotError> {
        let prefix = temp_prefix(name);
        loop {
            let n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("{prefix}{}-{n}", std::process::id()));
            // Registered before it exists, so that no stale-file sweep of
            // another thread can take it for a leftover.
            active().push(path.clone());
            let opened = OpenOptions::new().write(true).create_new(true).open(&path);
            match opened {
                Ok(file) => {
                    let temp = TempFile {
                        path,
                        renamed: false,
                    };
                    return Ok((temp, file));
                }
                Err(e) => {
                    active().retain(|p| p != &path);
                    if e.kind() != io::ErrorKind::AlreadyExists {
                        return Err(SnapshotError::Io {
                            path: snapshot.to_path_buf(),
                            action: format!("creating {}", path.display()),
                            source: e,
                        });
                    }
                }
            }
        }
    }

    /// Its file name, for messages.
    fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// It is the snapshot now: nothing to remove.
    fn renamed(mut self) {
        self.renamed = true;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = fs::remove_file(&self.path);
        }
        active().retain(|p| p != &self.path);
    }
}

fn active() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The start of the temporary files' names for the snapshot `name`.
fn temp_prefix(name: &OsStr) -> String {
    format!(".{}.tmp-", name.to_string_lossy())
}

/// Removes the stale temporary files of writes of the snapshot `path` (see
/// the module documentation): those of processes that are gone, and those
/// with this process's id that are not a write in progress here. Returns
/// the files removed. Other files are never touched.
pub fn remove_stale_temp_files(path: &Path) -> Result<Vec<PathBuf>, SnapshotError> {
    let io_err = |action: String| {
        move |source| SnapshotError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let Some(name) = path.file_name() else {
        return Ok(Vec::new());
    };
    let prefix = temp_prefix(name);
    let dir = parent_dir(path);
    let me = std::process::id();
    // Without /proc no other process can be shown to be gone.
    let proc_visible = Path::new("/proc/self").exists();
    let mut removed = Vec::new();
    let entries = fs::read_dir(dir).map_err(io_err(format!("listing {}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err(format!("listing {}", dir.display()))(e))?;
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Some((pid, n)) = rest.split_once('-') else {
            continue;
        };
        let (Ok(pid), Ok(_)) = (pid.parse::<u32>(), n.parse::<u64>()) else {
            continue;
        };
        let candidate = dir.join(&file_name);
        let stale = if pid == me {
            !active().contains(&candidate)
        } else {
            proc_visible && !Path::new("/proc").join(pid.to_string()).exists()
        };
        if stale {
            match fs::remove_file(&candidate) {
                Ok(()) => removed.push(candidate),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(format!("removing {}", candidate.display()))(e)),
            }
        }
    }
    Ok(removed)
}

/// The points where a test can make [`write()`] fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// A write to the temporary file once this many bytes are in it (as a
    /// query: the bytes written so far).
    WriteAfter(u64),
    /// Syncing the temporary file.
    Sync,
    /// Renaming it over the snapshot.
    Rename,
    /// Syncing the directory.
    SyncDir,
}

#[cfg(not(test))]
#[inline(always)]
fn fault(_at: Fault) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
thread_local! {
    /// The fault the tests inject on this thread.
    static FAULT: std::cell::Cell<Option<Fault>> = const { std::cell::Cell::new(None) };
}

/// `Err` when a test asked for a failure at `at` on this thread (for
/// [`Fault::WriteAfter`], once the bytes written reach the limit).
#[cfg(test)]
fn fault(at: Fault) -> io::Result<()> {
    let hit = match (FAULT.with(|f| f.get()), at) {
        (Some(Fault::WriteAfter(limit)), Fault::WriteAfter(written)) => written >= limit,
        (Some(set), at) => set == at,
        (None, _) => false,
    };
    if hit {
        Err(io::Error::from_raw_os_error(libc::ENOSPC))
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------- loading

/// Loads the snapshot at `path` of `K` keys for an appliance of
/// `expect_nodes` nodes. Refuses (one line naming the file, and the line
/// where there is one) a file that is not a snapshot of this version, of
/// another key kind or node count, with a bad node or flow line, a node out
/// of range, a key twice, that is truncated, or that is not UTF-8.
pub fn load<K: FlowKey>(path: &Path, expect_nodes: u16) -> Result<Snapshot<K>, SnapshotError> {
    let bytes = fs::read(path).map_err(|source| SnapshotError::Io {
        path: path.to_path_buf(),
        action: "reading".to_string(),
        source,
    })?;
    parse(&bytes, path, expect_nodes)
}

/// Where the reader is in the file.
enum Section {
    KeyKind,
    Nodes,
    Node(usize),
    Flows,
    End,
}

/// Parses a snapshot's bytes; `path` only goes into errors.
fn parse<K: FlowKey>(
    bytes: &[u8],
    path: &Path,
    expect_nodes: u16,
) -> Result<Snapshot<K>, SnapshotError> {
    let p = || path.to_path_buf();
    check_header(bytes, path)?;
    let text = std::str::from_utf8(bytes).map_err(|e| SnapshotError::NotUtf8 {
        path: p(),
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
    })?;
    let capacity = end_count(text, path)?.min(text.len() / 4);
    let mut nodes: Vec<(NodeState, u32)> = Vec::with_capacity(usize::from(expect_nodes));
    let mut flows: Vec<Flow<K>> = Vec::with_capacity(capacity);
    // Keys only (a quarter of the memory of keys and lines for IPv4): the
    // first line of a duplicate is looked for again on the error path.
    let mut seen: hashbrown::HashSet<K> = hashbrown::HashSet::with_capacity(capacity);
    let mut section = Section::KeyKind;
    let mut last_line = 1;
    for (idx, raw) in text.lines().enumerate().skip(1) {
        let line = idx + 1;
        last_line = line;
        let content = flows::line_content(raw);
        if content.is_empty() {
            continue;
        }
        let bad_line = |expected| SnapshotError::BadLine {
            path: p(),
            line,
            expected,
            text: content.to_string(),
        };
        match section {
            Section::Flows if content.as_bytes().contains(&b',') => {
                let flow = flows::parse_flow_line::<K>(content, path, line, expect_nodes)?;
                if !seen.insert(flow.key) {
                    return Err(FlowFileError::Duplicate {
                        path: p(),
                        line,
                        key: flow.key.to_string(),
                        first: first_line_of(text, flow.key, path, expect_nodes),
                    }
                    .into());
                }
                flows.push(flow);
            }
            Section::Flows => {
                let count = field(content, "end")
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| bad_line("\"key,node\" or \"end <flows>\""))?;
                if count != flows.len() as u64 {
                    return Err(SnapshotError::Truncated {
                        path: p(),
                        line: Some(line),
                        detail: format!(
                            "the end line counts {count} flows, {} precede it",
                            flows.len()
                        ),
                    });
                }
                section = Section::End;
            }
            Section::KeyKind => {
                let kind =
                    field(content, "key_kind").ok_or_else(|| bad_line("\"key_kind <kind>\""))?;
                if kind != K::KIND {
                    return Err(SnapshotError::KeyKind {
                        path: p(),
                        line,
                        found: kind.to_string(),
                        expected: K::KIND,
                    });
                }
                section = Section::Nodes;
            }
            Section::Nodes => {
                let count = field(content, "nodes")
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| bad_line("\"nodes <count>\""))?;
                if count != u64::from(expect_nodes) {
                    return Err(SnapshotError::NodeCount {
                        path: p(),
                        line,
                        found: count,
                        expected: expect_nodes,
                    });
                }
                section = if count == 0 {
                    Section::Flows
                } else {
                    Section::Node(0)
                };
            }
            Section::Node(id) => {
                nodes.push(
                    parse_node(content, id).map_err(|reason| SnapshotError::BadNode {
                        path: p(),
                        line,
                        text: content.to_string(),
                        reason,
                    })?,
                );
                section = if id + 1 == usize::from(expect_nodes) {
                    Section::Flows
                } else {
                    Section::Node(id + 1)
                };
            }
            Section::End => return Err(bad_line("nothing after the end line")),
        }
    }
    match section {
        Section::End => Ok(Snapshot { nodes, flows }),
        // `end_count` saw an end line last: it came too early.
        _ => Err(SnapshotError::Truncated {
            path: p(),
            line: None,
            detail: format!("the file stops at line {last_line}, before its end line"),
        }),
    }
}

/// The line of the first flow line of `key` (on the error path: every
/// flow line before the duplicate parsed).
fn first_line_of<K: FlowKey>(text: &str, key: K, path: &Path, num_nodes: u16) -> usize {
    text.lines()
        .enumerate()
        .find_map(|(idx, raw)| {
            let content = flows::line_content(raw);
            let flow = flows::parse_flow_line::<K>(content, path, idx + 1, num_nodes).ok()?;
            (flow.key == key).then_some(idx + 1)
        })
        .unwrap_or(0)
}

/// Refuses a file whose first line is not this version's header.
fn check_header(bytes: &[u8], path: &Path) -> Result<(), SnapshotError> {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    if first == HEADER.as_bytes() {
        return Ok(());
    }
    let shown = String::from_utf8_lossy(&first[..first.len().min(60)]).into_owned();
    match first.strip_prefix(MAGIC.as_bytes()) {
        Some(v) if !v.is_empty() => Err(SnapshotError::Version {
            path: path.to_path_buf(),
            found: String::from_utf8_lossy(v).into_owned(),
        }),
        _ => Err(SnapshotError::NotASnapshot {
            path: path.to_path_buf(),
            first_line: shown,
        }),
    }
}

/// The value of a `name value` line.
fn field<'a>(content: &'a str, name: &str) -> Option<&'a str> {
    let (n, v) = content.split_once(char::is_whitespace)?;
    (n == name).then(|| v.trim()).filter(|v| !v.is_empty())
}

/// A `node <id> <state> <weight>` line, which must be node `id`.
fn parse_node(content: &str, id: usize) -> Result<(NodeState, u32), String> {
    let fields: Vec<&str> = content.split_whitespace().collect();
    let [word, got_id, state, weight] = fields[..] else {
        return Err("expected \"node <id> <state> <weight>\"".to_string());
    };
    if word != "node" {
        return Err("expected \"node <id> <state> <weight>\"".to_string());
    }
    if got_id.parse::<usize>().ok() != Some(id) {
        return Err(format!("expected node {id} here, got node {got_id:?}"));
    }
    let state = NodeState::from_name(state).ok_or_else(|| {
        let names: Vec<&str> = NodeState::ALL.iter().map(|s| s.name()).collect();
        format!("unknown state {state:?} ({})", names.join(", "))
    })?;
    let weight = weight
        .parse::<u32>()
        .map_err(|_| format!("bad weight {weight:?}"))?;
    Ok((state, weight))
}

/// The count of the end line, which must be the last line, newline
/// included: otherwise the file was cut short.
fn end_count(text: &str, path: &Path) -> Result<usize, SnapshotError> {
    let truncated = |detail: &str| SnapshotError::Truncated {
        path: path.to_path_buf(),
        line: None,
        detail: detail.to_string(),
    };
    let Some(body) = text.strip_suffix('\n') else {
        return Err(truncated("no newline at the end (cut inside a line)"));
    };
    let last = body.rsplit('\n').next().unwrap_or_default();
    field(flows::line_content(last), "end")
        .and_then(|v| v.parse::<usize>().ok())
        .ok_or_else(|| truncated("the last line is not the \"end <flows>\" line"))
}

#[cfg(test)]
mod tests;
