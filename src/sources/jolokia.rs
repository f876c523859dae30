//! Jolokia (JMX over HTTP) → [`Sample`]s named as jmx_exporter names the same MBeans.
//!
//! A Cassandra or Kafka node without a JMX exporter often has a Jolokia agent (port 8778).
//! One scrape is one bulk read: a POST of a JSON array holding one read request per MBean
//! (pattern) listed in `jolokia.yaml`, the data file that also says which jmx_exporter metric
//! each attribute becomes. Feature extraction therefore sees the same series whichever way
//! the data came, and `features/catalog.yaml` needs no Jolokia entries.
//!
//! The agent answers HTTP 200 even when single requests fail: every entry of the response
//! array has its own `status`. A failed entry costs only its own metrics; its reason is
//! returned in [`JolokiaSamples::errors`] (and shown in the target's health), except "not
//! found" on MBeans the data file marks `optional` (ones some versions lack). The body is
//! parsed whatever its Content-Type (the agent's default is `text/plain`). Nothing here
//! panics on unexpected shapes: a value that is not a number is skipped.

use crate::System;
use crate::sample::Sample;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The built-in MBean → metric mapping.
pub const BUILTIN: &str = include_str!("jolokia.yaml");

/// One attribute (or composite field) → one metric.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The jmx_exporter metric name.
    pub metric: String,
    /// Labels; a value `$key` takes the MBean name's `key` property.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Multiplier to the metric's unit.
    #[serde(default)]
    pub scale: Option<f64>,
}

/// One MBean (or MBean pattern) and what to read from it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bean {
    /// The MBean name, possibly with `*` value wildcards.
    pub mbean: String,
    /// Whether "not found" is expected on some versions (then it is not reported).
    #[serde(default)]
    pub optional: bool,
    /// `Attribute` or `Attribute.path` → the metric it becomes.
    pub read: BTreeMap<String, Rule>,
}

impl Bean {
    /// The attributes to request, each once, in name order.
    pub fn attributes(&self) -> Vec<&str> {
        let set: BTreeSet<&str> =
            self.read.keys().map(|k| k.split_once('.').map_or(k.as_str(), |(a, _)| a)).collect();
        set.into_iter().collect()
    }
}

/// The mapping: per system (and `jvm` for all), the MBeans to read.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// JVM MBeans, read on every system.
    #[serde(default)]
    pub jvm: Vec<Bean>,
    /// Cassandra MBeans.
    #[serde(default)]
    pub cassandra: Vec<Bean>,
    /// Kafka MBeans.
    #[serde(default)]
    pub kafka: Vec<Bean>,
}

impl Mapping {
    /// Parses a mapping file.
    ///
    /// # Errors
    /// The YAML error, with its line.
    pub fn parse(yaml: &str) -> Result<Mapping, String> {
        serde_norway::from_str(yaml).map_err(|e| format!("jolokia mapping: {e}"))
    }

    /// The built-in mapping (`jolokia.yaml`, checked by a unit test).
    pub fn builtin() -> &'static Mapping {
        static MAPPING: std::sync::OnceLock<Mapping> = std::sync::OnceLock::new();
        MAPPING.get_or_init(|| {
            Mapping::parse(BUILTIN).unwrap_or_else(|e| {
                tracing::error!(error = %e, "Built-in Jolokia mapping is invalid.");
                Mapping { jvm: Vec::new(), cassandra: Vec::new(), kafka: Vec::new() }
            })
        })
    }

    /// The MBeans read for `system`: the JVM ones, then the system's own.
    pub fn beans(&self, system: System) -> impl Iterator<Item = &Bean> {
        let own: &[Bean] = match system {
            System::Cassandra => &self.cassandra,
            System::Kafka => &self.kafka,
            System::Elasticsearch => &[],
        };
        self.jvm.iter().chain(own)
    }

    /// The bulk read request for `system`: a JSON array, one read per MBean, in
    /// [`Mapping::beans`] order.
    pub fn request_body(&self, system: System) -> String {
        let requests: Vec<Value> = self
            .beans(system)
            .map(|b| {
                let attrs = b.attributes();
                // One attribute as a string, several as an array, as the protocol has it.
                let attribute = match attrs.as_slice() {
                    [one] => json!(one),
                    many => json!(many),
                };
                json!({
                    "type": "read",
                    "mbean": b.mbean,
                    "attribute": attribute,
                    "config": { "ignoreErrors": true, "serializeLong": "number" },
                })
            })
            .collect();
        Value::Array(requests).to_string()
    }
}

