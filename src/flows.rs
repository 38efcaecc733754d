//! Flow population: which flow key goes to which node.
//!
//! Either the C sample's synthetic population ([`seed_population`]: flow `i`
//! has key [`FlowKey::seed`]`(i)`, for IPv4 destinations the address `i`, and
//! node `i % num_nodes`) or a CSV-like flow file ([`load_flow_file`]).

#![forbid(unsafe_code)]

use crate::ids::NodeId;
use crate::key::FlowKey;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};

/// One flow: its key and the node that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow<K> {
    /// The flow key.
    pub key: K,
    /// Owning node (`< num_nodes`).
    pub node: NodeId,
}

/// The C sample's population: flow `i` (for `i < num_flows`) has key
/// `K::seed(i)` and node `i % num_nodes`. `num_nodes` must be at least 1.
pub fn seed_population<K: FlowKey>(
    num_flows: u32,
    num_nodes: u16,
) -> impl Iterator<Item = Flow<K>> {
    assert!(num_nodes > 0, "seed_population: num_nodes must be >= 1");
    (0..num_flows).map(move |i| Flow {
        key: K::seed(i),
        node: NodeId::new((i % u32::from(num_nodes)) as u16),
    })
}

/// The text of an I/O error without the trailing " (os error N)".
pub(crate) fn io_error_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// Why a flow file could not be loaded. `Display` is one line starting with
/// `path:` or `path:line:`.
#[derive(Debug)]
pub enum FlowFileError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A line is not of the form `key,node`.
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending line (trimmed).
        text: String,
    },
    /// The key field is not a key of the configured kind.
    BadKey {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending field.
        text: String,
        /// What a key of that kind is ([`FlowKey::TEXT_FORM`]).
        form: &'static str,
        /// What is wrong with it ([`FlowKey::text_error`]), if the kind
        /// says more than `form`.
        why: Option<String>,
    },
    /// The node field is not a non-negative integer.
    BadNode {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending field.
        text: String,
    },
    /// The node id is `>= num_nodes`.
    NodeOutOfRange {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The node id given.
        node: u64,
        /// The configured number of nodes.
        num_nodes: u16,
    },
    /// The same key appears twice.
    Duplicate {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the second occurrence.
        line: usize,
        /// The duplicated key, as written by its `Display`.
        key: String,
        /// 1-based line number of the first occurrence.
        first: usize,
    },
    /// The file holds no flows (only comments / blank lines).
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A key appears again with another node.
    Conflict {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the second occurrence.
        line: usize,
        /// The key, as written by its `Display`.
        key: String,
        /// The node it is given here.
        node: u16,
        /// 1-based line number of the first occurrence.
        first: usize,
        /// The node it was given there.
        first_node: u16,
    },
    /// A line is not text: invalid UTF-8 or a NUL byte (a binary file).
    NotText {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// A line is longer than [`MAX_LINE_LEN`] (a binary file, or no
    /// newlines).
    LineTooLong {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// More flows than the limit the caller set (what the EFD table holds,
    /// or what fits in memory).
    TooMany {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the first flow over the limit.
        line: usize,
        /// The limit.
        max: usize,
        /// Why there is a limit.
        why: String,
    },
}

/// Longest flow-file line, in bytes without the line end.
pub const MAX_LINE_LEN: usize = 1024;

/// The most flows a flow file may hold, and why (for the error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLimit {
    /// Most flows.
    pub max: usize,
    /// Why: ends the error line, e.g. `"they would not fit in memory"`.
    pub why: String,
}

impl FlowLimit {
    /// No limit.
    pub fn none() -> FlowLimit {
        FlowLimit {
            max: usize::MAX,
            why: String::new(),
        }
    }
}

