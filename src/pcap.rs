//! Classic libpcap files, read and written through the `pcap-file` crate.
//!
//! [`PcapWriter`] writes microsecond-resolution classic pcap (magic
//! `0xa1b2c3d4` little-endian, `LINKTYPE_ETHERNET`, snaplen 65535).
//! [`PcapReader`] also accepts byte-swapped files and the nanosecond magic
//! `0xa1b23c4d`; it refuses pcapng with a message saying how to convert.
//! Errors are one line naming the file ([`PcapError`]).
//!
//! Records go through `pcap-file`'s raw packet API: its validating
//! `PcapPacket` reader refuses records whose original length exceeds the
//! snaplen (every capture taken with a short snaplen), so this layer only
//! bounds the captured length ([`MAX_RECORD_LEN`]), as libpcap does.
//! The generator of test traffic is in [`crate::traffic`].

#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Cursor, Read, Write};
use std::path::{Path, PathBuf};

use pcap_file::pcap::{PcapHeader, RawPcapPacket};
use pcap_file::{DataLink, Endianness, TsResolution};

use crate::flows::io_error_text;

/// Classic pcap magic, microsecond timestamps.
pub const MAGIC_USEC: u32 = 0xa1b2_c3d4;
/// Classic pcap magic, nanosecond timestamps.
pub const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
/// pcapng Section Header Block type (the same in either byte order).
pub const MAGIC_PCAPNG: u32 = 0x0a0d_0d0a;
/// Link type of Ethernet frames.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snapshot length written in the global header.
pub const SNAPLEN: u32 = 65535;
/// Largest record the reader accepts regardless of the file's snaplen
/// (libpcap's `MAXIMUM_SNAPLEN`).
pub const MAX_RECORD_LEN: u32 = 262_144;
/// Length of the pcap global header.
pub const GLOBAL_HEADER_LEN: usize = 24;
/// Length of a pcap record header.
pub const RECORD_HEADER_LEN: usize = 16;

/// `pcap-file`'s error as an `io::Error` (writes only fail on I/O).
fn into_io(e: pcap_file::PcapError) -> io::Error {
    match e {
        pcap_file::PcapError::IoError(e) => e,
        other => io::Error::other(other),
    }
}

/// Writes a classic pcap stream.
pub struct PcapWriter<W: Write> {
    inner: pcap_file::pcap::PcapWriter<W>,
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
    /// Writes the global header (µs timestamps, Ethernet, snaplen 65535,
    /// little-endian) to `out`.
    pub fn new(out: W) -> io::Result<Self> {
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: SNAPLEN,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::MicroSecond,
            endianness: Endianness::Little,
        };
        let inner = pcap_file::pcap::PcapWriter::with_header(out, header).map_err(into_io)?;
        Ok(PcapWriter { inner, packets: 0 })
    }

    /// Appends one record with the given timestamp; frames longer than the
    /// snaplen are cut (orig_len keeps the full length).
    pub fn write_packet(&mut self, ts_sec: u32, ts_usec: u32, frame: &[u8]) -> io::Result<()> {
        let incl = frame.len().min(SNAPLEN as usize);
        let raw = RawPcapPacket {
            ts_sec,
            ts_frac: ts_usec,
            incl_len: incl as u32,
            orig_len: frame.len() as u32,
            data: Cow::Borrowed(&frame[..incl]),
        };
        self.inner.write_raw_packet(&raw).map_err(into_io)?;
        self.packets += 1;
        Ok(())
    }

    /// Number of records written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        let mut out = self.inner.into_writer();
        out.flush()?;
        Ok(out)
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
    /// The file is pcapng, which this reader does not parse.
    Pcapng {
        /// The file.
        path: PathBuf,
    },
    /// The file ends inside a record (or inside the global header); also a
    /// record whose claimed length runs past the end of the file.
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
            PcapError::Pcapng { path } => write!(
                f,
                "{0}: is a pcapng file; convert with `editcap -F pcap {0} out.pcap`",
                path.display()
            ),
            PcapError::Truncated { path, offset: 0 } => write!(
                f,
                "{}: truncated: the file ends inside its {GLOBAL_HEADER_LEN}-byte header",
                path.display()
            ),
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
    /// `pcap-file`'s reader (it buffers); the global header read here to
    /// classify errors is put back in front of the input.
    inner: pcap_file::pcap::PcapReader<io::Chain<Cursor<[u8; GLOBAL_HEADER_LEN]>, R>>,
    header: PcapHeader,
    path: PathBuf,
    offset: u64,
    failed: bool,
}