/// One numeric leaf of a read response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The MBean's name as the agent returned it (a concrete name, never a pattern).
    pub mbean: String,
    /// The attribute.
    pub attribute: String,
    /// Keys into a composite value (`["used"]` for `HeapMemoryUsage`), empty for a scalar.
    pub path: Vec<String>,
    /// The value; booleans are 1/0, numeric strings are parsed.
    pub value: f64,
}

/// What one read request asked for, as far as the response's shape depends on it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadRequest {
    /// The MBean name or pattern.
    pub mbean: String,
    /// The attribute(s): `None` for all, a string for one, an array for several.
    pub attribute: Option<Value>,
    /// The request's inner path, `/`-separated, if any.
    pub path: Option<String>,
}

impl ReadRequest {
    /// The request echoed in a response entry (`"request": {...}`), if there is one.
    pub fn from_echo(entry: &Value) -> Option<ReadRequest> {
        let r = entry.get("request")?;
        Some(ReadRequest {
            mbean: r.get("mbean")?.as_str()?.to_string(),
            attribute: r.get("attribute").filter(|a| !a.is_null()).cloned(),
            path: r.get("path").and_then(Value::as_str).map(str::to_string),
        })
    }
}

/// Whether an MBean name is a pattern (the agent then keys its answer by MBean name).
pub fn is_pattern(mbean: &str) -> bool {
    mbean.split_once(':').is_some_and(|(domain, props)| {
        domain.contains(['*', '?']) || props.split(',').any(|p| p == "*" || p.contains(['*', '?']))
    })
}

/// The numeric leaves of one successful read response's `value`, given its request.
pub fn readings(request: &ReadRequest, value: &Value) -> Vec<Reading> {
    let mut out = Vec::new();
    let prefix: Vec<String> = request
        .path
        .as_deref()
        .map(|p| p.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    let per_attribute = |mbean: &str, v: &Value, out: &mut Vec<Reading>| match &request.attribute {
        // A single attribute on a single MBean: the value is the attribute's value.
        Some(Value::String(a)) if !is_pattern(&request.mbean) => {
            leaves(mbean, a, &mut prefix.clone(), v, out);
        }
        // Several (or all) attributes: an object keyed by attribute name.
        _ => {
            if let Some(obj) = v.as_object() {
                for (a, av) in obj {
                    leaves(mbean, a, &mut prefix.clone(), av, out);
                }
            }
        }
    };
    if is_pattern(&request.mbean) {
        if let Some(obj) = value.as_object() {
            for (mbean, v) in obj {
                per_attribute(mbean, v, &mut out);
            }
        }
    } else {
        per_attribute(&request.mbean, value, &mut out);
    }
    out
}

fn leaves(mbean: &str, attribute: &str, path: &mut Vec<String>, v: &Value, out: &mut Vec<Reading>) {
    let value = match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        // serializeLong=string, and agents that stringify numbers.
        Value::String(s) => s.trim().parse::<f64>().ok(),
        Value::Object(obj) => {
            // Bounded: JSON nesting is bounded by serde_json's recursion limit.
            for (k, child) in obj {
                path.push(k.clone());
                leaves(mbean, attribute, path, child, out);
                path.pop();
            }
            None
        }
        // Arrays (histogram buckets) and nulls carry no single value.
        Value::Array(_) | Value::Null => None,
    };
    if let Some(value) = value {
        out.push(Reading {
            mbean: mbean.to_string(),
            attribute: attribute.to_string(),
            path: path.clone(),
            value,
        });
    }
}

/// An MBean name split into its domain and key properties (quoted values unquoted).
///
/// # Errors
/// When there is no `domain:` part or a property lacks `=`.
pub fn parse_object_name(name: &str) -> Result<(String, Vec<(String, String)>), String> {
    let (domain, props) =
        name.split_once(':').ok_or_else(|| format!("MBean name '{name}' has no domain"))?;
    let mut out = Vec::new();
    let mut rest = props;
    while !rest.is_empty() {
        if rest == "*" {
            break;
        }
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("MBean name '{name}': property without '='"))?;
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, e)) = chars.next() {
                            value.push(if e == 'n' { '\n' } else { e });
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end =
                end.ok_or_else(|| format!("MBean name '{name}': unterminated quoted value"))?;
            (value, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        out.push((key.trim().to_string(), value));
        rest = after.strip_prefix(',').unwrap_or(after);
        if !after.is_empty() && !after.starts_with(',') {
            return Err(format!("MBean name '{name}': junk after a quoted value"));
        }
    }
    Ok((domain.to_string(), out))
}