impl fmt::Display for FlowFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FlowFileError::*;
        match self {
            Io { path, source } => write!(f, "{}: {}", path.display(), io_error_text(source)),
            Syntax { path, line, text } => write!(
                f,
                "{}:{line}: expected \"key,node\", got {text:?}",
                path.display()
            ),
            BadKey {
                path,
                line,
                text,
                form,
                why,
            } => {
                write!(f, "{}:{line}: bad {form} {text:?}", path.display())?;
                match why {
                    Some(why) => write!(f, ": {why}"),
                    None => Ok(()),
                }
            }
            BadNode { path, line, text } => {
                write!(f, "{}:{line}: bad node id {text:?}", path.display())
            }
            NodeOutOfRange {
                path,
                line,
                node,
                num_nodes,
            } => write!(
                f,
                "{}:{line}: node {node} out of range ({num_nodes} nodes)",
                path.display()
            ),
            Duplicate {
                path,
                line,
                key,
                first,
            } => write!(
                f,
                "{}:{line}: duplicate flow {key} (first at line {first})",
                path.display()
            ),
            Empty { path } => write!(f, "{}: no flows", path.display()),
            Conflict {
                path,
                line,
                key,
                node,
                first,
                first_node,
            } => write!(
                f,
                "{}:{line}: flow {key} goes to node {node}, but line {first} gives it node {first_node}",
                path.display()
            ),
            NotText { path, line } => write!(
                f,
                "{}:{line}: not a line of text (binary data?); expected \"key,node\" lines",
                path.display()
            ),
            LineTooLong { path, line } => write!(
                f,
                "{}:{line}: line longer than {MAX_LINE_LEN} bytes; expected \"key,node\" lines",
                path.display()
            ),
            TooMany {
                path,
                line,
                max,
                why,
            } => write!(
                f,
                "{}:{line}: more than {max} flows: {why}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for FlowFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FlowFileError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A flow-file line without its comment (`#` to the end), trimmed: empty
/// for a blank or comment-only line.
pub(crate) fn line_content(raw: &str) -> &str {
    // Bytes, not `find(char)`: lines are short and this runs per flow.
    match raw.bytes().position(|b| b == b'#') {
        Some(i) => &raw[..i],
        None => raw,
    }
    .trim()
}

/// One flow from a line's content ([`line_content`], not empty): `key,node`
/// with `node < num_nodes`. `path` and `line` (1-based) only go into the
/// error. Duplicates are the caller's to detect.
pub(crate) fn parse_flow_line<K: FlowKey>(
    content: &str,
    path: &Path,
    line: usize,
    num_nodes: u16,
) -> Result<Flow<K>, FlowFileError> {
    let p = || path.to_path_buf();
    let Some(comma) = content.bytes().position(|b| b == b',') else {
        return Err(FlowFileError::Syntax {
            path: p(),
            line,
            text: content.to_string(),
        });
    };
    let (key_s, node_s) = (&content[..comma], &content[comma + 1..]);
    let (key_s, node_s) = (key_s.trim(), node_s.trim());
    let key = K::parse_text(key_s).ok_or_else(|| FlowFileError::BadKey {
        path: p(),
        line,
        text: key_s.to_string(),
        form: K::TEXT_FORM,
        why: K::text_error(key_s),
    })?;
    let node: u64 = node_s.parse().map_err(|_| FlowFileError::BadNode {
        path: p(),
        line,
        text: node_s.to_string(),
    })?;
    if node >= u64::from(num_nodes) {
        return Err(FlowFileError::NodeOutOfRange {
            path: p(),
            line,
            node,
            num_nodes,
        });
    }
    Ok(Flow {
        key,
        node: NodeId::new(node as u16),
    })
}

/// Parses flow-file text (see [`load_flow_file`]); `path` is only used in
/// error messages. The same flows, or the same error, as [`read_flows`]
/// on the same text, without copying a line.
pub fn parse_flows<K: FlowKey>(
    text: &str,
    path: &Path,
    num_nodes: u16,
) -> Result<Vec<Flow<K>>, FlowFileError> {
    // Every line but the last ends with a newline: the count sizes the
    // lists once (they would otherwise grow ~20 times for a million flows).
    let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
    let mut read = Collected::new(path, num_nodes, FlowLimit::none(), lines);
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.len() > MAX_LINE_LEN {
            return Err(read.failed(FlowFileError::LineTooLong {
                path: path.to_path_buf(),
                line: i + 1,
            }));
        }
        read.line(i + 1, raw)?;
    }
    read.finish()
}

/// Reads flow-file lines from `input` (see [`load_flow_file`]), one line
/// at a time: memory is the flows and their lines (4 bytes a flow more
/// than the flows, 8 more while the keys are checked for repeats),
/// never the whole text; a line over [`MAX_LINE_LEN`] or one that is not
/// text (a binary file) is an error, as is a flow beyond `limit`. `path`
/// is only used in error messages.
pub fn read_flows<K: FlowKey, R: BufRead>(
    mut input: R,
    path: &Path,
    num_nodes: u16,
    limit: &FlowLimit,
) -> Result<Vec<Flow<K>>, FlowFileError> {
    let p = || path.to_path_buf();
    let mut read = Collected::new(path, num_nodes, limit.clone(), 0);
    let mut buf = Vec::with_capacity(MAX_LINE_LEN + 2);
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = match (&mut input)
            .take(MAX_LINE_LEN as u64 + 2)
            .read_until(b'\n', &mut buf)
        {
            Ok(n) => n,
            Err(source) => return Err(read.failed(FlowFileError::Io { path: p(), source })),
        };
        if n == 0 {
            break;
        }
        line += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        if buf.len() > MAX_LINE_LEN {
            return Err(read.failed(FlowFileError::LineTooLong { path: p(), line }));
        }
        match std::str::from_utf8(&buf) {
            Ok(raw) => read.line(line, raw)?,
            Err(_) => return Err(read.failed(FlowFileError::NotText { path: p(), line })),
        }
    }
    read.finish()
}

