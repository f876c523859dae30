//! Parser for the Prometheus text exposition format (0.0.4) and OpenMetrics 1.0.
//!
//! # Why we own this parser
//!
//! The crates on crates.io were measured against real exporter output (the shared
//! `docs/crates.md`): `prometheus-parse` silently drops samples whose name contains `:`, samples
//! with an empty `{}` label set and samples whose label values contain `,`, `}` or `=`; it never
//! unescapes label values, mangles labels with spaces and replaces OpenMetrics float timestamps
//! with the current time. Each faster crate rejects something common in real scrapes (timestamps,
//! comment lines, CRLF, a missing final newline, mixed label sets in one family, empty families).
//! A scrape that fails to parse is a blind spot for the advisor, and a silently dropped sample is
//! worse, so this module implements both formats directly, validated against the OpenMetrics
//! conformance suite, the `prometheus/common` expfmt corpus and real Cassandra/Kafka scrapes.
//!
//! # Design
//!
//! * The body is validated as UTF-8 once, up front (an invalid byte is reported with its line).
//!   After that every token is a `&str` slice of the body, cut at ASCII delimiters, so no token is
//!   ever re-validated or copied until it becomes part of a kept [`Sample`].
//! * Lines are found with `memchr` (SIMD); each line is then scanned once, byte by byte, with a
//!   lookup table for name characters. There is no regex and no per-character allocation.
//! * Consecutive text-format sample lines mostly repeat the previous line's metric name and
//!   label names, in the same order. Those are compared with the previous line rather than
//!   scanned, and what was worked out for them is reused: the family, whether `keep` wants the
//!   series, the sorted order of the label names and the duplicate check, their lint facts and
//!   their atoms (`PrevLine`). Only a name that differs is scanned and worked out again.
//! * Names and label strings become shared [`Atom`]s, each distinct string once per body (the
//!   previous sample's are compared first, then a hash table), so a kept sample costs one
//!   allocation, its label vector. Label values are only rebuilt when they contain a backslash
//!   escape. [`parse_keeping`] validates everything but builds only the samples asked for.
//! * Numbers are validated with a small hand-written grammar (decimal, `NaN`, `±Inf`; no hex, no
//!   `_`) and converted with an exact fast path for short mantissas, falling back to the standard
//!   library's correctly rounded parser.
//! * **Text format** follows Prometheus: the structure and strictness of `expfmt`'s
//!   `TextParser` (duplicate `HELP`/`TYPE`, `TYPE` after samples, invalid escapes, non-numeric
//!   `le`/`quantile` are errors), with the leniencies of the server's `promparse` and of real
//!   exporters: blank lines, CRLF line ends, a missing final newline, arbitrary `#` comments (the
//!   instaclustr exporter's banner), a trailing comma in label sets (`{a="b",}`, Java
//!   simpleclient), blanks around label tokens, and samples of one family that are not contiguous.
//!   Timestamps are integer milliseconds.
//! * **OpenMetrics** is validated as the conformance suite demands: `# EOF` is required and must
//!   be last, no blank lines, single spaces, counters are exposed as `_total`, families must be
//!   contiguous and must not clash, histogram/summary/stateset/info semantics are checked.
//!   Timestamps are float seconds, converted to milliseconds exactly (truncated). Exemplars are
//!   validated and dropped. Two rules are deliberately relaxed because the reference Go client
//!   (`client_golang`) emits, and Prometheus accepts, summaries and histograms of negative
//!   observations: a negative quantile value and a `_sum` next to negative buckets become
//!   [`Lint`] warnings instead of errors (a negative `_sum` without any negative observation in
//!   its group is still an error).
//! * Lints follow `promtool check metrics` (client_golang `promlint`): missing `HELP`, counters
//!   without `_total`, non-base units, unit abbreviations, reserved suffixes and labels, type names
//!   in metric names, `:` and camelCase names.
//! * Not supported: the UTF-8 quoted metric names of text format 1.0.0 / Prometheus 3
//!   (`{"my.metric"}`); [`ACCEPT_HEADER`] does not ask for them, so exporters do not send them.
//!
//! The parser never panics: slices are taken with `get`, the only direct indexing is on indices
//! the parser itself created, and a randomised test feeds both formats mutated inputs.
//!
//! Speed: `python3 benches/parser_vs_python.py` (README "Parser speed" has the figures and
//! instruction counts). With allocation down to one per sample, what remains is scanning,
//! building the kept samples (a label vector and one reference count per string each),
//! interning lookups for values that change from line to line, float conversion and, on
//! metadata-heavy scrapes, the lints.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use crate::sample::{Atom, Labels, Sample};

/// Labels of the line being parsed, borrowed from the body (a value is owned only when it
/// had a backslash escape). They become [`Labels`] of [`Atom`]s only for samples that are kept.
type RawLabels<'a> = Vec<(&'a str, Cow<'a, str>)>;

/// The `Accept` header Prometheus 2.x sends when scraping: OpenMetrics 1.0.0 preferred, then
/// OpenMetrics 0.0.1, then the text format 0.0.4, then anything.
pub const ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0,\
application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// The two exposition formats this module parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    Text,
    /// OpenMetrics 1.0 (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
}

/// Decides the format of a scraped body.
///
/// A `Content-Type` whose media type is `application/openmetrics-text` means OpenMetrics, any
/// other content type means text. Without a (non-empty) content type, a body whose last line is
/// `# EOF` is OpenMetrics, anything else is text.
pub fn detect_format(content_type: Option<&str>, body: &[u8]) -> Format {
    if let Some(ct) = content_type.map(str::trim).filter(|ct| !ct.is_empty()) {
        let media = ct.split(';').next().unwrap_or_default().trim();
        return if media.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Text
        };
    }
    let mut end = body.len();
    while end > 0 && body.get(end - 1).is_some_and(u8::is_ascii_whitespace) {
        end -= 1;
    }
    let trimmed = body.get(..end).unwrap_or_default();
    let last_line_is_eof = trimmed
        .strip_suffix(b"# EOF")
        .is_some_and(|before| before.is_empty() || before.last() == Some(&b'\n'));
    if last_line_is_eof { Format::OpenMetrics } else { Format::Text }
}

/// The type of a metric family, as declared by its `TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// A monotonic counter (`counter`).
    Counter,
    /// A value that can go up and down (`gauge`).
    Gauge,
    /// A cumulative histogram with `_bucket`, `_sum` and `_count` series (`histogram`).
    Histogram,
    /// An OpenMetrics gauge histogram with `_bucket`, `_gsum` and `_gcount` (`gaugehistogram`).
    GaugeHistogram,
    /// Quantiles plus `_sum` and `_count` (`summary`).
    Summary,
    /// OpenMetrics `info`: constant 1 with labels, series named `_info`.
    Info,
    /// OpenMetrics `stateset`: one 0/1 series per state.
    StateSet,
    /// No `TYPE`, or `untyped` (text) / `unknown` (OpenMetrics).
    Unknown,
}

impl MetricKind {
    /// The lower-case name used in `TYPE` lines (`unknown` for [`MetricKind::Unknown`]).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
            MetricKind::GaugeHistogram => "gaugehistogram",
            MetricKind::Summary => "summary",
            MetricKind::Info => "info",
            MetricKind::StateSet => "stateset",
            MetricKind::Unknown => "unknown",
        }
    }

    /// Series-name suffixes a family of this kind may expose in OpenMetrics.
    fn om_suffixes(self) -> &'static [&'static str] {
        match self {
            MetricKind::Counter => &["_total", "_created"],
            MetricKind::Summary => &["", "_count", "_sum", "_created"],
            MetricKind::Histogram => &["_count", "_sum", "_bucket", "_created"],
            MetricKind::GaugeHistogram => &["_gcount", "_gsum", "_bucket"],
            MetricKind::Info => &["_info"],
            MetricKind::Gauge | MetricKind::StateSet | MetricKind::Unknown => &[""],
        }
    }
}

/// Metadata of one metric family, in order of first appearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// Family name: the `TYPE`/`HELP` name, or the sample name when there is no metadata. In
    /// OpenMetrics a counter family `foo` exposes `foo_total`; in the text format the family is
    /// usually already called `foo_total`.
    pub name: String,
    /// Declared type; [`MetricKind::Unknown`] without a `TYPE` line.
    pub kind: MetricKind,
    /// Unescaped `HELP` text, if any.
    pub help: Option<String>,
    /// OpenMetrics `UNIT`, if any (never set for the text format).
    pub unit: Option<String>,
}

/// A non-fatal finding about an exposition, in the spirit of `promtool check metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lint {
    /// 1-based line where the family (or offending sample) appears.
    pub line: usize,
    /// `"<metric>: <problem>"`, e.g. `"foo: counter metrics should have \"_total\" suffix"`.
    pub message: String,
}

/// Everything read from one exposition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    /// Metric families in order of first appearance.
    pub families: Vec<Family>,
    /// All samples in exposition order, labels unescaped and sorted by name.
    pub samples: Vec<Sample>,
    /// Lint warnings; they never prevent parsing.
    pub warnings: Vec<Lint>,
}

impl Exposition {
    /// The family called `name`, if declared or seen.
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }
}

/// Why an exposition was rejected: the 1-based line and a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    /// 1-based line number of the offending line.
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

/// The sample vector is sized for the body up front; a filtered parse keeps few of them, and
/// the result may be held for the whole window.
fn fit(mut samples: Vec<Sample>) -> Vec<Sample> {
    if samples.capacity() > 2 * samples.len() + 64 {
        samples.shrink_to_fit();
    }
    samples
}

fn err<T>(line: usize, reason: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError { line, reason: reason.into() })
}

/// Parses an exposition body in the given format.
///
/// Returns every sample with its full series name (e.g. `foo_bucket`), the family metadata and
/// lint warnings, or the first error with its line.
pub fn parse(body: &[u8], format: Format) -> Result<Exposition, ParseError> {
    parse_keeping(body, format, &|_| true)
}

/// [`parse`], keeping only the samples whose series name `keep` accepts.
///
/// The whole body is still validated and linted exactly as [`parse`] does (a scrape either
/// parses or fails the same way whatever is kept, and `families`/`warnings` are complete);
/// only the samples `keep` rejects are never built. The daemon reads a few dozen catalogue
/// series out of thousands, so this is where most of a scrape's allocations go away.
/// `keep` is asked once per run of samples with the same name, not once per sample.
pub fn parse_keeping(
    body: &[u8],
    format: Format,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Exposition, ParseError> {
    let src = match std::str::from_utf8(body) {
        Ok(s) => s,
        Err(e) => {
            let at = e.valid_up_to();
            let line =
                1 + body.get(..at).unwrap_or_default().iter().filter(|&&b| b == b'\n').count();
            return err(line, format!("invalid UTF-8 (byte offset {at})"));
        }
    };
    match format {
        Format::Text => TextParser::new(src.len(), keep).run(src),
        Format::OpenMetrics => OmParser::new(src.len(), keep).run(src),
    }
}

// ---------------------------------------------------------------------------------------------
// Byte-level helpers
// ---------------------------------------------------------------------------------------------

const NAME_START: u8 = 1;
const NAME_CHAR: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL_CHAR: u8 = 8;

const fn class_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut v = 0;
        if c.is_ascii_alphabetic() || c == b'_' {
            v = NAME_START | NAME_CHAR | LABEL_START | LABEL_CHAR;
        } else if c.is_ascii_digit() {
            v = NAME_CHAR | LABEL_CHAR;
        } else if c == b':' {
            v = NAME_START | NAME_CHAR;
        }
        t[i] = v;
        i += 1;
    }
    t
}