impl PcapReader<File> {
    /// Opens `path` and reads its global header.
    pub fn open(path: &Path) -> Result<Self, PcapError> {
        let f = File::open(path).map_err(|source| PcapError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        PcapReader::new(f, path)
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
        let io_err = |path: &PathBuf, source| PcapError::Io {
            path: path.clone(),
            source,
        };
        let mut h = [0u8; GLOBAL_HEADER_LEN];
        let n = read_full(&mut input, &mut h).map_err(|e| io_err(&path, e))?;
        if n < 4 {
            return Err(PcapError::NotPcap { path });
        }
        let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        if magic == MAGIC_PCAPNG {
            return Err(PcapError::Pcapng { path });
        }
        if ![MAGIC_USEC, MAGIC_NSEC].contains(&magic)
            && ![MAGIC_USEC, MAGIC_NSEC].contains(&magic.swap_bytes())
        {
            return Err(PcapError::NotPcap { path });
        }
        if n < GLOBAL_HEADER_LEN {
            return Err(PcapError::Truncated { path, offset: 0 });
        }
        let inner = pcap_file::pcap::PcapReader::new(Cursor::new(h).chain(input))
            .map_err(|e| io_err(&path, into_io(e)))?;
        Ok(PcapReader {
            header: inner.header(),
            inner,
            path,
            offset: GLOBAL_HEADER_LEN as u64,
            failed: false,
        })
    }

    /// Link type from the global header (1 = Ethernet).
    pub fn linktype(&self) -> u32 {
        self.header.datalink.into()
    }

    /// Snapshot length from the global header.
    pub fn snaplen(&self) -> u32 {
        self.header.snaplen
    }

    /// True if timestamps are in nanoseconds.
    pub fn nanosecond(&self) -> bool {
        self.header.ts_resolution == TsResolution::NanoSecond
    }

    /// True if the file was written in the other byte order.
    pub fn byte_swapped(&self) -> bool {
        self.header.endianness != Endianness::native()
    }

    /// Reads the next record; `Ok(None)` at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Record>, PcapError> {
        let at = self.offset;
        let raw = match self.inner.next_raw_packet() {
            None => return Ok(None),
            Some(Ok(raw)) => raw,
            Some(Err(e)) => {
                let e = into_io(e);
                return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
                    PcapError::Truncated {
                        path: self.path.clone(),
                        offset: at,
                    }
                } else {
                    PcapError::Io {
                        path: self.path.clone(),
                        source: e,
                    }
                });
            }
        };
        if raw.incl_len > MAX_RECORD_LEN {
            return Err(PcapError::BadRecordLength {
                path: self.path.clone(),
                offset: at,
                len: raw.incl_len,
            });
        }
        self.offset += (RECORD_HEADER_LEN + raw.data.len()) as u64;
        Ok(Some(Record {
            ts_sec: raw.ts_sec,
            ts_frac: raw.ts_frac,
            orig_len: raw.orig_len,
            data: raw.data.into_owned(),
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

/// Counts the complete records of a classic pcap file by walking its
/// record headers (the data is skipped, not read). A record cut short at
/// the end is not counted.
pub fn count_complete_records(path: &Path) -> Result<u64, PcapError> {
    let io_err = |source| PcapError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = File::open(path).map_err(io_err)?;
    let len = f.metadata().map_err(io_err)?.len();
    let mut r = io::BufReader::with_capacity(1 << 16, f);
    let mut h = [0u8; GLOBAL_HEADER_LEN];
    if read_full(&mut r, &mut h).map_err(io_err)? < GLOBAL_HEADER_LEN {
        return Ok(0);
    }
    let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let le = match magic {
        MAGIC_USEC | MAGIC_NSEC => true,
        m if [MAGIC_USEC, MAGIC_NSEC].contains(&m.swap_bytes()) => false,
        _ => {
            return Err(PcapError::NotPcap {
                path: path.to_path_buf(),
            })
        }
    };
    let (mut at, mut n) = (GLOBAL_HEADER_LEN as u64, 0u64);
    let mut rh = [0u8; RECORD_HEADER_LEN];
    loop {
        if read_full(&mut r, &mut rh).map_err(io_err)? < RECORD_HEADER_LEN {
            return Ok(n);
        }
        let b = [rh[8], rh[9], rh[10], rh[11]];
        let incl = u64::from(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        });
        at += RECORD_HEADER_LEN as u64 + incl;
        if at > len {
            return Ok(n);
        }
        n += 1;
        r.seek_relative(incl as i64).map_err(io_err)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The exact bytes of the format written before `pcap-file` was used:
    /// global header, then per record `ts_sec, ts_usec, incl_len, orig_len`
    /// little-endian and the (cut) data.
    #[test]
    fn writer_bytes_unchanged() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_packet(7, 999_999, &[0xab; 3]).unwrap();
        let big = vec![0xcd; SNAPLEN as usize + 10];
        w.write_packet(1, 2_000_000, &big).unwrap();
        assert_eq!(w.packets(), 2);
        let buf = w.finish().unwrap();
        let mut want = Vec::new();
        for v in [MAGIC_USEC, 0x0004_0002, 0, 0, SNAPLEN, LINKTYPE_ETHERNET] {
            want.extend_from_slice(&v.to_le_bytes());
        }
        for v in [7u32, 999_999, 3, 3] {
            want.extend_from_slice(&v.to_le_bytes());
        }
        want.extend_from_slice(&[0xab; 3]);
        for v in [1u32, 2_000_000, SNAPLEN, SNAPLEN + 10] {
            want.extend_from_slice(&v.to_le_bytes());
        }
        want.extend_from_slice(&big[..SNAPLEN as usize]);
        assert_eq!(buf, want);
        // A record cut by the snaplen reads back (orig_len > snaplen).
        let recs: Vec<_> = PcapReader::new(Cursor::new(buf), Path::new("cut.pcap"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(recs[1].orig_len, SNAPLEN + 10);
        assert_eq!(recs[1].data.len(), SNAPLEN as usize);
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
        assert!(r.next_record().unwrap().is_none());
    }

    #[test]
    fn counts_complete_records_only() {
        let path = std::env::temp_dir().join(format!("efd-lb-count-{}.pcap", std::process::id()));
        let mut w = PcapWriter::create(&path).unwrap();
        for i in 0..1000u32 {
            w.write_packet(i, 0, &vec![7u8; 60 + (i as usize % 1500)])
                .unwrap();
        }
        w.finish().unwrap();
        assert_eq!(count_complete_records(&path).unwrap(), 1000);
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 5)
            .unwrap();
        assert_eq!(count_complete_records(&path).unwrap(), 999);
        std::fs::write(&path, [0u8; 10]).unwrap();
        assert_eq!(count_complete_records(&path).unwrap(), 0);
        std::fs::remove_file(&path).unwrap();
    }

    fn open_err(bytes: &[u8], name: &str) -> String {
        PcapReader::new(Cursor::new(bytes.to_vec()), Path::new(name))
            .err()
            .unwrap()
            .to_string()
    }

    #[test]
    fn reader_errors() {
        assert_eq!(open_err(b"hello world", "a.txt"), "a.txt: not a pcap file");
        assert_eq!(open_err(b"", "empty"), "empty: not a pcap file");
        assert_eq!(open_err(b"\xd4\xc3", "two"), "two: not a pcap file");
        // A header cut short after a good magic.
        assert_eq!(
            open_err(&MAGIC_USEC.to_le_bytes(), "h.pcap"),
            "h.pcap: truncated: the file ends inside its 24-byte header"
        );
        // pcapng: Section Header Block, byte-order magic 0x1a2b3c4d.
        let mut ng = MAGIC_PCAPNG.to_le_bytes().to_vec();
        ng.extend_from_slice(&28u32.to_le_bytes());
        ng.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        ng.resize(28, 0);
        assert_eq!(
            open_err(&ng, "c.pcapng"),
            "c.pcapng: is a pcapng file; convert with `editcap -F pcap c.pcapng out.pcap`"
        );

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

        // A length past the end of the file reads as a truncated record.
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_packet(0, 0, &[0; 4]).unwrap();
        let mut buf = w.finish().unwrap();
        buf[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut r = PcapReader::new(Cursor::new(buf), Path::new("b.pcap")).unwrap();
        assert!(matches!(
            r.next_record(),
            Err(PcapError::Truncated { offset: 24, .. })
        ));
        // One above MAX_RECORD_LEN with the bytes present is refused.
        let len = MAX_RECORD_LEN + 1;
        let mut buf = PcapWriter::new(Vec::new()).unwrap().finish().unwrap();
        for v in [0u32, 0, len, len] {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        buf.resize(buf.len() + len as usize, 0);
        let r = PcapReader::new(Cursor::new(buf), Path::new("b.pcap")).unwrap();
        let res: Vec<_> = r.collect();
        assert_eq!(res.len(), 1, "the iterator ends after an error");
        assert_eq!(
            res[0].as_ref().unwrap_err().to_string(),
            format!("b.pcap: record at offset 24 has impossible length {len}")
        );
    }
}