/// The flows of a flow file's lines so far, with the line of each. Repeated
/// keys are found once all lines are in (or one fails), by sorting the
/// keys' hashes: a hash map probed per line costs a cache miss per flow,
/// which was a third of the time to read a million. Every error is the
/// one a line-by-line check would give: the first line that is wrong, a
/// repeat included.
struct Collected<'a, K> {
    flows: Vec<Flow<K>>,
    /// `lines[i]`: the 1-based line of `flows[i]` (lines past `u32::MAX`
    /// are reported as `u32::MAX`).
    lines: Vec<u32>,
    path: &'a Path,
    num_nodes: u16,
    limit: FlowLimit,
}

impl<'a, K: FlowKey> Collected<'a, K> {
    /// Room for `expect` flows (at most `limit.max`).
    fn new(path: &'a Path, num_nodes: u16, limit: FlowLimit, expect: usize) -> Self {
        let expect = expect.min(limit.max);
        Collected {
            flows: Vec::with_capacity(expect),
            lines: Vec::with_capacity(expect),
            path,
            num_nodes,
            limit,
        }
    }

    /// Takes line `line`, whose text without its line end is `raw`: a flow,
    /// a comment or a blank; or the first error of the file so far.
    fn line(&mut self, line: usize, raw: &str) -> Result<(), FlowFileError> {
        if raw.contains('\0') {
            return Err(self.failed(FlowFileError::NotText {
                path: self.path.to_path_buf(),
                line,
            }));
        }
        let raw = if line == 1 {
            raw.trim_start_matches('\u{feff}')
        } else {
            raw
        };
        let content = line_content(raw);
        if content.is_empty() {
            return Ok(());
        }
        let flow = match parse_flow_line::<K>(content, self.path, line, self.num_nodes) {
            Ok(f) => f,
            Err(e) => return Err(self.failed(e)),
        };
        self.flows.push(flow);
        self.lines.push(u32::try_from(line).unwrap_or(u32::MAX));
        if self.flows.len() > self.limit.max || self.flows.len() > MAX_FLOWS {
            // Over the limit, unless this flow repeats one before it.
            let (max, why) = if self.flows.len() > self.limit.max {
                (self.limit.max, self.limit.why.clone())
            } else {
                (MAX_FLOWS, "the most one file can hold".to_string())
            };
            return Err(self.failed(FlowFileError::TooMany {
                path: self.path.to_path_buf(),
                line,
                max,
                why,
            }));
        }
        Ok(())
    }

    /// The error to report when line-by-line reading met `e` after the
    /// lines taken so far: the first repeat among them if there is one
    /// (its line comes first), else `e`.
    fn failed(&self, e: FlowFileError) -> FlowFileError {
        self.first_repeat().unwrap_or(e)
    }

