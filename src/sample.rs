//! Samples: the plain-Rust contract between sources and features.
//!
//! Every source (a Prometheus text scrape, the Elasticsearch REST API, later Jolokia and the
//! Prometheus HTTP API) turns what it read into [`Sample`]s named as the well-known exporters
//! name them. Feature extraction only ever sees samples, so a new source never touches it.
//! This module deliberately knows nothing about polars.
//!
//! # Why names and label strings are [`Atom`]s
//!
//! A scrape repeats the same few strings thousands of times: every sample of a family carries
//! its metric name, and label names and most label values (`keyspace="system"`, `le="0.5"`)
//! recur on every line. Owned `String`s made one heap allocation per name and two per label
//! (nine for a four-label sample), and those allocations were the parser's limit (issue 3
//! item 10) and most of the daemon's resident window (issue 7 item 7). An [`Atom`] is a
//! reference-counted immutable string: the parser makes each distinct string once per scrape
//! and every sample shares it, so a sample costs one allocation (its label vector) and cloning
//! a sample copies pointers, not text. It reads like a `&str` (`Deref`, `==` with `&str`), so
//! code that only looks at samples is unchanged.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// An immutable, cheaply cloned string shared between samples (see the module docs).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Atom(Arc<str>);

impl Atom {
    /// The string.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the only handle to the string (a sharing table can then drop it).
    pub fn is_unique(&self) -> bool {
        Arc::strong_count(&self.0) == 1
    }

    /// Whether both are handles to the same allocation (not merely equal text).
    pub fn ptr_eq(a: &Atom, b: &Atom) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl Default for Atom {
    fn default() -> Self {
        Atom::from("")
    }
}

impl Deref for Atom {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Atom {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Lets a `HashMap<Atom, _>` or `HashSet<Atom>` be queried with a `&str` (hashes agree: the
/// derived `Hash` hashes the `str`).
impl Borrow<str> for Atom {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Atom {
    fn from(s: &str) -> Self {
        Atom(Arc::from(s))
    }
}

impl From<String> for Atom {
    fn from(s: String) -> Self {
        Atom(Arc::from(s))
    }
}

impl From<&String> for Atom {
    fn from(s: &String) -> Self {
        Atom(Arc::from(s.as_str()))
    }
}

impl From<Atom> for String {
    fn from(a: Atom) -> Self {
        a.0.as_ref().to_owned()
    }
}

impl PartialEq<str> for Atom {
    #[inline]
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Atom {
    #[inline]
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Atom {
    #[inline]
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Atom> for str {
    #[inline]
    fn eq(&self, other: &Atom) -> bool {
        *self == *other.0
    }
}

impl PartialEq<Atom> for &str {
    #[inline]
    fn eq(&self, other: &Atom) -> bool {
        **self == *other.0
    }
}

impl PartialEq<Atom> for String {
    #[inline]
    fn eq(&self, other: &Atom) -> bool {
        **self == *other.0
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl serde::Serialize for Atom {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Label pairs of one series, sorted by label name, without the metric name.
pub type Labels = Vec<(Atom, Atom)>;

/// One value of one series at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name, e.g. `cassandra_compaction_pendingtasks`.
    pub name: Atom,
    /// Labels sorted by name.
    pub labels: Labels,
    /// The value; NaN and ±Inf are legal, as in the exposition formats.
    pub value: f64,
    /// Milliseconds since the Unix epoch when the exposition carried a timestamp.
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    /// A sample without a timestamp; `labels` need not be sorted.
    pub fn new(name: impl Into<Atom>, mut labels: Labels, value: f64) -> Self {
        labels.sort();
        Self { name: name.into(), labels, value, timestamp_ms: None }
    }

    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Labels from string pairs (any order is kept; [`Sample::new`] sorts).
pub fn labels<K: Into<Atom>, V: Into<Atom>>(pairs: impl IntoIterator<Item = (K, V)>) -> Labels {
    pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoms_compare_and_hash_as_their_text() {
        let a = Atom::from("keyspace");
        assert_eq!(a, "keyspace");
        assert_eq!("keyspace", a);
        assert_eq!(a, String::from("keyspace"));
        let (a1, b1) = (Atom::from("a"), Atom::from("b"));
        assert!(a1 < b1);
        let set: std::collections::HashSet<Atom> = [a.clone()].into();
        assert!(set.contains("keyspace"), "a set of atoms is queried by &str");
        assert_eq!(format!("{a} {a:?}"), "keyspace \"keyspace\"");
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"keyspace\"");
    }

    #[test]
    fn samples_sort_their_labels_and_find_them_by_name() {
        let s = Sample::new("m", labels([("z", "1"), ("a", "2")]), 1.0);
        assert_eq!(s.labels[0].0, "a");
        assert_eq!(s.label("z"), Some("1"));
        assert_eq!(s.label("y"), None);
    }
}