static CLASS: [u8; 256] = class_table();

#[inline]
fn class(b: u8) -> u8 {
    CLASS[b as usize]
}

#[inline]
fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// Equality of two short byte strings (names, label values) without the call into `memcmp`
/// that `==` on slices makes: up to 32 bytes are compared as two overlapping fixed-size
/// chunks, which compile to a few loads.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        4..8 => {
            a.first_chunk::<4>() == b.first_chunk::<4>()
                && a.last_chunk::<4>() == b.last_chunk::<4>()
        }
        8..=16 => {
            a.first_chunk::<8>() == b.first_chunk::<8>()
                && a.last_chunk::<8>() == b.last_chunk::<8>()
        }
        17..=32 => {
            a.first_chunk::<16>() == b.first_chunk::<16>()
                && a.last_chunk::<16>() == b.last_chunk::<16>()
        }
        _ => a == b,
    }
}

/// End of a metric name `[a-zA-Z_:][a-zA-Z0-9_:]*` starting at `i` (`i` itself if none).
#[inline]
fn scan_name(b: &[u8], i: usize, start: u8, cont: u8) -> usize {
    if class(at(b, i)) & start == 0 {
        return i;
    }
    let rest = b.get(i + 1..).unwrap_or_default();
    i + 1 + rest.iter().position(|&c| class(c) & cont == 0).unwrap_or(rest.len())
}

#[inline]
fn is_name_char(c: u8) -> bool {
    class(c) & NAME_CHAR != 0
}

#[inline]
fn scan_metric_name(b: &[u8], i: usize) -> usize {
    scan_name(b, i, NAME_START, NAME_CHAR)
}

#[inline]
fn scan_label_name(b: &[u8], i: usize) -> usize {
    scan_name(b, i, LABEL_START, LABEL_CHAR)
}

fn is_metric_name(s: &str) -> bool {
    !s.is_empty() && scan_metric_name(s.as_bytes(), 0) == s.len()
}

#[inline]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

#[inline]
fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_blank(at(b, i)) {
        i += 1;
    }
    i
}

/// End of a token: the next blank or the end of the line.
#[inline]
fn token_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && !is_blank(at(b, i)) {
        i += 1;
    }
    i
}

/// Index of the next `c` at or after `i`, or `b.len()`.
#[inline]
fn find_from(b: &[u8], i: usize, c: u8) -> usize {
    let mut j = i;
    while j < b.len() && at(b, j) != c {
        j += 1;
    }
    j
}

/// A small multiplicative hasher (as rustc's `FxHasher`) for the family-name index: names come
/// from a semi-trusted exporter and lookups happen once per family, so SipHash's flood
/// resistance is not worth its cost here.
#[derive(Default)]
struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word.get_mut(..rest.len()).unwrap_or_default().copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, b: u8) {
        self.add(u64::from(b));
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = BuildHasherDefault<FxHasher>;

/// Iterates over `(line_number, line)`; the text after a final `\n` is not a line.
struct Lines<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(src: &'a str) -> Self {
        Lines { src, pos: 0, line: 0 }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);

    #[inline]
    fn next(&mut self) -> Option<(usize, &'a str)> {
        let rest = self.src.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let len = memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len());
        self.pos += len + 1;
        self.line += 1;
        Some((self.line, rest.get(..len).unwrap_or_default()))
    }
}

/// A label name's text and atom, and the last borrowed value text seen beside it with its atom.
type LastLabel<'a> = (&'a str, Atom, Option<(&'a str, Atom)>);

/// Turns the borrowed strings of kept samples into shared [`Atom`]s: each distinct string of a
/// body is allocated once and every sample that repeats it shares it.
///
/// Consecutive samples mostly repeat the previous sample's name and its labels position by
/// position (`keyspace`, `table`, ... on every line of a family), so those are compared with
/// the previous sample first and only a change costs a hash lookup. Escaped values (owned after
/// unescaping) are rare and not interned. The table lives for one body, so a target that sends
/// a million distinct values costs what those values cost, and no more. The OpenMetrics parser
/// uses all of this; the text parser uses the table and keeps its position caches in
/// [`PrevLine`], next to the other facts it reuses from the previous line.
struct Atoms<'a> {
    table: HashMap<&'a str, Atom, FxBuild>,
    last_name: Option<(&'a str, Atom)>,
    /// Per label position in the previous kept samples: the name text and its atom, and the
    /// last unescaped value text at that position with its atom.
    last: Vec<LastLabel<'a>>,
}

impl<'a> Atoms<'a> {
    /// For a body of `len` bytes: the table is sized for one distinct string per ~128 bytes
    /// (real scrapes have fewer), so it does not grow, rehashing, while the body is read.
    fn new(len: usize) -> Self {
        let table = HashMap::with_capacity_and_hasher(len / 128, FxBuild::default());
        Atoms { table, last_name: None, last: Vec::new() }
    }

    #[inline]
    fn get(&mut self, s: &'a str) -> Atom {
        intern(&mut self.table, s)
    }

    #[inline]
    fn name(&mut self, s: &'a str) -> Atom {
        match &self.last_name {
            Some((text, atom)) if *text == s => atom.clone(),
            _ => {
                let atom = self.get(s);
                self.last_name = Some((s, atom.clone()));
                atom
            }
        }
    }

    fn labels(&mut self, raw: &[(&'a str, Cow<'a, str>)]) -> Labels {
        let mut out = Vec::with_capacity(raw.len());
        for (j, (k, v)) in raw.iter().enumerate() {
            let k = *k;
            if j == self.last.len() {
                let ka = self.get(k);
                self.last.push((k, ka, None));
            }
            let Some(slot) = self.last.get_mut(j) else { continue };
            if slot.0 != k {
                *slot = (k, intern(&mut self.table, k), None);
            }
            let ka = slot.1.clone();
            let va = match v {
                // Unescaped text is not in the body: neither cached nor interned.
                Cow::Owned(v) => Atom::from(v.as_str()),
                Cow::Borrowed(v) => match &slot.2 {
                    Some((text, atom)) if text == v => atom.clone(),
                    _ => {
                        let atom = intern(&mut self.table, v);
                        slot.2 = Some((v, atom.clone()));
                        atom
                    }
                },
            };
            out.push((ka, va));
        }
        out
    }
}

#[inline]
fn intern<'a>(table: &mut HashMap<&'a str, Atom, FxBuild>, s: &'a str) -> Atom {
    if let Some(a) = table.get(s) {
        return a.clone();
    }
    let a = Atom::from(s);
    table.insert(s, a.clone());
    a
}

/// A short, escaped excerpt for error messages.
fn excerpt(s: &str) -> String {
    const MAX: usize = 48;
    if s.len() <= MAX {
        return format!("{s:?}");
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}…", s.get(..end).unwrap_or_default())
}

/// Reads a label value after its opening quote; returns the unescaped value and the index after
/// the closing quote. `\\`, `\"` and `\n` are unescaped; other escapes are an error when `strict`
/// (text format, as `expfmt`), otherwise kept verbatim (OpenMetrics, as the reference parsers).
fn read_label_value(
    line: &str,
    start: usize,
    strict: bool,
) -> Result<(Cow<'_, str>, usize), String> {
    let b = line.as_bytes();
    let rest = b.get(start..).unwrap_or_default();
    let mut i = start + rest.iter().position(|&c| c == b'"' || c == b'\\').unwrap_or(rest.len());
    if at(b, i) == b'"' {
        return Ok((Cow::Borrowed(line.get(start..i).unwrap_or_default()), i + 1));
    }
    let mut out = String::with_capacity(i - start + 8);
    out.push_str(line.get(start..i).unwrap_or_default());
    loop {
        match b.get(i) {
            None => return Err("unterminated label value".into()),
            Some(b'"') => return Ok((Cow::Owned(out), i + 1)),
            Some(b'\\') => {
                match b.get(i + 1) {
                    Some(b'\\') => out.push('\\'),
                    Some(b'"') => out.push('"'),
                    Some(b'n') => out.push('\n'),
                    None => return Err("unterminated label value".into()),
                    Some(_) if strict => {
                        let seq = line.get(i..).and_then(|s| s.chars().nth(1)).unwrap_or('?');
                        return Err(format!("invalid escape sequence '\\{seq}' in label value"));
                    }
                    Some(_) => {
                        // Keep the backslash; the escaped character is copied normally.
                        out.push('\\');
                        i += 1;
                        continue;
                    }
                }
                i += 2;
            }
            Some(_) => {
                let mut j = i + 1;
                while j < b.len() && !matches!(at(b, j), b'"' | b'\\') {
                    j += 1;
                }
                out.push_str(line.get(i..j).unwrap_or_default());
                i = j;
            }
        }
    }
}

/// Sorts labels by name and rejects duplicate names.
fn sort_labels<V>(labels: &mut [(&str, V)]) -> Result<(), String> {
    if labels.windows(2).all(|w| w[0].0 < w[1].0) {
        return Ok(());
    }
    labels.sort_unstable_by(|a, b| a.0.cmp(b.0));
    match labels.windows(2).find(|w| w[0].0 == w[1].0) {
        Some(w) => Err(format!("duplicate label name {:?}", w[0].0)),
        None => Ok(()),
    }
}

/// Unescapes a `HELP` text: `\\` and `\n` always, `\"` too in OpenMetrics; any other backslash
/// is kept as written.
fn unescape_help(s: &str, om: bool) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if om => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

/// A validated decimal literal: `[+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?`.
struct Decimal<'a> {
    neg: bool,
    int: &'a [u8],
    frac: &'a [u8],
    exp: Option<i64>,
}

fn scan_digits(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && at(b, i).is_ascii_digit() {
        i += 1;
    }
    i
}