    /// The flows, once every line is in: distinct keys, at least one.
    fn finish(mut self) -> Result<Vec<Flow<K>>, FlowFileError> {
        if let Some(e) = self.first_repeat() {
            return Err(e);
        }
        if self.flows.is_empty() {
            return Err(FlowFileError::Empty {
                path: self.path.to_path_buf(),
            });
        }
        self.flows.shrink_to_fit();
        Ok(self.flows)
    }

    /// The error of the earliest line whose key an earlier line has: a
    /// duplicate (same node) or a conflict (another node), naming the key's
    /// first line.
    fn first_repeat(&self) -> Option<FlowFileError> {
        let (later, first) = first_repeat(&self.flows)?;
        let (a, b) = (self.flows[first], self.flows[later]);
        let path = self.path.to_path_buf();
        let (line, first) = (self.lines[later] as usize, self.lines[first] as usize);
        let key = b.key.to_string();
        Some(if a.node == b.node {
            FlowFileError::Duplicate {
                path,
                line,
                key,
                first,
            }
        } else {
            FlowFileError::Conflict {
                path,
                line,
                key,
                node: b.node.get(),
                first,
                first_node: a.node.get(),
            }
        })
    }
}

/// Most flows one flow file may hold: [`first_repeat`] numbers them in 32
/// bits.
const MAX_FLOWS: usize = u32::MAX as usize;

/// `(later, first)`: the smallest index `later` whose key is at an earlier
/// index, and the first index of that key; `None` when the keys are
/// distinct. At most 2^32 flows (one past [`MAX_FLOWS`]: the flow that
/// went over it).
///
/// Sorts each flow's index under the top 32 bits of its key's hash, so
/// equal keys end up next to each other, their indices in order; only
/// keys whose hashes share those bits (a few hundred pairs in a million
/// keys) are compared.
fn first_repeat<K: FlowKey>(flows: &[Flow<K>]) -> Option<(usize, usize)> {
    use std::hash::BuildHasher;
    debug_assert!(flows.len() as u64 <= 1 << 32);
    let hasher = hashbrown::DefaultHashBuilder::default();
    let mut order: Vec<u64> = flows
        .iter()
        .enumerate()
        .map(|(i, f)| hasher.hash_one(f.key) & !0xffff_ffff | i as u64)
        .collect();
    order.sort_unstable();
    let index = |e: u64| (e & 0xffff_ffff) as usize;
    let mut best: Option<(usize, usize)> = None;
    for run in order.chunk_by(|a, b| a >> 32 == b >> 32) {
        // The run's indices ascend: its first index with an equal key
        // before it is the run's earliest repeat.
        'run: for (j, &b) in run.iter().enumerate().skip(1) {
            let later = index(b);
            if best.is_some_and(|(l, _)| l <= later) {
                break;
            }
            for &a in &run[..j] {
                if flows[index(a)].key == flows[later].key {
                    best = Some((later, index(a)));
                    break 'run;
                }
            }
        }
    }
    best
}

/// Loads a flow file: one `key,node` per line (the key in its
/// [`FlowKey::parse_text`] form: `10.0.0.1,3` for IPv4 destinations,
/// `10.0.0.1:1234 -> 10.0.0.2:80 tcp,3` for IPv4 5-tuples), `#`
/// starts a comment (whole-line or trailing), blank lines are skipped and
/// whitespace is trimmed. Every node must be `< num_nodes`, no key may
/// repeat, and at least one flow must be present. Lines end with LF or
/// CRLF; a UTF-8 byte-order mark is skipped. On any error nothing is
/// returned; the error names the file and line.
pub fn load_flow_file<K: FlowKey>(
    path: &Path,
    num_nodes: u16,
) -> Result<Vec<Flow<K>>, FlowFileError> {
    load_flow_file_limited(path, num_nodes, &FlowLimit::none())
}