/// Samples from one Jolokia response body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JolokiaSamples {
    /// Samples in jmx_exporter naming, without timestamps.
    pub samples: Vec<Sample>,
    /// One reason per failed read request (its metrics are absent).
    pub errors: Vec<String>,
    /// The newest `timestamp` of the entries (the agent's clock, Unix seconds).
    pub timestamp_s: Option<i64>,
}

/// Parses a bulk read response to the requests [`Mapping::request_body`] builds for `system`.
///
/// Entries are matched to MBeans by the request the agent echoes, else by position.
///
/// # Errors
/// When the body is not a Jolokia response at all, or every request in it failed; the
/// reasons are named.
pub fn parse(body: &[u8], mapping: &Mapping, system: System) -> Result<JolokiaSamples, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("invalid Jolokia response: not JSON: {e}"))?;
    let entries = match v {
        Value::Array(a) => a,
        Value::Object(o) => {
            // A single object instead of an array: the agent rejected the whole bulk request.
            let entry = Value::Object(o);
            if status(&entry) != Some(200) {
                return Err(format!("Jolokia: {}", entry_error(&entry)));
            }
            vec![entry]
        }
        _ => return Err("invalid Jolokia response: expected a JSON array of responses".into()),
    };
    let beans: Vec<&Bean> = mapping.beans(system).collect();
    let mut out = JolokiaSamples::default();
    let mut ok = 0usize;
    for (i, entry) in entries.iter().enumerate() {
        let echoed = ReadRequest::from_echo(entry);
        let bean = match &echoed {
            Some(r) => beans.iter().find(|b| b.mbean == r.mbean).copied(),
            None => beans.get(i).copied(),
        };
        let Some(bean) = bean else { continue };
        if status(entry) != Some(200) {
            let not_found = status(entry) == Some(404);
            if !(bean.optional && not_found) {
                out.errors.push(format!("{}: {}", bean.mbean, entry_error(entry)));
            }
            continue;
        }
        ok += 1;
        if let Some(ts) = entry.get("timestamp").and_then(Value::as_i64) {
            out.timestamp_s = Some(out.timestamp_s.map_or(ts, |t| t.max(ts)));
        }
        let request = echoed.unwrap_or_else(|| ReadRequest {
            mbean: bean.mbean.clone(),
            attribute: match bean.attributes().as_slice() {
                [one] => Some(json!(one)),
                many => Some(json!(many)),
            },
            path: None,
        });
        let Some(value) = entry.get("value") else { continue };
        for r in readings(&request, value) {
            if let Some(s) = to_sample(bean, &r) {
                out.samples.push(s);
            }
        }
    }
    if ok == 0 && !entries.is_empty() {
        let reasons = if out.errors.is_empty() {
            "no read request succeeded".to_string()
        } else {
            out.errors.join("; ")
        };
        return Err(format!("Jolokia: every read failed: {reasons}"));
    }
    Ok(out)
}

fn status(entry: &Value) -> Option<i64> {
    entry.get("status").and_then(Value::as_i64)
}

/// `404 javax.management.InstanceNotFoundException: <message>`, at most 300 characters.
fn entry_error(entry: &Value) -> String {
    let status = status(entry).map_or_else(|| "no status".to_string(), |s| s.to_string());
    let kind = ["error_type_jmx", "error_type"]
        .iter()
        .find_map(|k| entry.get(k).and_then(Value::as_str))
        .unwrap_or("error");
    let msg = entry.get("error").and_then(Value::as_str).unwrap_or("");
    let mut s = format!("{status} {kind}: {msg}");
    if s.chars().count() > 300 {
        s = s.chars().take(300).collect::<String>() + "…";
    }
    s
}