fn scan_decimal(s: &[u8]) -> Option<Decimal<'_>> {
    let (neg, mut i) = match s.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let int_start = i;
    i = scan_digits(s, i);
    let int = s.get(int_start..i)?;
    let mut frac: &[u8] = &[];
    if at(s, i) == b'.' {
        let f_start = i + 1;
        i = scan_digits(s, f_start);
        frac = s.get(f_start..i)?;
    }
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut exp = None;
    if matches!(at(s, i), b'e' | b'E') {
        i += 1;
        let eneg = match at(s, i) {
            b'-' => {
                i += 1;
                true
            }
            b'+' => {
                i += 1;
                false
            }
            _ => false,
        };
        let e_start = i;
        i = scan_digits(s, i);
        if i == e_start {
            return None;
        }
        let mut e: i64 = 0;
        for &d in s.get(e_start..i)? {
            e = (e * 10 + i64::from(d - b'0')).min(1 << 40);
        }
        exp = Some(if eneg { -e } else { e });
    }
    if i != s.len() {
        return None;
    }
    Some(Decimal { neg, int, frac, exp })
}

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a sample value: a decimal number, `NaN`, or `[+-]Inf`/`[+-]Infinity` (any case), as
/// Go's `strconv.ParseFloat` does once hex floats and `_` are excluded (which Prometheus does).
/// Out-of-range literals become ±Inf or 0.
fn parse_float(s: &[u8]) -> Option<f64> {
    let first = *s.first()?;
    let unsigned = if first == b'+' || first == b'-' { s.get(1..)? } else { s };
    if unsigned.first().is_some_and(u8::is_ascii_alphabetic) {
        if unsigned.eq_ignore_ascii_case(b"inf") || unsigned.eq_ignore_ascii_case(b"infinity") {
            return Some(if first == b'-' { f64::NEG_INFINITY } else { f64::INFINITY });
        }
        if unsigned.len() == s.len() && s.eq_ignore_ascii_case(b"nan") {
            return Some(f64::NAN);
        }
        return None;
    }
    if let Some(v) = parse_simple_float(s) {
        return Some(v);
    }
    // Long mantissas and large exponents: the standard library's correctly rounded parser,
    // whose grammar (once `inf`/`nan` are excluded above) is exactly the decimal grammar here.
    std::str::from_utf8(s).ok()?.parse::<f64>().ok()
}

/// One-pass fast path of [`parse_float`] for `[+-]digits[.digits][e[+-]digits]` with at most 15
/// significant digits and a decimal exponent within ±22, where `m × 10^e` (or `m / 10^-e`) is
/// exact and therefore correctly rounded. `None` means "use the general path", not "invalid".
#[inline]
fn parse_simple_float(s: &[u8]) -> Option<f64> {
    float_prefix(s, 0).filter(|&(_, end)| end == s.len()).map(|(v, _)| v)
}

/// [`parse_simple_float`] of the number that starts at `b[start]`, wherever it ends: the value
/// and the index after its last character. The text parser reads a sample value this way, in
/// the same pass that finds where the value ends; when the number is not followed by a blank
/// or the end of the line, the caller falls back to cutting the token and [`parse_float`].
#[inline]
fn float_prefix(b: &[u8], start: usize) -> Option<(f64, usize)> {
    let neg = at(b, start) == b'-';
    let mut i = start + usize::from(matches!(at(b, start), b'+' | b'-'));
    // At most 15 significant digits: the mantissa (which has no leading zeros) stays below
    // 10^15, so it cannot overflow either.
    let mut mant = 0u64;
    let digits = |i: &mut usize, mant: &mut u64| -> Option<usize> {
        let from = *i;
        while let Some(d) = b.get(*i).map(|c| c.wrapping_sub(b'0')).filter(|&d| d < 10) {
            *mant = *mant * 10 + u64::from(d);
            if *mant >= 1_000_000_000_000_000 {
                return None;
            }
            *i += 1;
        }
        Some(*i - from)
    };
    let int = digits(&mut i, &mut mant)?;
    let mut frac = 0;
    if at(b, i) == b'.' {
        i += 1;
        frac = digits(&mut i, &mut mant)?;
    }
    if int + frac == 0 {
        return None;
    }
    let frac = frac as i64;
    let mut e10 = -frac;
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let (mut e, estart) = (0i64, i);
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            e = (e * 10 + i64::from(c - b'0')).min(1000);
            i += 1;
        }
        if i == estart {
            return None;
        }
        e10 += if eneg { -e } else { e };
    }
    let m = mant as f64;
    let v = if mant == 0 {
        0.0
    } else if (0..=22).contains(&e10) {
        m * POW10[e10 as usize]
    } else if (-22..0).contains(&e10) {
        m / POW10[(-e10) as usize]
    } else {
        return None;
    };
    Some((if neg { -v } else { v }, i))
}

/// Text-format timestamp: integer milliseconds, optionally signed.
fn parse_int_timestamp(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i128 = 0;
    for &c in digits {
        v = v * 10 + i128::from(c - b'0');
        if v > i128::from(i64::MAX) + 1 {
            return None;
        }
    }
    i64::try_from(if neg { -v } else { v }).ok()
}

/// OpenMetrics timestamp (float seconds) as exact nanoseconds; `None` for NaN, Inf or garbage.
fn parse_om_timestamp(s: &[u8]) -> Option<i128> {
    let d = scan_decimal(s)?;
    if d.exp.is_some() {
        let secs = parse_float(s)?;
        return secs.is_finite().then_some((secs * 1e9) as i128);
    }
    let mut secs: i128 = 0;
    for &c in d.int {
        secs = secs.saturating_mul(10).saturating_add(i128::from(c - b'0'));
    }
    let mut nanos: i128 = 0;
    for k in 0..9 {
        nanos = nanos * 10 + d.frac.get(k).map_or(0, |&c| i128::from(c - b'0'));
    }
    let total = secs.saturating_mul(1_000_000_000).saturating_add(nanos);
    Some(if d.neg { -total } else { total })
}