/// [`load_flow_file`] that refuses a flow beyond `limit`, at its line.
pub fn load_flow_file_limited<K: FlowKey>(
    path: &Path,
    num_nodes: u16,
    limit: &FlowLimit,
) -> Result<Vec<Flow<K>>, FlowFileError> {
    let file = std::fs::File::open(path).map_err(|source| FlowFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // Not sized from the file's length: comments and longer lines would
    // make that many times the flows (start-up's memory estimate counts
    // what the flows take).
    read_flows(
        io::BufReader::with_capacity(1 << 16, file),
        path,
        num_nodes,
        limit,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Ipv4Dst;

    fn flow(dst: u32, node: u16) -> Flow<Ipv4Dst> {
        Flow {
            key: Ipv4Dst::from_u32(dst),
            node: NodeId::new(node),
        }
    }

    fn parse(text: &str, nodes: u16) -> Result<Vec<Flow<Ipv4Dst>>, String> {
        parse_flows(text, Path::new("flows.csv"), nodes).map_err(|e| e.to_string())
    }

    #[test]
    fn seed_population_matches_seed() {
        let v: Vec<Flow<Ipv4Dst>> = seed_population(5, 2).collect();
        assert_eq!(v.len(), 5);
        assert_eq!(v[0], flow(0, 0));
        assert_eq!(v[3], flow(3, 1));
        assert_eq!(v[4].key.to_bytes(), [0, 0, 0, 4]);
        assert_eq!(seed_population::<Ipv4Dst>(0, 3).count(), 0);
        assert!(seed_population::<Ipv4Dst>(1000, 7).all(|f| f.node.get() < 7));
    }

    #[test]
    fn parses_good_file() {
        let v = parse(
            "# flows\n\n 10.0.0.1 , 3 \n10.0.0.2,0 # trailing comment\n\t192.168.1.255,1\n",
            4,
        )
        .unwrap();
        assert_eq!(
            v,
            vec![
                flow(0x0a00_0001, 3),
                flow(0x0a00_0002, 0),
                flow(0xc0a8_01ff, 1)
            ]
        );
    }

    #[test]
    fn bad_address() {
        let text = "10.0.0.1,0\n".to_string() + &"# c\n".repeat(10) + "10.0.0,1\n";
        assert_eq!(
            parse(&text, 4).unwrap_err(),
            "flows.csv:12: bad IPv4 address \"10.0.0\""
        );
        assert_eq!(
            parse("256.0.0.1,0", 4).unwrap_err(),
            "flows.csv:1: bad IPv4 address \"256.0.0.1\""
        );
    }

    #[test]
    fn node_out_of_range() {
        let text = "# x\n".repeat(6) + "10.0.0.1,9\n";
        assert_eq!(
            parse(&text, 4).unwrap_err(),
            "flows.csv:7: node 9 out of range (4 nodes)"
        );
        assert_eq!(
            parse("10.0.0.1,99999999999", 4).unwrap_err(),
            "flows.csv:1: node 99999999999 out of range (4 nodes)"
        );
    }

    #[test]
    fn bad_node_and_syntax() {
        assert_eq!(
            parse("10.0.0.1,-1", 4).unwrap_err(),
            "flows.csv:1: bad node id \"-1\""
        );
        assert_eq!(
            parse("10.0.0.1,", 4).unwrap_err(),
            "flows.csv:1: bad node id \"\""
        );
        assert_eq!(
            parse("\n10.0.0.1 3", 4).unwrap_err(),
            "flows.csv:2: expected \"key,node\", got \"10.0.0.1 3\""
        );
    }

    #[test]
    fn duplicate() {
        assert_eq!(
            parse("10.0.0.1,1\n10.0.0.2,1\n10.0.0.1,1\n", 4).unwrap_err(),
            "flows.csv:3: duplicate flow 10.0.0.1 (first at line 1)"
        );
        assert_eq!(
            parse("10.0.0.1,1\n10.0.0.2,1\n10.0.0.1,2\n", 4).unwrap_err(),
            "flows.csv:3: flow 10.0.0.1 goes to node 2, but line 1 gives it node 1"
        );
    }

    /// The bad-input table of flow-file lines: each one line naming file
    /// and line; blank and comment lines (and CRLF, a BOM) are accepted.
    #[test]
    fn bad_line_table() {
        for (text, want) in [
            (
                "10.0.0.1,0\n10.0.0,1\n",
                "flows.csv:2: bad IPv4 address \"10.0.0\"",
            ),
            ("::1,0\n", "flows.csv:1: bad IPv4 address \"::1\""),
            ("10.0.0.1,4\n", "flows.csv:1: node 4 out of range (4 nodes)"),
            ("10.0.0.1,1,2\n", "flows.csv:1: bad node id \"1,2\""),
            (
                "10.0.0.1;1\n",
                "flows.csv:1: expected \"key,node\", got \"10.0.0.1;1\"",
            ),
            (
                "1.1.1.1,0\n1.1.1.1,3\n",
                "flows.csv:2: flow 1.1.1.1 goes to node 3, but line 1 gives it node 0",
            ),
            (
                "1.1.1.1,0\n\u{0}\u{1}\n",
                "flows.csv:2: not a line of text (binary data?); expected \"key,node\" lines",
            ),
            ("# x\n\n   \n", "flows.csv: no flows"),
        ] {
            assert_eq!(parse(text, 4).unwrap_err(), want, "{text:?}");
        }
        // Invalid UTF-8 (the start of a pcap file).
        let bin = [0xd4u8, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, b'\n'];
        let e = read_flows::<Ipv4Dst, _>(&bin[..], Path::new("in.pcap"), 4, &FlowLimit::none())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "in.pcap:1: not a line of text (binary data?); expected \"key,node\" lines"
        );
        // A binary file without newlines is not read whole.
        let long = vec![b'7'; 10 * MAX_LINE_LEN];
        let e = read_flows::<Ipv4Dst, _>(&long[..], Path::new("x"), 4, &FlowLimit::none())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "x:1: line longer than 1024 bytes; expected \"key,node\" lines"
        );
        // Blank lines, comments, CRLF and a byte-order mark are fine.
        let v = parse(
            "\u{feff}# flows\r\n\r\n\t \n10.0.0.1,3 # a\r\n#10.0.0.1,3\n10.0.0.2,0",
            4,
        )
        .unwrap();
        assert_eq!(v, vec![flow(0x0a00_0001, 3), flow(0x0a00_0002, 0)]);
    }

    #[test]
    fn limit_stops_at_the_first_flow_over_it() {
        let limit = FlowLimit {
            max: 2,
            why: "they would not fit".into(),
        };
        let text = "1.0.0.1,0\n# c\n1.0.0.2,0\n1.0.0.3,0\n";
        let e = read_flows::<Ipv4Dst, _>(text.as_bytes(), Path::new("f"), 1, &limit)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "f:4: more than 2 flows: they would not fit");
        let two = "1.0.0.1,0\n1.0.0.2,0\n";
        assert!(read_flows::<Ipv4Dst, _>(two.as_bytes(), Path::new("f"), 1, &limit).is_ok());
    }

    #[test]
    fn empty() {
        assert_eq!(parse("", 4).unwrap_err(), "flows.csv: no flows");
        assert_eq!(
            parse("# only\n\n   \n", 4).unwrap_err(),
            "flows.csv: no flows"
        );
    }

    #[test]
    fn missing_file() {
        let e =
            load_flow_file::<Ipv4Dst>(Path::new("/nonexistent-efd-lb/flows.csv"), 4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/nonexistent-efd-lb/flows.csv: No such file or directory"
        );
        assert!(matches!(e, FlowFileError::Io { .. }));
    }

    #[test]
    fn loads_real_file() {
        let path = std::env::temp_dir().join(format!("efd-lb-flows-{}.csv", std::process::id()));
        std::fs::write(&path, "1.2.3.4,1\n").unwrap();
        let v = load_flow_file::<Ipv4Dst>(&path, 2);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(v.unwrap(), vec![flow(0x0102_0304, 1)]);
    }

    #[test]
    fn other_key_kinds() {
        use crate::key::{FiveTuple, Ipv4FiveTuple, Ipv6Dst};
        let text = "# 5-tuples\n10.0.0.1:1234 -> 10.0.0.2:80 tcp , 1\n\
                    [2001:db8::1]:5->[2001:db8::2]:443 udp,0 # v6\n";
        let v = parse_flows::<FiveTuple>(text, Path::new("f"), 2).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].key.to_string(), "10.0.0.1:1234 -> 10.0.0.2:80 tcp");
        assert_eq!(
            v[1].key.to_string(),
            "[2001:db8::1]:5 -> [2001:db8::2]:443 udp"
        );
        assert_eq!(v[1].node, NodeId::new(0));
        let e = |text: &str| {
            parse_flows::<Ipv4FiveTuple>(text, Path::new("flows.csv"), 4)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e("10.0.0.1:1 -> 10.0.0.2:2 tcp,0\n10.0.0.1:1234 -> 10.0.0.2:99999 tcp,1"),
            "flows.csv:2: bad IPv4 5-tuple \"10.0.0.1:1234 -> 10.0.0.2:99999 tcp\": \
             port \"99999\" is not a number 0..=65535"
        );
        assert_eq!(
            e("10.0.0.1:1234 -> 10.0.0.2:80,1"),
            "flows.csv:1: bad IPv4 5-tuple \"10.0.0.1:1234 -> 10.0.0.2:80\": \
             expected \"10.0.0.1:1234 -> 10.0.0.2:80 tcp\""
        );
        assert_eq!(
            e("10.0.0.1:1 -> 10.0.0.2:2 tcp,0\n10.0.0.1:1 -> 10.0.0.2:2 6,1"),
            "flows.csv:2: flow 10.0.0.1:1 -> 10.0.0.2:2 tcp goes to node 1, but line 1 gives it node 0"
        );
        assert_eq!(
            parse_flows::<Ipv6Dst>("2001:db8::zz,0", Path::new("f"), 1)
                .unwrap_err()
                .to_string(),
            "f:1: bad IPv6 address \"2001:db8::zz\""
        );
    }

    fn write_and_read<K: FlowKey>(num_flows: u32, num_nodes: u16) {
        let flows: Vec<Flow<K>> = seed_population(num_flows, num_nodes).collect();
        let text: String = flows
            .iter()
            .map(|f| format!("{},{}\n", f.key, f.node.get()))
            .collect();
        let back = parse_flows::<K>(&text, Path::new("f"), num_nodes).unwrap();
        assert_eq!(back, flows, "{}", K::KIND);
    }

    #[test]
    fn seed_populations_written_read_back() {
        for kind in crate::key::KeyKind::ALL {
            crate::with_key_kind!(kind, |K, N| {
                let _ = N;
                write_and_read::<K>(2000, 3)
            });
        }
    }

    proptest::proptest! {
        /// Any text: a result or a one-line error naming the file, never a
        /// panic; every kind.
        #[test]
        fn any_text_parses_or_fails_on_one_line(
            lines in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::Just("10.0.0.1,0".to_string()),
                    proptest::prelude::Just("10.0.0.1:1 -> 10.0.0.2:2 tcp,1".to_string()),
                    proptest::prelude::Just("[::1]:1 -> [::2]:2 udp,1".to_string()),
                    proptest::prelude::Just("2001:db8::1,1 # c".to_string()),
                    "\\PC{0,40}",
                    "[0-9.:,\\[\\]a-f> -]{0,40}",
                ],
                0..8,
            ),
        ) {
            let text = lines.join("\n");
            for kind in crate::key::KeyKind::ALL {
                crate::with_key_kind!(kind, |K, N| {
                    let _ = N;
                    match parse_flows::<K>(&text, Path::new("p.csv"), 2) {
                        Ok(v) => proptest::prop_assert!(!v.is_empty()),
                        Err(e) => {
                            let e = e.to_string();
                            proptest::prop_assert!(e.starts_with("p.csv:"), "{}", e);
                            proptest::prop_assert!(!e.contains('\n'), "{}", e);
                        }
                    }
                });
            }
        }
    }

    #[test]
    fn errors_are_one_line() {
        for text in ["x", "1.1.1.1,9", "", "1.1.1.1,0\n1.1.1.1,0", "1.1.1.1,z"] {
            let e = parse(text, 2).unwrap_err();
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