fn to_sample(bean: &Bean, r: &Reading) -> Option<Sample> {
    let key = if r.path.is_empty() {
        r.attribute.clone()
    } else {
        format!("{}.{}", r.attribute, r.path.join("."))
    };
    let rule = bean.read.get(&key)?;
    // JMX reports an undefined maximum as -1.
    if r.value == -1.0 && r.path.last().is_some_and(|p| p == "max") {
        return None;
    }
    let mut labels = Vec::with_capacity(rule.labels.len());
    if rule.labels.values().any(|v| v.starts_with('$')) {
        let (_, props) = parse_object_name(&r.mbean).ok()?;
        for (k, v) in &rule.labels {
            let value = match v.strip_prefix('$') {
                Some(key) => props.iter().find(|(p, _)| p == key)?.1.clone(),
                None => v.clone(),
            };
            labels.push((k.into(), value.into()));
        }
    } else {
        labels.extend(rule.labels.iter().map(|(k, v)| (k.into(), v.into())));
    }
    Some(Sample::new(rule.metric.as_str(), labels, r.value * rule.scale.unwrap_or(1.0)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn builtin_mapping_parses_and_names_catalogue_metrics() {
        let m = Mapping::parse(BUILTIN).unwrap();
        assert!(m.beans(System::Cassandra).count() > 10);
        assert!(m.beans(System::Kafka).count() > 10);
        let body: Value = serde_json::from_str(&m.request_body(System::Kafka)).unwrap();
        assert_eq!(body.as_array().unwrap().len(), m.beans(System::Kafka).count());
        for b in m.beans(System::Cassandra).chain(m.beans(System::Kafka)) {
            parse_object_name(&b.mbean).unwrap();
            for (k, rule) in &b.read {
                for v in rule.labels.values() {
                    if let Some(key) = v.strip_prefix('$') {
                        assert!(b.mbean.contains(&format!("{key}=*")), "{}: {k}: ${key}", b.mbean);
                    }
                }
            }
        }
    }

    #[test]
    fn object_names_split_with_quotes() {
        let (d, p) = parse_object_name(r#"a.b:type=X,name="x,\"y\"",k=v"#).unwrap();
        assert_eq!(d, "a.b");
        assert_eq!(p[1], ("name".into(), "x,\"y\"".into()));
        assert_eq!(p[2], ("k".into(), "v".into()));
        assert!(parse_object_name("nodomain").is_err());
        assert!(parse_object_name("d:k").is_err());
        assert!(parse_object_name(r#"d:k="open"#).is_err());
        assert!(is_pattern("d:type=X,*"));
        assert!(is_pattern("d:type=X,scope=*"));
        assert!(!is_pattern("java.lang:type=Memory"));
    }

    #[test]
    fn a_failed_entry_costs_only_its_metrics() {
        let m = Mapping::builtin();
        let body = br#"[
          {"request":{"mbean":"java.lang:type=Memory","attribute":["HeapMemoryUsage","NonHeapMemoryUsage"],"type":"read"},
           "value":{"HeapMemoryUsage":{"init":1,"committed":2,"max":-1,"used":3}},"status":200,"timestamp":1700000000},
          {"request":{"mbean":"org.apache.cassandra.metrics:type=Compaction,name=PendingTasks","attribute":"Value","type":"read"},
           "error_type":"javax.management.InstanceNotFoundException","error":"org.apache.cassandra.metrics:type=Compaction,name=PendingTasks","status":404},
          {"request":{"mbean":"org.apache.cassandra.metrics:type=Table,keyspace=*,scope=*,name=SSTablesPerReadHistogram","attribute":"99thPercentile","type":"read"},
           "error_type":"javax.management.InstanceNotFoundException","error":"No MBean with pattern","status":404}
        ]"#;
        let r = parse(body, m, System::Cassandra).unwrap();
        let names: Vec<_> = r.samples.iter().map(|s| (s.name.as_str(), s.value)).collect();
        assert!(names.contains(&("jvm_memory_used_bytes", 3.0)), "{names:?}");
        assert!(!names.iter().any(|(n, _)| *n == "jvm_memory_max_bytes"), "-1 max is undefined");
        assert_eq!(r.errors.len(), 1, "optional MBeans' not-found is expected: {:?}", r.errors);
        assert!(
            r.errors[0].contains("PendingTasks: 404 javax.management.InstanceNotFoundException")
        );
        assert_eq!(r.timestamp_s, Some(1_700_000_000));
    }

    #[test]
    fn whole_request_failures_and_garbage_are_errors() {
        let m = Mapping::builtin();
        let e = parse(b"{\"status\":400,\"error_type\":\"java.lang.IllegalArgumentException\",\"error\":\"bad\"}", m, System::Kafka).unwrap_err();
        assert!(e.contains("400 java.lang.IllegalArgumentException: bad"), "{e}");
        assert!(parse(b"<html>", m, System::Kafka).unwrap_err().contains("not JSON"));
        assert!(parse(b"17", m, System::Kafka).is_err());
        let all_failed = br#"[{"status":500,"error":"x"}]"#;
        assert!(parse(all_failed, m, System::Kafka).unwrap_err().contains("every read failed"));
    }
}
