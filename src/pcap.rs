//! Classic libpcap files.
//!
//! [`PcapWriter`] writes microsecond-resolution classic pcap (magic
//! `0xa1b2c3d4`, `LINKTYPE_ETHERNET`, snaplen 65535). [`PcapReader`] also
//! accepts byte-swapped files and the nanosecond magic `0xa1b23c4d`.
//! The generator of test traffic is in [`crate::traffic`].

#![forbid(unsafe_code)]

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::flows::io_error_text;

/// Moved to [`crate::traffic::write_pcap`]; kept here until `app.rs` uses
/// the new path.
pub use crate::traffic::write_pcap;

/// Classic pcap magic, microsecond timestamps.
pub const MAGIC_USEC: u32 = 0xa1b2_c3d4;
/// Classic pcap magic, nanosecond timestamps.
pub const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
/// Link type of Ethernet frames.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snapshot length written in the global header.
pub const SNAPLEN: u32 = 65535;
/// Largest record the reader accepts regardless of the file's snaplen.
pub const MAX_RECORD_LEN: u32 = 262_144;
/// Length of the pcap global header.
pub const GLOBAL_HEADER_LEN: usize = 24;
/// Length of a pcap record header.
pub const RECORD_HEADER_LEN: usize = 16;

/// Writes a classic pcap stream.
pub struct PcapWriter<W: Write> {
    out: W,
    packets: u64,
}