fn nanos_to_millis(ns: i128) -> i64 {
    (ns / 1_000_000).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

// ---------------------------------------------------------------------------------------------
// Lints
// ---------------------------------------------------------------------------------------------

/// Per-family facts gathered while parsing, for the lints.
#[derive(Debug, Clone, Copy, Default)]
struct FamFacts {
    line: usize,
    samples: usize,
    has_le: bool,
    has_quantile: bool,
    camel_label: bool,
}

impl FamFacts {
    fn new(line: usize) -> Self {
        FamFacts { line, ..FamFacts::default() }
    }

    #[inline]
    fn observe<V>(&mut self, labels: &[(&str, V)]) {
        self.samples += 1;
        for &(k, _) in labels {
            match k {
                "le" => self.has_le = true,
                "quantile" => self.has_quantile = true,
                _ => {}
            }
            if !self.camel_label && is_camel(k) {
                self.camel_label = true;
            }
        }
    }
}

fn is_camel(s: &str) -> bool {
    let b = s.as_bytes();
    // Most names have no capital at all; this test has no early exit, so it is vectorised.
    b.iter().fold(false, |up, c| up | c.is_ascii_uppercase())
        && b.windows(2).any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
}

const BASE_UNITS: &[(&str, &str)] = &[
    ("amperes", "amperes"),
    ("bytes", "bytes"),
    ("celsius", "celsius"),
    ("grams", "grams"),
    ("joules", "joules"),
    ("kelvin", "kelvin"),
    ("meters", "meters"),
    ("metres", "metres"),
    ("seconds", "seconds"),
    ("volts", "volts"),
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("weeks", "seconds"),
    ("bits", "bytes"),
    ("kilobytes", "bytes"),
    ("megabytes", "bytes"),
    ("gigabytes", "bytes"),
    ("terabytes", "bytes"),
    ("fahrenheit", "celsius"),
    ("feet", "meters"),
    ("inches", "meters"),
    ("miles", "meters"),
];

const UNIT_PREFIXES: &[&str] = &[
    "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "mega", "giga",
    "tera", "peta",
];

const UNIT_ABBREVIATIONS: &[&str] =
    &["s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d"];

/// The unit a word of a metric name denotes, with its base unit, as promlint's `metricUnits`: a
/// known unit, optionally with an SI prefix (`milliseconds` → `seconds`).
fn word_unit(word: &str) -> Option<(&str, &'static str)> {
    let [.., a, z] = *word.as_bytes() else { return None };
    BASE_UNITS.iter().find_map(|&(unit, base)| {
        let [.., ua, uz] = *unit.as_bytes() else { return None };
        if uz != z || ua != a {
            return None;
        }
        let prefix = word.strip_suffix(unit)?;
        (prefix.is_empty() || UNIT_PREFIXES.contains(&prefix)).then_some((word, base))
    })
}

fn lint_family(f: &Family, facts: &FamFacts, om: bool, out: &mut Vec<Lint>) {
    if facts.samples == 0 {
        return;
    }
    let mut add = |problem: String| {
        out.push(Lint { line: facts.line, message: format!("{}: {problem}", f.name) });
    };
    let name = f.name.as_str();
    if f.help.is_none() {
        add("no help text".into());
    }
    let has_total = name.ends_with("_total");
    match f.kind {
        MetricKind::Counter if !om && !has_total => {
            add("counter metrics should have \"_total\" suffix".into());
        }
        MetricKind::Counter | MetricKind::Unknown => {}
        _ if has_total => add("non-counter metrics should not have \"_total\" suffix".into()),
        _ => {}
    }
    if f.kind != MetricKind::Unknown {
        let histo = matches!(f.kind, MetricKind::Histogram | MetricKind::GaugeHistogram);
        if !histo && facts.has_le {
            add("non-histogram metrics should not have \"le\" label".into());
        }
        if f.kind != MetricKind::Summary && facts.has_quantile {
            add("non-summary metrics should not have \"quantile\" label".into());
        }
        if !histo && f.kind != MetricKind::Summary {
            for suffix in ["_count", "_sum"] {
                if name.ends_with(suffix) {
                    add(format!(
                        "non-histogram and non-summary metrics should not have \"{suffix}\" suffix"
                    ));
                }
            }
        }
        if !histo && name.ends_with("_bucket") {
            add("non-histogram metrics should not have \"_bucket\" suffix".into());
        }
    }
    // One pass over the `_`-separated words of the name.
    let type_name = (f.kind != MetricKind::Unknown).then(|| f.kind.as_str());
    let (mut type_in_name, mut abbreviated, mut unit) = (false, false, None);
    let mut start = 0;
    for (k, word) in name.as_bytes().split(|&c| c == b'_').enumerate() {
        let word = name.get(start..start + word.len()).unwrap_or_default();
        start += word.len() + 1;
        if k > 0 {
            type_in_name |= type_name.is_some_and(|t| word.eq_ignore_ascii_case(t));
            abbreviated |=
                word.len() <= 3 && UNIT_ABBREVIATIONS.iter().any(|a| a.eq_ignore_ascii_case(word));
        }
        if unit.is_none() && matches!(word.as_bytes().last(), Some(b's' | b'n' | b't')) {
            unit = word_unit(word);
        }
    }
    if let Some(type_name) = type_name.filter(|_| type_in_name) {
        add(format!("metric name should not include type '{type_name}'"));
    }
    if let Some((unit, base)) = unit.filter(|(unit, base)| unit != base) {
        add(format!("use base unit \"{base}\" instead of \"{unit}\""));
    }
    if abbreviated {
        add("metric names should not contain abbreviated units".into());
    }
    if name.contains(':') {
        add("metric names should not contain ':'".into());
    }
    if is_camel(name) {
        add("metric names should be written in 'snake_case' not 'camelCase'".into());
    }
    if facts.camel_label {
        add("label names should be written in 'snake_case' not 'camelCase'".into());
    }
}

// ---------------------------------------------------------------------------------------------
// Prometheus text format 0.0.4
// ---------------------------------------------------------------------------------------------

struct TextParser<'a, 'k> {
    families: Vec<Family>,
    facts: Vec<FamFacts>,
    /// Whether the family had an explicit `TYPE` line.
    typed: Vec<bool>,
    names: Vec<&'a str>,
    by_name: HashMap<&'a str, usize, FxBuild>,
    current: usize,
    samples: Vec<Sample>,
    /// Reused label buffer, borrowed from the body, in the order written.
    scratch: RawLabels<'a>,
    atoms: Atoms<'a>,
    keep: &'k dyn Fn(&str) -> bool,
    prev: PrevLine<'a>,
}

/// What the previous sample lines established, reused while the next lines repeat it.
///
/// Consecutive sample lines mostly have the same metric name and the same label names in
/// the same order (a family's series follow one another), so one comparison with the
/// previous line replaces the family lookup, the `keep` call, the sort and duplicate check
/// of the label names, their lint facts and their atoms. Only what differs is worked out.
struct PrevLine<'a> {
    /// Metric name of the previous sample line (`""` before the first).
    name: &'a str,
    /// Its family; `None` after a comment line (`TYPE`/`HELP` may have added a family).
    family: Option<usize>,
    /// Whether samples called `name` are kept.
    kept: bool,
    /// The atom of `name`, once a kept sample needed it.
    atom: Option<Atom>,
    /// Label names of the last sample line that had labels, as written.
    labels: Vec<&'a str>,
    /// Positions in `labels`, in name order (the order [`Sample::labels`] has).
    order: Vec<usize>,
    /// Lint facts of `labels`: an `le` label, a `quantile` label, a camelCase name.
    has_le: bool,
    has_quantile: bool,
    camel: bool,
    /// Per written position: the atom of the label name, and the last borrowed value text
    /// with its atom.
    keys: Vec<Option<Atom>>,
    values: Vec<Option<(&'a str, Atom)>>,
}

impl<'a> PrevLine<'a> {
    fn new() -> Self {
        PrevLine {
            name: "",
            family: None,
            kept: false,
            atom: None,
            labels: Vec::new(),
            order: Vec::new(),
            has_le: false,
            has_quantile: false,
            camel: false,
            keys: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Makes `labels` (a sample line's labels as written, at least one, with other names
    /// than the previous line's) the current label names: they are sorted, checked for
    /// duplicates and linted, and the positions whose name did not change keep their atoms.
    fn reshape(&mut self, labels: &RawLabels<'a>) -> Result<(), String> {
        let n = labels.len();
        self.order.clear();
        self.order.extend(0..n);
        if !labels.windows(2).all(|w| w[0].0 < w[1].0) {
            let name = |j: &usize| labels.get(*j).map_or("", |l| l.0);
            self.order.sort_unstable_by(|a, b| name(a).cmp(name(b)));
            if let Some(w) = self.order.windows(2).find(|w| name(&w[0]) == name(&w[1])) {
                return Err(format!("duplicate label name {:?}", name(&w[0])));
            }
        }
        self.keys.resize(n, None);
        self.values.resize(n, None);
        for (j, (k, _)) in labels.iter().enumerate() {
            if self.labels.get(j) != Some(k) {
                self.keys[j] = None;
                self.values[j] = None;
            }
        }
        self.labels.clear();
        self.labels.extend(labels.iter().map(|(k, _)| *k));
        self.has_le = self.labels.contains(&"le");
        self.has_quantile = self.labels.contains(&"quantile");
        self.camel = self.labels.iter().any(|k| is_camel(k));
        Ok(())
    }

    /// The labels of a kept sample, as atoms in name order (after [`PrevLine::shape`] with
    /// the same labels).
    #[inline]
    fn atoms(
        &mut self,
        labels: &RawLabels<'a>,
        table: &mut HashMap<&'a str, Atom, FxBuild>,
    ) -> Labels {
        let mut out = Vec::with_capacity(labels.len());
        for &j in &self.order {
            let (Some(&(k, ref v)), Some(key), Some(last)) =
                (labels.get(j), self.keys.get_mut(j), self.values.get_mut(j))
            else {
                continue;
            };
            let ka = key.get_or_insert_with(|| intern(table, k)).clone();
            let va = match *v {
                // Unescaped text is not in the body: neither cached nor interned.
                Cow::Owned(ref v) => Atom::from(v.as_str()),
                Cow::Borrowed(v) => match last {
                    Some((text, atom)) if same_bytes(text.as_bytes(), v.as_bytes()) => atom.clone(),
                    _ => last.insert((v, intern(table, v))).1.clone(),
                },
            };
            out.push((ka, va));
        }
        out
    }
}

impl<'a, 'k> TextParser<'a, 'k> {
    fn new(len: usize, keep: &'k dyn Fn(&str) -> bool) -> Self {
        TextParser {
            families: Vec::new(),
            facts: Vec::new(),
            typed: Vec::new(),
            names: Vec::new(),
            by_name: HashMap::with_capacity_and_hasher((len / 512).max(64), Default::default()),
            current: usize::MAX,
            samples: Vec::with_capacity(len / 64),
            scratch: Vec::new(),
            atoms: Atoms::new(len),
            keep,
            prev: PrevLine::new(),
        }
    }

    fn run(mut self, src: &'a str) -> Result<Exposition, ParseError> {
        for (no, raw) in Lines::new(src) {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let b = line.as_bytes();
            let start = skip_blanks(b, 0);
            let Some(content) = line.get(start..) else { continue };
            match content.as_bytes().first() {
                None => {}
                Some(b'#') => self.comment(content.get(1..).unwrap_or_default(), no)?,
                Some(_) => self.sample(content, no)?,
            }
        }
        let mut warnings = Vec::new();
        for (f, facts) in self.families.iter().zip(&self.facts) {
            lint_family(f, facts, false, &mut warnings);
        }
        Ok(Exposition { families: self.families, samples: fit(self.samples), warnings })
    }

    fn family(&mut self, name: &'a str, line: usize) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        let i = self.families.len();
        self.families.push(Family {
            name: name.to_owned(),
            kind: MetricKind::Unknown,
            help: None,
            unit: None,
        });
        self.facts.push(FamFacts::new(line));
        self.typed.push(false);
        self.names.push(name);
        self.by_name.insert(name, i);
        i
    }

    /// `rest` is the line after `#`.
    fn comment(&mut self, rest: &'a str, no: usize) -> Result<(), ParseError> {
        self.prev.family = None;
        let b = rest.as_bytes();
        let kw_start = skip_blanks(b, 0);
        if kw_start == 0 {
            return Ok(()); // `#foo`: a plain comment, as in promparse.
        }
        let kw_end = token_end(b, kw_start);
        let kw = rest.get(kw_start..kw_end).unwrap_or_default();
        let is_help = kw == "HELP";
        if !is_help && kw != "TYPE" {
            return Ok(());
        }
        let name_start = skip_blanks(b, kw_end);
        if name_start == b.len() {
            return Ok(()); // `# HELP` alone: ignored, as expfmt does.
        }
        let name_end = token_end(b, name_start);
        let name = rest.get(name_start..name_end).unwrap_or_default();
        if !is_metric_name(name) {
            return err(no, format!("invalid metric name {} in {kw} line", excerpt(name)));
        }
        let text_start = skip_blanks(b, name_end);
        let text = rest.get(text_start..).unwrap_or_default();
        if text.is_empty() {
            return Ok(()); // `# HELP name` without text: nothing to record (expfmt).
        }
        let fi = self.family(name, no);
        if is_help {
            if self.families[fi].help.is_some() {
                return err(no, format!("second HELP line for metric {name}"));
            }
            self.families[fi].help = Some(unescape_help(text, false));
            return Ok(());
        }
        let type_name = text.trim_end_matches([' ', '\t']);
        let kind = [
            ("counter", MetricKind::Counter),
            ("gauge", MetricKind::Gauge),
            ("histogram", MetricKind::Histogram),
            ("summary", MetricKind::Summary),
            ("untyped", MetricKind::Unknown),
        ]
        .into_iter()
        .find_map(|(t, kind)| type_name.eq_ignore_ascii_case(t).then_some(kind));
        let Some(kind) = kind else {
            return err(no, format!("unknown metric type {} for {name}", excerpt(type_name)));
        };
        if self.typed[fi] {
            return err(no, format!("second TYPE line for metric {name}"));
        }
        if self.facts[fi].samples > 0 {
            return err(no, format!("TYPE line for metric {name} after its samples"));
        }
        self.typed[fi] = true;
        self.families[fi].kind = kind;
        Ok(())
    }

    /// Does sample `name` belong to family `fi` (exactly, or as a summary/histogram series)?
    #[inline]
    fn belongs(&self, fi: usize, name: &str) -> bool {
        let Some(&fname) = self.names.get(fi) else { return false };
        if name == fname {
            return true;
        }
        let Some(suffix) = name.strip_prefix(fname) else { return false };
        match self.families[fi].kind {
            MetricKind::Summary => matches!(suffix, "_sum" | "_count"),
            MetricKind::Histogram => matches!(suffix, "_sum" | "_count" | "_bucket"),
            _ => false,
        }
    }

    /// The family of a sample called `name`, as expfmt resolves it.
    fn resolve(&mut self, name: &'a str, no: usize) -> usize {
        if self.belongs(self.current, name) {
            return self.current;
        }
        let fi = if let Some(&i) = self.by_name.get(name) {
            i
        } else {
            let base = [("_sum", false), ("_count", false), ("_bucket", true)].iter().find_map(
                |&(suffix, histogram_only)| {
                    let i = *self.by_name.get(name.strip_suffix(suffix)?)?;
                    let kind = self.families[i].kind;
                    let ok = kind == MetricKind::Histogram
                        || (!histogram_only && kind == MetricKind::Summary);
                    ok.then_some(i)
                },
            );
            match base {
                Some(i) => i,
                None => self.family(name, no),
            }
        };
        self.current = fi;
        fi
    }

    fn sample(&mut self, line: &'a str, no: usize) -> Result<(), ParseError> {
        let b = line.as_bytes();
        // The previous line's name, compared rather than scanned: when no name character
        // follows it, scanning would end there. Any other name differs from it.
        let n = self.prev.name.len();
        let (name_end, same_name) = if n > 0
            && b.get(..n).is_some_and(|p| same_bytes(p, self.prev.name.as_bytes()))
            && !is_name_char(at(b, n))
        {
            (n, true)
        } else {
            (scan_metric_name(b, 0), false)
        };
        if name_end == 0 {
            return err(no, format!("expected a metric name, found {}", excerpt(line)));
        }
        let name = line.get(..name_end).unwrap_or_default();
        let fi = match self.prev.family {
            Some(fi) if same_name => fi,
            _ => self.resolve(name, no),
        };
        let kind = self.families[fi].kind;
        let mut i = skip_blanks(b, name_end);
        let labels = &mut self.scratch;
        labels.clear();
        let mut same_labels = true;
        if at(b, i) == b'{' {
            (i, same_labels) = text_labels(line, i + 1, labels, &self.prev.labels)
                .map_err(|r| ParseError { line: no, reason: r })?;
            i = skip_blanks(b, i);
        } else if i == name_end {
            return if i >= b.len() {
                err(no, format!("missing value for metric {name}"))
            } else {
                err(no, format!("invalid character in metric name {}", excerpt(line)))
            };
        }
        let (value, value_end) = match float_prefix(b, i) {
            Some((v, end)) if end >= b.len() || is_blank(at(b, end)) => (v, end),
            _ => {
                let value_end = token_end(b, i);
                let value_text = b.get(i..value_end).unwrap_or_default();
                if value_text.is_empty() {
                    return err(no, format!("missing value for metric {name}"));
                }
                let Some(value) = parse_float(value_text) else {
                    let shown = line.get(i..value_end).unwrap_or_default();
                    return err(no, format!("invalid value {} for metric {name}", excerpt(shown)));
                };
                (value, value_end)
            }
        };
        i = skip_blanks(b, value_end);
        let mut timestamp_ms = None;
        if i < b.len() {
            let ts_end = token_end(b, i);
            let Some(ts) = b.get(i..ts_end).and_then(parse_int_timestamp) else {
                let shown = line.get(i..ts_end).unwrap_or_default();
                return err(
                    no,
                    format!("invalid timestamp {} (integer milliseconds)", excerpt(shown)),
                );
            };
            timestamp_ms = Some(ts);
            i = skip_blanks(b, ts_end);
            if i < b.len() {
                let shown = line.get(i..).unwrap_or_default();
                return err(no, format!("unexpected text after timestamp: {}", excerpt(shown)));
            }
        }
        let labels = &self.scratch;
        let prev = &mut self.prev;
        let facts = &mut self.facts[fi];
        facts.samples += 1;
        if !labels.is_empty() {
            if !same_labels {
                prev.reshape(labels).map_err(|r| ParseError { line: no, reason: r })?;
            }
            let special = match kind {
                MetricKind::Histogram if prev.has_le => "le",
                MetricKind::Summary if prev.has_quantile => "quantile",
                _ => "",
            };
            if !special.is_empty()
                && let Some((_, v)) = labels.iter().find(|(k, _)| *k == special)
                && parse_float(v.as_bytes()).is_none()
            {
                return err(no, format!("{special} label value {} is not a number", excerpt(v)));
            }
            facts.has_le |= prev.has_le;
            facts.has_quantile |= prev.has_quantile;
            facts.camel_label |= prev.camel;
        }
        if !same_name {
            prev.name = name;
            prev.kept = (self.keep)(name);
            prev.atom = None;
        }
        prev.family = Some(fi);
        if prev.kept {
            let table = &mut self.atoms.table;
            let labels = prev.atoms(labels, table);
            let name = prev.atom.get_or_insert_with(|| intern(table, name)).clone();
            self.samples.push(Sample { name, labels, value, timestamp_ms });
        }
        Ok(())
    }
}

/// Parses text-format labels after `{`; returns the index after `}`, and whether the label
/// names were `expected` (the previous sample line's), in the same order. Blanks are allowed
/// around every token and a trailing comma is allowed, as in expfmt and promparse.
///
/// A name the previous line had at the same position is compared rather than scanned: when
/// `=` follows it, scanning would have ended at exactly that `=` (the expected name was itself
/// scanned and checked). A value without a backslash is found with one search for the quote.
fn text_labels<'a>(
    line: &'a str,
    mut i: usize,
    labels: &mut RawLabels<'a>,
    expected: &[&str],
) -> Result<(usize, bool), String> {
    let b = line.as_bytes();
    let mut same = true;
    loop {
        i = skip_blanks(b, i);
        if at(b, i) == b'}' {
            return Ok((i + 1, same && labels.len() == expected.len()));
        }
        let name_end = match expected.get(labels.len()) {
            Some(e)
                if b.get(i..i + e.len()).is_some_and(|t| same_bytes(t, e.as_bytes()))
                    && at(b, i + e.len()) == b'=' =>
            {
                i + e.len()
            }
            _ => {
                same = false;
                let name_end = scan_label_name(b, i);
                if name_end == i {
                    return Err(if i >= b.len() {
                        "unterminated label set".into()
                    } else {
                        format!(
                            "invalid label name at {}",
                            excerpt(line.get(i..).unwrap_or_default())
                        )
                    });
                }
                if line.get(i..name_end) == Some("__name__") {
                    return Err("label name \"__name__\" is reserved".into());
                }
                name_end
            }
        };
        let name = line.get(i..name_end).unwrap_or_default();
        if at(b, name_end) == b'=' && at(b, name_end + 1) == b'"' {
            i = name_end + 2;
        } else {
            i = skip_blanks(b, name_end);
            if at(b, i) != b'=' {
                return Err(format!("expected '=' after label name {name}"));
            }
            i = skip_blanks(b, i + 1);
            if at(b, i) != b'"' {
                return Err(format!("expected '\"' to start the value of label {name}"));
            }
            i += 1;
        }
        let rest = b.get(i..).unwrap_or_default();
        let (value, after) = match rest.iter().position(|&c| c == b'"' || c == b'\\') {
            Some(p) if rest.get(p) == Some(&b'"') => {
                (Cow::Borrowed(line.get(i..i + p).unwrap_or_default()), i + p + 1)
            }
            _ => read_label_value(line, i, true)?,
        };
        labels.push((name, value));
        i = skip_blanks(b, after);
        match at(b, i) {
            b',' => i += 1,
            b'}' => return Ok((i + 1, same && labels.len() == expected.len())),
            _ => return Err(format!("expected ',' or '}}' after the value of label {name}")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// OpenMetrics 1.0
// ---------------------------------------------------------------------------------------------

/// The family being read; OpenMetrics families are contiguous.
struct OmFamily<'a> {
    name: &'a str,
    /// `None` until a `TYPE` line; families started by a sample are `Unknown`.
    kind: Option<MetricKind>,
    help: Option<String>,
    unit: Option<String>,
    /// Index of the family's first sample in the output.
    start: usize,
    /// Exact timestamp (ns) and line of every sample of the family.
    ts: Vec<Option<i128>>,
    lines: Vec<usize>,
    /// A sample (index into the output) of the current group, with the label its group key
    /// leaves out.
    group: Option<(usize, Option<&'a str>)>,
    group_ts: Option<i128>,
    /// Hashes of the group keys seen so far; a hit is confirmed against the samples.
    seen_groups: HashSet<u64, FxBuild>,
    facts: FamFacts,
}

impl<'a> OmFamily<'a> {
    fn new(name: &'a str, kind: Option<MetricKind>, start: usize, line: usize) -> Self {
        OmFamily {
            name,
            kind,
            help: None,
            unit: None,
            start,
            ts: Vec::new(),
            lines: Vec::new(),
            group: None,
            group_ts: None,
            seen_groups: HashSet::default(),
            facts: FamFacts::new(line),
        }
    }

    fn kind(&self) -> MetricKind {
        self.kind.unwrap_or(MetricKind::Unknown)
    }

    fn allows(&self, sample_name: &str) -> bool {
        sample_name
            .strip_prefix(self.name)
            .is_some_and(|suffix| self.kind().om_suffixes().contains(&suffix))
    }

    /// The label that does not take part in a sample's group (python client's
    /// `_group_for_sample`); `None` when all labels do. Info samples all form one group.
    fn group_skip(&self, suffix: &str) -> Option<&'a str> {
        match self.kind() {
            MetricKind::Summary if suffix.is_empty() => Some("quantile"),
            MetricKind::StateSet => Some(self.name),
            MetricKind::Histogram | MetricKind::GaugeHistogram if suffix == "_bucket" => Some("le"),
            _ => None,
        }
    }
}

/// Hash of a group key: the labels without `skip`.
fn group_hash(labels: &RawLabels<'_>, skip: Option<&str>) -> u64 {
    let mut h = FxHasher::default();
    for (k, v) in labels.iter().filter(|(k, _)| Some(*k) != skip) {
        h.write(k.as_bytes());
        h.write_u8(0xff);
        h.write(v.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

/// One parsed OpenMetrics sample line (its labels go to a separate buffer).
struct OmLine<'a> {
    name: &'a str,
    value: f64,
    ts: Option<i128>,
    exemplar: bool,
}

struct OmParser<'a, 'k> {
    samples: Vec<Sample>,
    families: Vec<Family>,
    warnings: Vec<Lint>,
    seen_names: HashSet<String, FxBuild>,
    cur: Option<OmFamily<'a>>,
    /// Reused label buffer, borrowed from the body.
    scratch: RawLabels<'a>,
    atoms: Atoms<'a>,
    /// Applied when a family ends: its checks read all of its samples.
    keep: &'k dyn Fn(&str) -> bool,
}

impl<'a, 'k> OmParser<'a, 'k> {
    fn new(len: usize, keep: &'k dyn Fn(&str) -> bool) -> Self {
        OmParser {
            samples: Vec::with_capacity(len / 64),
            families: Vec::new(),
            warnings: Vec::new(),
            seen_names: HashSet::default(),
            cur: None,
            scratch: Vec::new(),
            atoms: Atoms::new(len),
            keep,
        }
    }

    fn run(mut self, src: &'a str) -> Result<Exposition, ParseError> {
        let mut eof = false;
        let mut last = 0;
        for (no, line) in Lines::new(src) {
            last = no;
            if eof {
                return err(no, "content after # EOF");
            }
            if line.is_empty() {
                return err(no, "blank line");
            }
            if line == "# EOF" {
                eof = true;
            } else if line.starts_with('#') {
                self.metadata(line, no)?;
            } else {
                self.sample(line, no)?;
            }
        }
        self.finish_family()?;
        if !eof {
            return err(last.max(1), "missing \"# EOF\" at the end of an OpenMetrics exposition");
        }
        Ok(Exposition {
            families: self.families,
            samples: fit(self.samples),
            warnings: self.warnings,
        })
    }

    fn metadata(&mut self, line: &'a str, no: usize) -> Result<(), ParseError> {
        let mut parts = line.splitn(4, ' ');
        let (Some("#"), Some(kw), Some(name), Some(text)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return err(no, format!("invalid line {}", excerpt(line)));
        };
        if !matches!(kw, "HELP" | "TYPE" | "UNIT") {
            return err(no, format!("invalid metadata keyword {}", excerpt(kw)));
        }
        if !is_metric_name(name) {
            return err(no, format!("invalid metric name {} in {kw} line", excerpt(name)));
        }
        let same = self.cur.as_ref().is_some_and(|f| f.name == name);
        if same && self.cur.as_ref().is_some_and(|f| !f.lines.is_empty()) {
            return err(no, format!("{kw} for metric {name} after its samples"));
        }
        if !same {
            self.finish_family()?;
            self.cur = Some(OmFamily::new(name, None, self.samples.len(), no));
        }
        let Some(f) = self.cur.as_mut() else { return Ok(()) };
        match kw {
            "HELP" => {
                if f.help.is_some() {
                    return err(no, format!("second HELP line for metric {name}"));
                }
                f.help = Some(unescape_help(text, true));
            }
            "TYPE" => {
                if f.kind.is_some() {
                    return err(no, format!("second TYPE line for metric {name}"));
                }
                f.kind = Some(match text {
                    "counter" => MetricKind::Counter,
                    "gauge" => MetricKind::Gauge,
                    "histogram" => MetricKind::Histogram,
                    "gaugehistogram" => MetricKind::GaugeHistogram,
                    "summary" => MetricKind::Summary,
                    "info" => MetricKind::Info,
                    "stateset" => MetricKind::StateSet,
                    "unknown" => MetricKind::Unknown,
                    _ => return err(no, format!("invalid metric type {}", excerpt(text))),
                });
            }
            _ => {
                if f.unit.is_some() {
                    return err(no, format!("second UNIT line for metric {name}"));
                }
                f.unit = Some(text.to_owned());
            }
        }
        Ok(())
    }

    fn sample(&mut self, line: &'a str, no: usize) -> Result<(), ParseError> {
        let mut labels = std::mem::take(&mut self.scratch);
        labels.clear();
        let s =
            parse_om_line(line, &mut labels).map_err(|reason| ParseError { line: no, reason })?;
        if !self.cur.as_ref().is_some_and(|f| f.allows(s.name)) {
            self.finish_family()?;
            self.cur =
                Some(OmFamily::new(s.name, Some(MetricKind::Unknown), self.samples.len(), no));
        }
        let Some(f) = self.cur.as_mut() else { return Ok(()) };
        let kind = f.kind();
        let suffix = s.name.get(f.name.len()..).unwrap_or_default();
        let label = |k: &str| labels.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_ref());
        let is_integer = s.value.is_finite() && s.value.fract() == 0.0;

        if kind == MetricKind::StateSet && label(f.name).is_none() {
            return err(no, format!("stateset sample without a {:?} label", f.name));
        }
        if suffix == "_bucket" {
            let le = label("le").unwrap_or("NaN");
            match parse_float(le.as_bytes()) {
                Some(v) if !v.is_nan() && (v.is_finite() || le == "+Inf" || le == "-Inf") => {}
                _ => return err(no, format!("invalid le label {}", excerpt(le))),
            }
            if !is_integer {
                return err(no, "bucket value must be an integer");
            }
        }
        if matches!(suffix, "_count" | "_gcount") && !is_integer {
            return err(no, format!("{suffix} value must be an integer"));
        }
        if kind == MetricKind::Summary && suffix.is_empty() {
            let q = label("quantile").unwrap_or("");
            if !parse_float(q.as_bytes()).is_some_and(|q| (0.0..=1.0).contains(&q)) {
                return err(no, format!("invalid quantile label {}", excerpt(q)));
            }
        }

        // Grouping: a group (labels without le/quantile/state) must not reappear once left, and
        // its timestamps must be all present or all absent and must not go backwards.
        let info = kind == MetricKind::Info;
        let skip = if info { None } else { f.group_skip(suffix) };
        let same_group = f.group.is_some_and(|(g, g_skip)| {
            info || self.samples.get(g).is_some_and(|g| labels_eq(&g.labels, g_skip, &labels, skip))
        });
        if same_group {
            if s.ts.is_some() != f.group_ts.is_some() {
                return err(no, "mix of samples with and without timestamp within a group");
            }
            if kind != MetricKind::Info && f.group_ts > s.ts {
                return err(no, "timestamps went backwards within a group");
            }
        } else {
            // Info samples are one group, so a new group is always the family's first.
            if !f.seen_groups.insert(group_hash(&labels, skip)) {
                let earlier = self.samples.get(f.start..).unwrap_or_default().iter().any(|e| {
                    let suffix = e.name.get(f.name.len()..).unwrap_or_default();
                    labels_eq(&e.labels, f.group_skip(suffix), &labels, skip)
                });
                if earlier {
                    return err(no, "samples of a group are not contiguous");
                }
            }
            f.group = Some((self.samples.len(), skip));
        }
        f.group_ts = s.ts;

        match kind {
            MetricKind::StateSet if s.value != 0.0 && s.value != 1.0 => {
                return err(no, "stateset samples can only have values 0 and 1");
            }
            MetricKind::Info if s.value != 1.0 => {
                return err(no, "info samples can only have value 1");
            }
            _ => {}
        }
        let counter_like = matches!(suffix, "_total" | "_sum" | "_count" | "_bucket" | "_gcount");
        if (counter_like || suffix == "_gsum") && s.value.is_nan() {
            return err(no, format!("{suffix} samples cannot be NaN"));
        }
        // A negative `_sum` is judged per group when the family ends.
        if counter_like && suffix != "_sum" && s.value < 0.0 {
            return err(no, format!("{suffix} samples cannot be negative"));
        }
        if s.exemplar {
            let ok = match kind {
                MetricKind::Histogram | MetricKind::GaugeHistogram => suffix == "_bucket",
                MetricKind::Counter => suffix == "_total",
                _ => false,
            };
            if !ok {
                return err(no, "exemplars are only allowed on histogram buckets and counters");
            }
        }

        f.facts.observe(&labels);
        f.ts.push(s.ts);
        f.lines.push(no);
        let sample = Sample {
            name: self.atoms.name(s.name),
            labels: self.atoms.labels(&labels),
            value: s.value,
            timestamp_ms: s.ts.map(nanos_to_millis),
        };
        labels.clear();
        self.scratch = labels;
        self.samples.push(sample);
        Ok(())
    }

    /// Validates the finished family as a whole and records it.
    fn finish_family(&mut self) -> Result<(), ParseError> {
        let Some(f) = self.cur.take() else { return Ok(()) };
        let kind = f.kind();
        for suffix in
            std::iter::once("").chain(kind.om_suffixes().iter().copied().filter(|s| !s.is_empty()))
        {
            let series = format!("{}{suffix}", f.name);
            if !self.seen_names.insert(series) {
                return err(f.facts.line, format!("clashing name: {}{suffix}", f.name));
            }
        }
        if let Some(unit) = f.unit.as_deref().filter(|u| !u.is_empty()) {
            let matches = f.name.strip_suffix(unit).is_some_and(|rest| rest.ends_with('_'));
            if !matches {
                return err(f.facts.line, format!("unit {unit:?} is not a suffix of {}", f.name));
            }
            if matches!(kind, MetricKind::Info | MetricKind::StateSet) {
                return err(f.facts.line, format!("{} metrics cannot have a unit", kind.as_str()));
            }
        }
        let samples = self.samples.get(f.start..).unwrap_or_default();
        let tolerated = match kind {
            MetricKind::Histogram | MetricKind::GaugeHistogram => check_histogram(&f, samples)?
                .then_some("histogram with negative buckets has a _sum"),
            MetricKind::Summary => {
                check_summary(&f, samples)?.then_some("summary with negative quantile values")
            }
            _ => None,
        };
        if let Some(what) = tolerated {
            self.warnings.push(Lint {
                line: f.facts.line,
                message: format!(
                    "{}: {what} (OpenMetrics 1.0 forbids this; accepted as Prometheus does)",
                    f.name
                ),
            });
        }
        let family = Family { name: f.name.to_owned(), kind, help: f.help, unit: f.unit };
        lint_family(&family, &f.facts, true, &mut self.warnings);
        self.families.push(family);
        let keep = self.keep;
        if self.samples.get(f.start..).unwrap_or_default().iter().any(|s| !keep(&s.name)) {
            let tail = self.samples.split_off(f.start.min(self.samples.len()));
            self.samples.extend(tail.into_iter().filter(|s| keep(&s.name)));
        }
        Ok(())
    }
}

/// State of one histogram group (labels without `le`, one timestamp).
struct HistoGroup<'s> {
    labels: &'s Labels,
    skip: Option<&'static str>,
    ts: Option<i128>,
    line: usize,
    bucket: Option<f64>,
    value: f64,
    count: Option<f64>,
    sum: Option<(f64, usize)>,
    gsum: bool,
    negative_buckets: bool,
    negative_gsum: bool,
}

/// Checks each histogram group; returns whether some group has both negative buckets and a sum
/// (tolerated, reported as a lint).
fn check_histogram(f: &OmFamily<'_>, samples: &[Sample]) -> Result<bool, ParseError> {
    fn done(g: &HistoGroup<'_>, name: &str) -> Result<bool, ParseError> {
        let line = g.line;
        if g.bucket != Some(f64::INFINITY) {
            return err(line, format!("histogram {name} has no +Inf bucket"));
        }
        if g.count.is_some_and(|c| c != g.value) {
            return err(line, format!("histogram {name}: count does not match the +Inf bucket"));
        }
        if g.sum.is_some() && g.count.is_none() {
            return err(line, format!("histogram {name}: _count must be present with _sum"));
        }
        if g.gsum && g.count.is_none() {
            return err(line, format!("histogram {name}: _gcount must be present with _gsum"));
        }
        if g.sum.is_none() && !g.gsum && g.count.is_some() {
            return err(line, format!("histogram {name}: _sum/_gsum must be present with _count"));
        }
        if let Some((sum, sum_line)) = g.sum
            && sum < 0.0
            && !g.negative_buckets
        {
            return err(sum_line, format!("histogram {name}: negative _sum"));
        }
        if !g.negative_buckets && g.negative_gsum {
            return err(line, format!("histogram {name}: negative _gsum without negative buckets"));
        }
        Ok(g.negative_buckets && g.sum.is_some())
    }

    let mut tolerated = false;
    let mut group: Option<HistoGroup<'_>> = None;
    for (k, s) in samples.iter().enumerate() {
        let suffix = s.name.get(f.name.len()..).unwrap_or_default();
        let ts = f.ts.get(k).copied().flatten();
        let line = f.lines.get(k).copied().unwrap_or(f.facts.line);
        let skip = (suffix == "_bucket").then_some("le");
        let same = group
            .as_ref()
            .is_some_and(|g| g.ts == ts && labels_eq(g.labels, g.skip, &s.labels, skip));
        if !same {
            if let Some(g) = group.take() {
                tolerated |= done(&g, f.name)?;
            }
            group = Some(HistoGroup {
                labels: &s.labels,
                skip,
                ts,
                line,
                bucket: None,
                value: 0.0,
                count: None,
                sum: None,
                gsum: false,
                negative_buckets: false,
                negative_gsum: false,
            });
        }
        let Some(g) = group.as_mut() else { continue };
        g.line = line;
        match suffix {
            "_bucket" => {
                let le = s.label("le").and_then(|v| parse_float(v.as_bytes())).unwrap_or(f64::NAN);
                if le < 0.0 {
                    g.negative_buckets = true;
                }
                if g.bucket.is_some_and(|prev| le <= prev) {
                    return err(line, format!("histogram {}: buckets out of order", f.name));
                }
                if s.value < g.value {
                    return err(line, format!("histogram {}: bucket values decrease", f.name));
                }
                g.bucket = Some(le);
                g.value = s.value;
            }
            "_count" | "_gcount" => g.count = Some(s.value),
            "_sum" => g.sum = Some((s.value, line)),
            "_gsum" => {
                g.gsum = true;
                g.negative_gsum |= s.value < 0.0;
            }
            _ => {}
        }
    }
    if let Some(g) = group {
        tolerated |= done(&g, f.name)?;
    }
    Ok(tolerated)
}

/// Checks summary groups: a negative `_sum` needs a negative quantile in its group. Returns
/// whether negative quantile values were seen (tolerated, reported as a lint).
fn check_summary(f: &OmFamily<'_>, samples: &[Sample]) -> Result<bool, ParseError> {
    let mut tolerated = false;
    let mut group: Option<(&Labels, Option<&str>, Option<i128>)> = None;
    let mut negative_quantile = false;
    let mut negative_sum: Option<usize> = None;
    let name = f.name;
    let close = |neg_q: bool, neg_sum: Option<usize>| match neg_sum {
        Some(line) if !neg_q => err(line, format!("summary {name}: negative _sum")),
        _ => Ok(()),
    };
    for (k, s) in samples.iter().enumerate() {
        let suffix = s.name.get(f.name.len()..).unwrap_or_default();
        let ts = f.ts.get(k).copied().flatten();
        let skip = suffix.is_empty().then_some("quantile");
        let same =
            group.is_some_and(|(g, gskip, gts)| gts == ts && labels_eq(g, gskip, &s.labels, skip));
        if !same {
            if group.is_some() {
                close(negative_quantile, negative_sum)?;
            }
            group = Some((&s.labels, skip, ts));
            negative_quantile = false;
            negative_sum = None;
        }
        if suffix.is_empty() && s.value < 0.0 {
            negative_quantile = true;
            tolerated = true;
        }
        if suffix == "_sum" && s.value < 0.0 {
            negative_sum = f.lines.get(k).copied();
        }
    }
    if group.is_some() {
        close(negative_quantile, negative_sum)?;
    }
    Ok(tolerated)
}

/// Equality of two group keys, each given as labels minus its own skipped label.
fn labels_eq<K1, V1, K2, V2>(
    a: &[(K1, V1)],
    a_skip: Option<&str>,
    b: &[(K2, V2)],
    b_skip: Option<&str>,
) -> bool
where
    K1: AsRef<str>,
    V1: AsRef<str>,
    K2: AsRef<str>,
    V2: AsRef<str>,
{
    let a = a.iter().filter(|(k, _)| Some(k.as_ref()) != a_skip);
    let b = b.iter().filter(|(k, _)| Some(k.as_ref()) != b_skip);
    a.map(|(k, v)| (k.as_ref(), v.as_ref())).eq(b.map(|(k, v)| (k.as_ref(), v.as_ref())))
}

/// Parses OpenMetrics labels after `{` (no blanks, no trailing comma); returns the index after
/// `}`.
fn om_labels<'a>(line: &'a str, mut i: usize, labels: &mut RawLabels<'a>) -> Result<usize, String> {
    let b = line.as_bytes();
    if at(b, i) == b'}' {
        return Ok(i + 1);
    }
    loop {
        let name_end = scan_label_name(b, i);
        if name_end == i {
            return Err(format!("invalid label name at {}", excerpt(line.get(i..).unwrap_or(""))));
        }
        let name = line.get(i..name_end).unwrap_or_default();
        if name == "__name__" {
            return Err("label name \"__name__\" is reserved".into());
        }
        if at(b, name_end) != b'=' {
            return Err(format!("expected '=' after label name {name}"));
        }
        if at(b, name_end + 1) != b'"' {
            return Err(format!("expected '\"' to start the value of label {name}"));
        }
        let (value, after) = read_label_value(line, name_end + 2, false)?;
        labels.push((name, value));
        match at(b, after) {
            b',' => i = after + 1,
            b'}' => return Ok(after + 1),
            _ => return Err(format!("expected ',' or '}}' after the value of label {name}")),
        }
    }
}

fn parse_om_line<'l>(line: &'l str, labels: &mut RawLabels<'l>) -> Result<OmLine<'l>, String> {
    let b = line.as_bytes();
    let name_end = scan_metric_name(b, 0);
    if name_end == 0 {
        return Err(format!("expected a metric name, found {}", excerpt(line)));
    }
    let name = line.get(..name_end).unwrap_or_default();
    let mut i = name_end;
    if at(b, i) == b'{' {
        i = om_labels(line, i + 1, labels)?;
    }
    if at(b, i) != b' ' {
        return Err(if i >= b.len() {
            format!("missing value for metric {name}")
        } else if i == name_end {
            format!("invalid character in metric name {}", excerpt(line))
        } else {
            format!("expected a space before the value in {}", excerpt(line))
        });
    }
    sort_labels(labels)?;
    let value_start = i + 1;
    let value_end = find_from(b, value_start, b' ');
    let value = b
        .get(value_start..value_end)
        .and_then(parse_float)
        .ok_or_else(|| format!("invalid value in {}", excerpt(line)))?;
    let mut out = OmLine { name, value, ts: None, exemplar: false };
    if value_end >= b.len() {
        return Ok(out);
    }
    let mut i = value_end + 1;
    if at(b, i) != b'#' {
        let ts_end = find_from(b, i, b' ');
        out.ts = Some(
            b.get(i..ts_end)
                .and_then(parse_om_timestamp)
                .ok_or_else(|| format!("invalid timestamp in {}", excerpt(line)))?,
        );
        if ts_end >= b.len() {
            return Ok(out);
        }
        i = ts_end + 1;
        if at(b, i) != b'#' {
            return Err(format!("unexpected text after timestamp in {}", excerpt(line)));
        }
    }
    om_exemplar(line, i)?;
    out.exemplar = true;
    Ok(out)
}

/// Validates an exemplar starting at `#`: `# {labels} value [timestamp]`.
fn om_exemplar(line: &str, i: usize) -> Result<(), String> {
    let b = line.as_bytes();
    if at(b, i + 1) != b' ' || at(b, i + 2) != b'{' {
        return Err(format!("invalid exemplar in {}", excerpt(line)));
    }
    let mut labels: RawLabels<'_> = Vec::new();
    let after = om_labels(line, i + 3, &mut labels).map_err(|e| format!("exemplar: {e}"))?;
    sort_labels(&mut labels).map_err(|e| format!("exemplar: {e}"))?;
    let length: usize = labels.iter().map(|(k, v)| k.chars().count() + v.chars().count()).sum();
    if length > 128 {
        return Err(format!("exemplar labels are {length} characters long (at most 128)"));
    }
    if at(b, after) != b' ' {
        return Err(format!("expected a space before the exemplar value in {}", excerpt(line)));
    }
    let value_end = find_from(b, after + 1, b' ');
    if b.get(after + 1..value_end).and_then(parse_float).is_none() {
        return Err(format!("invalid exemplar value in {}", excerpt(line)));
    }
    if value_end < b.len() && b.get(value_end + 1..).and_then(parse_om_timestamp).is_none() {
        return Err(format!("invalid exemplar timestamp in {}", excerpt(line)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Exposition {
        match parse(s.as_bytes(), Format::Text) {
            Ok(e) => e,
            Err(e) => panic!("{e} in {s:?}"),
        }
    }

    fn om(s: &str) -> Exposition {
        match parse(s.as_bytes(), Format::OpenMetrics) {
            Ok(e) => e,
            Err(e) => panic!("{e} in {s:?}"),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        crate::sample::labels(pairs.iter().copied())
    }

    #[test]
    fn escapes_are_unescaped() {
        let e = text("m{a=\"x\\\\y\",b=\"q\\\"t\",c=\"l1\\nl2\"} 1\n");
        assert_eq!(e.samples[0].labels, labels(&[("a", "x\\y"), ("b", "q\"t"), ("c", "l1\nl2")]));
        let e = text("# HELP m a \\\\ b \\n c \\t\nm 1\n");
        assert_eq!(e.families[0].help.as_deref(), Some("a \\ b \n c \\t"));
        // Unknown escapes: an error in text (expfmt), kept verbatim in OpenMetrics.
        assert!(parse(b"m{a=\"\\t\"} 1\n", Format::Text).is_err());
        let e = om("m{a=\"\\z\"} 1\n# EOF\n");
        assert_eq!(e.samples[0].label("a"), Some("\\z"));
    }

    #[test]
    fn shared_strings_never_mix_up_values() {
        // Position caches and the intern table must not confuse raw and unescaped text.
        let e = text(
            "m{a=\"\\\\\"} 1\nm{a=\"\"} 2\nm{a=\"\\\\\",b=\"x\"} 3\nm{b=\"\\\\\"} 4\nm{a=\"x\"} 5\n",
        );
        let got: Vec<Vec<(&str, &str)>> = e
            .samples
            .iter()
            .map(|s| s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
            .collect();
        assert_eq!(
            got,
            vec![
                vec![("a", "\\")],
                vec![("a", "")],
                vec![("a", "\\"), ("b", "x")],
                vec![("b", "\\")],
                vec![("a", "x")],
            ]
        );
        assert!(Atom::ptr_eq(&e.samples[0].name, &e.samples[4].name), "one name, one allocation");
        assert!(Atom::ptr_eq(&e.samples[2].labels[1].1, &e.samples[4].labels[0].1), "x is shared");
    }

    #[test]
    fn a_filtered_parse_validates_and_lints_everything_but_builds_only_what_is_kept() {
        let body =
            "# TYPE a counter\na_total{x=\"1\"} 1\n# HELP b B\n# TYPE b gauge\nb 2\nb{y=\"2\"} 3\n";
        let keep = |n: &str| n == "b";
        for (body, format) in
            [(body.to_string(), Format::Text), (format!("{body}# EOF\n"), Format::OpenMetrics)]
        {
            let all = parse(body.as_bytes(), format).unwrap();
            let some = parse_keeping(body.as_bytes(), format, &keep).unwrap();
            assert_eq!(some.families, all.families, "{format:?}");
            assert_eq!(some.warnings, all.warnings, "{format:?}");
            let kept: Vec<&Sample> = all.samples.iter().filter(|s| s.name == "b").collect();
            assert_eq!(some.samples.iter().collect::<Vec<_>>(), kept, "{format:?}");
        }
        // An error in a series nobody keeps still fails the scrape, at its line.
        let bad = "b 1\na_total{x=\"1\"} one\n";
        assert_eq!(parse_keeping(bad.as_bytes(), Format::Text, &keep).map_err(|e| e.line), Err(2));
        let bad_om = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\nb 1\n# EOF\n";
        assert!(parse_keeping(bad_om.as_bytes(), Format::OpenMetrics, &keep).is_err());
    }

    #[test]
    fn timestamps() {
        let e = text("m 1 1700000000123\nn 2 -5\n");
        assert_eq!(e.samples[0].timestamp_ms, Some(1_700_000_000_123));
        assert_eq!(e.samples[1].timestamp_ms, Some(-5));
        assert!(parse(b"m 1 1.5\n", Format::Text).is_err());
        let e = om("a 1 1700215884.373\nb 1 1.5e3\nc 1 -1.1\nd 1 12345678901234567890.1\n# EOF\n");
        let ts: Vec<_> = e.samples.iter().map(|s| s.timestamp_ms).collect();
        assert_eq!(ts, vec![Some(1_700_215_884_373), Some(1_500_000), Some(-1100), Some(i64::MAX)]);
    }

    #[test]
    fn nan_and_infinities() {
        let e = text("a NaN\nb +Inf\nc -Inf\nd inf\ne 1e400\nf -0.5e-3\ng .5\nh 5.\n");
        let v: Vec<f64> = e.samples.iter().map(|s| s.value).collect();
        assert!(v[0].is_nan());
        assert_eq!(
            &v[1..],
            &[f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::INFINITY, -0.0005, 0.5, 5.0]
        );
        for bad in [
            "a 0x1p-3\n",
            "a 1_0\n",
            "a +NaN\n",
            "a Infx\n",
            "a 1e\n",
            "a .\n",
            "a +\n",
            "a 1.2.3\n",
            "a 12345678901234567890e\n",
            "a 1.23456789012345678_9\n",
            "a 0x1234567890abcdef0\n",
            "a 1e+\n",
            "a --1\n",
            "a 1d\n",
            "a 1f\n",
            "a 123456789012345678901234567890x\n",
        ] {
            assert!(parse(bad.as_bytes(), Format::Text).is_err(), "{bad}");
        }
    }

    #[test]
    fn float_fast_path_matches_std() {
        for s in [
            "0",
            "1",
            "-1",
            "1.5",
            "0.1",
            "123456789012345",
            "1234567890123456789",
            "1e22",
            "1e23",
            "1.7976931348623157e308",
            "5e-324",
            "0.013300656000000001",
            "2.478268416e+09",
            "0000000000000000000000000000000000000000001.2e-1",
            "9223372036854775808",
            "1e-22",
            "3.14159265358979",
            "-8.452185437166741e-05",
        ] {
            let expected: f64 = s.parse().unwrap_or(f64::NAN);
            assert_eq!(
                parse_float(s.as_bytes()).map(f64::to_bits),
                Some(expected.to_bits()),
                "{s}"
            );
        }
    }

    #[test]
    fn crlf_blank_lines_and_missing_final_newline() {
        let e = text("# TYPE a gauge\r\n\r\n  \na{x=\"1\"} 1\r\nb 2");
        assert_eq!(e.samples.len(), 2);
        assert_eq!(e.samples[0].labels, labels(&[("x", "1")]));
        assert_eq!(e.samples[1].value, 2.0);
        assert_eq!(e.families[0].kind, MetricKind::Gauge);
    }

    #[test]
    fn trailing_comma_and_blanks_in_text_labels() {
        let e = text("jvm_threads_state{state=\"NEW\",} 0.0\nm{ a = \"1\" , b=\"2\"\t} 3\n");
        assert_eq!(e.samples[0].labels, labels(&[("state", "NEW")]));
        assert_eq!(e.samples[1].labels, labels(&[("a", "1"), ("b", "2")]));
        assert!(parse(b"m{a=\"1\",} 1\n# EOF\n", Format::OpenMetrics).is_err());
        assert!(parse(b"m{,} 1\n", Format::Text).is_err());
        assert!(parse(b"m{a=\"1\",,} 1\n", Format::Text).is_err());
    }

    #[test]
    fn empty_braces_and_colons() {
        let e = text("m{} 1\nnode:cpu:rate5m{mode=\"idle\"} 2\n");
        assert_eq!(e.samples[0].name, "m");
        assert!(e.samples[0].labels.is_empty());
        assert_eq!(e.samples[1].name, "node:cpu:rate5m");
        let e = om("a{} 1\n# EOF\n");
        assert!(e.samples[0].labels.is_empty());
    }

    #[test]
    fn label_values_with_delimiters() {
        let e = text("m{b=\"x,}=y # z\",a=\"{}\"} 1\n");
        assert_eq!(e.samples[0].labels, labels(&[("a", "{}"), ("b", "x,}=y # z")]));
        let e = om("# TYPE a counter\na_total{foo=\"} foo # bar # \"} 1 # {x=\"}#\"} 1 2\n# EOF\n");
        assert_eq!(e.samples[0].label("foo"), Some("} foo # bar # "));
    }

    #[test]
    fn labels_are_sorted_and_unique() {
        let e = text("m{z=\"1\",a=\"2\",m=\"3\"} 1\n");
        assert_eq!(e.samples[0].labels, labels(&[("a", "2"), ("m", "3"), ("z", "1")]));
        let e = parse(b"m{a=\"1\",a=\"2\"} 1\n", Format::Text);
        assert!(e.is_err());
    }

    #[test]
    fn families_and_suffixes() {
        let e = text(
            "# HELP h H\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n\
             h_sum 3\nh_count 2\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 1\n\
             other 4\n",
        );
        let names: Vec<_> = e.families.iter().map(|f| (f.name.as_str(), f.kind)).collect();
        assert_eq!(
            names,
            vec![
                ("h", MetricKind::Histogram),
                ("s", MetricKind::Summary),
                ("other", MetricKind::Unknown)
            ]
        );
        assert_eq!(e.samples.len(), 8);
        assert_eq!(e.samples[1].name, "h_bucket");
    }

    #[test]
    fn text_errors() {
        for (body, line) in [
            ("this is { not an exposition", 1),
            ("<html><body>oops</body></html>\n", 1),
            ("{\"json\": true}\n", 1),
            ("ok 1\n# TYPE m counter\n# TYPE m gauge\n", 3),
            ("m 1\n# TYPE m counter\n", 2),
            ("# HELP m a\n# HELP m b\n", 2),
            ("# TYPE m histogram\nm_bucket{le=\"x\"} 1\n", 2),
            ("m 1 2 3\n", 1),
            ("m{a=\"b\"+} 1\n", 1),
            ("m{a=\"new\nline\"} 1\n", 1),
        ] {
            match parse(body.as_bytes(), Format::Text) {
                Err(e) => assert_eq!(e.line, line, "{body:?}: {e}"),
                Ok(_) => panic!("accepted {body:?}"),
            }
        }
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let e = parse(b"a 1\nb{x=\"\xff\"} 1\n", Format::Text);
        assert_eq!(e.map_err(|e| e.line), Err(2));
    }

    #[test]
    fn comments_and_banner() {
        let e = text("#   ___ banner\n#\n#foo\n# some comment\n# HELP\nm 1\n");
        assert_eq!(e.samples.len(), 1);
    }

    #[test]
    fn openmetrics_basics() {
        let e = om("# TYPE a counter\n# HELP a help\n# UNIT a \na_total 1 # {id=\"x\"} 2 3\n\
                    a_created 1.5\n# EOF");
        assert_eq!(e.families[0].name, "a");
        assert_eq!(e.families[0].kind, MetricKind::Counter);
        assert_eq!(e.samples.len(), 2);
        assert_eq!(e.samples[0].name, "a_total");
        for bad in
            ["a 1\n", "a 1\n\n# EOF\n", "a 1\n# EOF\nb 1\n", "a  1\n# EOF\n", "a 1\r\n# EOF\n"]
        {
            assert!(parse(bad.as_bytes(), Format::OpenMetrics).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn openmetrics_tolerates_negative_observations() {
        let e = om(
            "# TYPE h histogram\nh_bucket{le=\"-1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum -3\n\
                    h_count 2\n# TYPE s summary\ns{quantile=\"0.5\"} -1\ns_sum -2\ns_count 2\n# EOF\n",
        );
        assert_eq!(e.warnings.iter().filter(|w| w.message.contains("accepted as")).count(), 2);
        assert!(
            parse(b"# TYPE s summary\ns_sum -1\ns_count 1\n# EOF\n", Format::OpenMetrics).is_err()
        );
    }

    #[test]
    fn detect() {
        assert_eq!(
            detect_format(Some("application/openmetrics-text; version=1.0.0; charset=utf-8"), b""),
            Format::OpenMetrics
        );
        assert_eq!(detect_format(Some("text/plain; version=0.0.4"), b"a 1\n# EOF\n"), Format::Text);
        assert_eq!(detect_format(None, b"a 1\n# EOF\n"), Format::OpenMetrics);
        assert_eq!(detect_format(None, b"# EOF"), Format::OpenMetrics);
        assert_eq!(detect_format(None, b"a 1\n"), Format::Text);
        assert_eq!(detect_format(None, b"a 1\n#  EOF\n"), Format::Text);
    }

    #[test]
    fn lints() {
        let e = text(
            "# TYPE requests counter\nrequests 1\n# HELP lat_milliseconds x\n\
                      # TYPE lat_milliseconds gauge\nlat_milliseconds 2\n",
        );
        let msgs: Vec<_> = e.warnings.iter().map(|w| w.message.as_str()).collect();
        assert!(msgs.contains(&"requests: no help text"), "{msgs:?}");
        assert!(msgs.contains(&"requests: counter metrics should have \"_total\" suffix"));
        assert!(
            msgs.contains(
                &"lat_milliseconds: use base unit \"seconds\" instead of \"milliseconds\""
            )
        );
        assert_eq!(e.warnings[0].line, 1);
    }

    #[test]
    fn never_panics_on_mutations() {
        let seeds: [&[u8]; 4] = [
            b"# HELP a x\n# TYPE a histogram\na_bucket{le=\"1\",b=\"\\\"\"} 1 2\na_bucket{le=\"+Inf\"} 2\na_sum 1\na_count 2\n# EOF\n",
            b"# TYPE a counter\na_total{x=\"y\"} 1 1.5 # {t=\"1\"} 2 3\n# TYPE s summary\ns{quantile=\"0.5\"} 1\n# EOF",
            b"m{a=\"b\",} 1 2\r\n#  x\n# TYPE g stateset\ng{g=\"a\"} 1\n",
            b"\xe2\x98\x83{a=\"\xe2\x98\x83\"} NaN\n",
        ];
        let alphabet = b"#{}=\",\\ \n\r\t._:aZ09+-eEIN\xe2\x98\x83";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let mut body = seeds[(rand() % 4) as usize].to_vec();
            for _ in 0..1 + rand() % 4 {
                let pos = (rand() as usize) % (body.len() + 1);
                let c = alphabet[(rand() as usize) % alphabet.len()];
                match rand() % 3 {
                    0 => body.insert(pos, c),
                    1 if pos < body.len() => {
                        body.remove(pos);
                    }
                    _ if pos < body.len() => body[pos] = c,
                    _ => {}
                }
            }
            let _ = parse(&body, Format::Text);
            let _ = parse(&body, Format::OpenMetrics);
            let _ = detect_format(None, &body);
        }
    }
}