impl PcapWriter<BufWriter<File>> {
    /// Creates (truncates) `path` and writes the global header; output is
    /// buffered.
    pub fn create(path: &Path) -> io::Result<Self> {
        let f = File::create(path)?;
        PcapWriter::new(BufWriter::with_capacity(1 << 20, f))
    }
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header (µs timestamps, Ethernet, snaplen 65535) to `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut h = [0u8; GLOBAL_HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC_USEC.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone = 0, sigfigs = 0
        h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out, packets: 0 })
    }

    /// Appends one record with the given timestamp; frames longer than the
    /// snaplen are cut (orig_len keeps the full length).
    pub fn write_packet(&mut self, ts_sec: u32, ts_usec: u32, frame: &[u8]) -> io::Result<()> {
        let incl = frame.len().min(SNAPLEN as usize);
        let mut h = [0u8; RECORD_HEADER_LEN];
        h[0..4].copy_from_slice(&ts_sec.to_le_bytes());
        h[4..8].copy_from_slice(&ts_usec.to_le_bytes());
        h[8..12].copy_from_slice(&(incl as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(&frame[..incl])?;
        self.packets += 1;
        Ok(())
    }

    /// Number of records written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A record read from a pcap file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Timestamp seconds.
    pub ts_sec: u32,
    /// Timestamp fraction: microseconds, or nanoseconds for nanosecond files.
    pub ts_frac: u32,
    /// Original length on the wire.
    pub orig_len: u32,
    /// Captured bytes.
    pub data: Vec<u8>,
}

/// Why a pcap file could not be read. `Display` is one line starting with
/// the path.
#[derive(Debug)]
pub enum PcapError {
    /// I/O failure (open, read).
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file does not start with a pcap magic number.
    NotPcap {
        /// The file.
        path: PathBuf,
    },
    /// The file ends inside a record (or inside the global header).
    Truncated {
        /// The file.
        path: PathBuf,
        /// Byte offset of the record header.
        offset: u64,
    },
    /// A record claims a length larger than [`MAX_RECORD_LEN`].
    BadRecordLength {
        /// The file.
        path: PathBuf,
        /// Byte offset of the record header.
        offset: u64,
        /// The claimed captured length.
        len: u32,
    },
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PcapError::Io { path, source } => {
                write!(f, "{}: {}", path.display(), io_error_text(source))
            }
            PcapError::NotPcap { path } => write!(f, "{}: not a pcap file", path.display()),
            PcapError::Truncated { path, offset } => {
                write!(f, "{}: truncated record at offset {offset}", path.display())
            }
            PcapError::BadRecordLength { path, offset, len } => write!(
                f,
                "{}: record at offset {offset} has impossible length {len}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for PcapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PcapError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Reads a classic pcap stream (either byte order, µs or ns timestamps).
pub struct PcapReader<R: Read> {
    input: R,
    path: PathBuf,
    swapped: bool,
    nanos: bool,
    linktype: u32,
    snaplen: u32,
    offset: u64,
    failed: bool,
}

impl PcapReader<BufReader<File>> {
    /// Opens `path` and reads its global header.
    pub fn open(path: &Path) -> Result<Self, PcapError> {
        let f = File::open(path).map_err(|source| PcapError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        PcapReader::new(BufReader::with_capacity(1 << 20, f), path)
    }
}

/// Reads into `buf` until full or EOF; returns the number of bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: Read> PcapReader<R> {
    /// Reads the global header from `input`; `path` names it in errors.
    pub fn new(mut input: R, path: &Path) -> Result<Self, PcapError> {
        let path = path.to_path_buf();
        let mut h = [0u8; GLOBAL_HEADER_LEN];
        let n = read_full(&mut input, &mut h).map_err(|source| PcapError::Io {
            path: path.clone(),
            source,
        })?;
        if n < 4 {
            return Err(PcapError::NotPcap { path });
        }
        let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let (swapped, nanos) = match magic {
            MAGIC_USEC => (false, false),
            MAGIC_NSEC => (false, true),
            m if m.swap_bytes() == MAGIC_USEC => (true, false),
            m if m.swap_bytes() == MAGIC_NSEC => (true, true),
            _ => return Err(PcapError::NotPcap { path }),
        };
        if n < GLOBAL_HEADER_LEN {
            return Err(PcapError::Truncated { path, offset: 0 });
        }
        let rd = |o: usize| {
            let v = u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
            if swapped {
                v.swap_bytes()
            } else {
                v
            }
        };
        Ok(PcapReader {
            snaplen: rd(16),
            linktype: rd(20),
            input,
            path,
            swapped,
            nanos,
            offset: GLOBAL_HEADER_LEN as u64,
            failed: false,
        })
    }

    /// Link type from the global header (1 = Ethernet).
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// Snapshot length from the global header.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// True if timestamps are in nanoseconds.
    pub fn nanosecond(&self) -> bool {
        self.nanos
    }

    /// True if the file was written in the other byte order.
    pub fn byte_swapped(&self) -> bool {
        self.swapped
    }

    /// Reads the next record; `Ok(None)` at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Record>, PcapError> {
        let mut h = [0u8; RECORD_HEADER_LEN];
        let at = self.offset;
        let io_err = |path: &PathBuf, source| PcapError::Io {
            path: path.clone(),
            source,
        };
        let n = read_full(&mut self.input, &mut h).map_err(|e| io_err(&self.path, e))?;
        if n == 0 {
            return Ok(None);
        }
        let truncated = || PcapError::Truncated {
            path: self.path.clone(),
            offset: at,
        };
        if n < RECORD_HEADER_LEN {
            return Err(truncated());
        }
        let rd = |o: usize| {
            let v = u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
            if self.swapped {
                v.swap_bytes()
            } else {
                v
            }
        };
        let (ts_sec, ts_frac, incl, orig_len) = (rd(0), rd(4), rd(8), rd(12));
        if incl > MAX_RECORD_LEN {
            return Err(PcapError::BadRecordLength {
                path: self.path.clone(),
                offset: at,
                len: incl,
            });
        }
        let mut data = vec![0u8; incl as usize];
        let got = read_full(&mut self.input, &mut data).map_err(|e| io_err(&self.path, e))?;
        if got < data.len() {
            return Err(truncated());
        }
        self.offset += (RECORD_HEADER_LEN + data.len()) as u64;
        Ok(Some(Record {
            ts_sec,
            ts_frac,
            orig_len,
            data,
        }))
    }
}

impl<R: Read> Iterator for PcapReader<R> {
    type Item = Result<Record, PcapError>;

    /// Yields records; after the first error the iterator ends.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_record() {
            Ok(r) => r.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn write_read_roundtrip() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_packet(1, 2, &[1, 2, 3]).unwrap();
        w.write_packet(3, 4, &[]).unwrap();
        let buf = w.finish().unwrap();
        assert_eq!(buf.len(), 24 + 16 + 3 + 16);
        assert_eq!(&buf[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        let mut r = PcapReader::new(Cursor::new(buf), Path::new("x.pcap")).unwrap();
        assert_eq!(r.linktype(), LINKTYPE_ETHERNET);
        assert_eq!(r.snaplen(), 65535);
        assert!(!r.nanosecond() && !r.byte_swapped());
        let a = r.next_record().unwrap().unwrap();
        assert_eq!((a.ts_sec, a.ts_frac, a.orig_len), (1, 2, 3));
        assert_eq!(a.data, vec![1, 2, 3]);
        assert_eq!(r.next_record().unwrap().unwrap().data, Vec::<u8>::new());
        assert!(r.next_record().unwrap().is_none());
    }

    /// A big-endian nanosecond file as another tool might write it.
    #[test]
    fn reads_swapped_nanosecond() {
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC_NSEC.to_be_bytes());
        b.extend_from_slice(&2u16.to_be_bytes());
        b.extend_from_slice(&4u16.to_be_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&1500u32.to_be_bytes());
        b.extend_from_slice(&1u32.to_be_bytes());
        for v in [7u32, 999_999_999, 2, 60] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&[0xaa, 0xbb]);
        let mut r = PcapReader::new(Cursor::new(b), Path::new("be.pcap")).unwrap();
        assert!(r.nanosecond() && r.byte_swapped());
        assert_eq!(r.snaplen(), 1500);
        let rec = r.next_record().unwrap().unwrap();
        assert_eq!(
            (rec.ts_sec, rec.ts_frac, rec.orig_len),
            (7, 999_999_999, 60)
        );
        assert_eq!(rec.data, vec![0xaa, 0xbb]);
    }

    #[test]
    fn reader_errors() {
        let e = PcapReader::new(Cursor::new(b"hello world".to_vec()), Path::new("a.txt"))
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "a.txt: not a pcap file");
        let e = PcapReader::new(Cursor::new(Vec::new()), Path::new("empty"))
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "empty: not a pcap file");

        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_packet(0, 0, &[0; 60]).unwrap();
        w.write_packet(0, 0, &[0; 60]).unwrap();
        let mut buf = w.finish().unwrap();
        buf.truncate(buf.len() - 1);
        let r = PcapReader::new(Cursor::new(buf.clone()), Path::new("t.pcap")).unwrap();
        let res: Vec<_> = r.collect();
        assert_eq!(res.len(), 2);
        assert!(res[0].is_ok());
        assert_eq!(
            res[1].as_ref().unwrap_err().to_string(),
            "t.pcap: truncated record at offset 100"
        );
        // Cut inside the second record header.
        buf.truncate(24 + 76 + 5);
        let mut r = PcapReader::new(Cursor::new(buf), Path::new("t.pcap")).unwrap();
        r.next_record().unwrap();
        assert_eq!(
            r.next_record().unwrap_err().to_string(),
            "t.pcap: truncated record at offset 100"
        );

        let e = PcapReader::open(Path::new("/nonexistent-efd-lb.pcap"))
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "/nonexistent-efd-lb.pcap: No such file or directory"
        );

        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_packet(0, 0, &[0; 4]).unwrap();
        let mut buf = w.finish().unwrap();
        buf[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut r = PcapReader::new(Cursor::new(buf), Path::new("b.pcap")).unwrap();
        assert!(matches!(
            r.next_record(),
            Err(PcapError::BadRecordLength { offset: 24, .. })
        ));
    }
}
