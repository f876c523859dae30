//! A simulated Jolokia agent: answers bulk read POSTs with the node's JMX state.
//!
//! The node's MBeans are rebuilt from its jmx_exporter page through the inverse of
//! `sources/jolokia.yaml` (a series `cassandra_threadpools_pendingtasks{path="request",
//! threadpools="MutationStage"}` is the attribute `Value` of
//! `org.apache.cassandra.metrics:name=PendingTasks,path=request,scope=MutationStage,
//! type=ThreadPools`), so both endpoints of a node describe the same state. Requests are
//! answered in Jolokia's shapes: pattern reads keyed by MBean name, one attribute as a bare
//! value, several as an object, composite values as objects, and a per-request 404 inside
//! the HTTP 200 for an MBean the node does not have, as a real agent does.

use crate::System;
use crate::sources::exposition::{self, Format};
use crate::sources::jolokia::{Bean, Mapping, parse_object_name};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// MBean canonical name → attribute → value (a number, or an object for composites).
type Beans = BTreeMap<String, Map<String, Value>>;

/// Answers a bulk (or single) read request body; returns the HTTP status and the JSON body.
pub(crate) fn answer(system: System, jmx_page: &str, request: &[u8], ts_s: i64) -> (u16, String) {
    let Ok(req) = serde_json::from_slice::<Value>(request) else {
        let e = json!({"status": 400, "error_type": "java.lang.IllegalArgumentException",
                       "error": "Invalid JSON request"});
        return (400, e.to_string());
    };
    let beans = beans(system, jmx_page);
    let one = |r: &Value| read(&beans, r, ts_s);
    let body = match &req {
        Value::Array(rs) => Value::Array(rs.iter().map(one).collect()),
        r => one(r),
    };
    (200, body.to_string())
}

fn beans(system: System, jmx_page: &str) -> Beans {
    let mut out = Beans::new();
    let Ok(parsed) = exposition::parse(jmx_page.as_bytes(), Format::Text) else {
        return out;
    };
    for bean in Mapping::builtin().beans(system) {
        add_bean(bean, &parsed.samples, &mut out);
    }
    out
}

/// Every concrete MBean of `bean` that the samples describe, with its attributes.
fn add_bean(bean: &Bean, samples: &[crate::sample::Sample], out: &mut Beans) {
    let Ok((domain, props)) = parse_object_name(&bean.mbean) else { return };
    for (key, rule) in &bean.read {
        for s in samples.iter().filter(|s| s.name == rule.metric) {
            if s.labels.len() != rule.labels.len() {
                continue;
            }
            let mut wild: BTreeMap<&str, &str> = BTreeMap::new();
            let fits = rule.labels.iter().all(|(k, v)| match (s.label(k), v.strip_prefix('$')) {
                (Some(got), Some(prop)) => {
                    wild.insert(prop, got);
                    true
                }
                (Some(got), None) => got == v,
                (None, _) => false,
            });
            if !fits {
                continue;
            }
            let mut concrete: Vec<(String, String)> = Vec::new();
            for (k, v) in &props {
                let value = if v == "*" { wild.get(k.as_str()).copied() } else { Some(v.as_str()) };
                let Some(value) = value else { continue };
                concrete.push((k.clone(), value.to_string()));
            }
            concrete.sort();
            let name = format!(
                "{domain}:{}",
                concrete.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
            );
            let raw = s.value / rule.scale.unwrap_or(1.0);
            let attrs = out.entry(name).or_default();
            match key.split_once('.') {
                None => {
                    attrs.insert(key.clone(), json!(raw));
                }
                Some((attr, field)) => {
                    let composite = attrs.entry(attr.to_string()).or_insert_with(|| json!({}));
                    if let Some(obj) = composite.as_object_mut() {
                        obj.insert(field.to_string(), json!(raw));
                    }
                }
            }
        }
    }
}

/// Whether the concrete `name` matches the MBean `pattern` (value wildcards `*` and a
/// trailing `,*` for "any further keys"), as JMX's `ObjectName.apply` does.
fn matches(pattern: &str, name: &str) -> bool {
    let (Ok((pd, pp)), Ok((nd, np))) = (parse_object_name(pattern), parse_object_name(name)) else {
        return false;
    };
    let open = pattern.ends_with(",*") || pattern.ends_with(":*");
    pd == nd
        && pp.iter().all(|(k, v)| np.iter().any(|(nk, nv)| nk == k && (v == "*" || nv == v)))
        && (open || pp.len() == np.len())
}

fn read(beans: &Beans, r: &Value, ts_s: i64) -> Value {
    let mbean = r.get("mbean").and_then(Value::as_str).unwrap_or("");
    let wanted: Option<Vec<&str>> = match r.get("attribute") {
        Some(Value::String(a)) => Some(vec![a.as_str()]),
        Some(Value::Array(a)) => Some(a.iter().filter_map(Value::as_str).collect()),
        _ => None,
    };
    let pick = |attrs: &Map<String, Value>| -> Map<String, Value> {
        attrs
            .iter()
            .filter(|(k, _)| wanted.as_ref().is_none_or(|w| w.contains(&k.as_str())))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let found: Vec<(&String, &Map<String, Value>)> =
        beans.iter().filter(|(name, _)| matches(mbean, name)).collect();
    let pattern = crate::sources::jolokia::is_pattern(mbean);
    let value = if found.is_empty() {
        None
    } else if pattern {
        Some(Value::Object(
            found.iter().map(|(n, a)| ((*n).clone(), Value::Object(pick(a)))).collect(),
        ))
    } else {
        let attrs = found[0].1;
        match r.get("attribute") {
            Some(Value::String(a)) => attrs.get(a).cloned(),
            _ => Some(Value::Object(pick(attrs))),
        }
    };
    match value {
        Some(value) => json!({"request": r, "value": value, "status": 200, "timestamp": ts_s}),
        None => {
            let error = if pattern {
                format!("No MBean with pattern {mbean} found for reading attributes")
            } else {
                mbean.to_string()
            };
            json!({"request": r, "status": 404,
                   "error_type": "javax.management.InstanceNotFoundException",
                   "error_type_jmx": "javax.management.InstanceNotFoundException",
                   "error": format!("javax.management.InstanceNotFoundException : {error}"),
                   "timestamp": ts_s})
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn patterns_match_as_jmx_does() {
        assert!(matches("d:type=A,name=*", "d:name=x,type=A"));
        assert!(!matches("d:type=A,name=*", "d:name=x,type=A,extra=1"));
        assert!(matches("d:type=A,*", "d:name=x,type=A,extra=1"));
        assert!(!matches("d:type=A", "e:type=A"));
    }

    #[test]
    fn mbeans_come_back_from_exporter_series() {
        let page = "cassandra_threadpools_pendingtasks{path=\"request\",threadpools=\"MutationStage\"} 7\n\
                    jvm_memory_used_bytes{area=\"heap\"} 100\njvm_memory_max_bytes{area=\"heap\"} 400\n";
        let req = br#"[{"type":"read","mbean":"org.apache.cassandra.metrics:type=ThreadPools,path=*,scope=*,name=PendingTasks","attribute":"Value"},
                       {"type":"read","mbean":"java.lang:type=Memory","attribute":"HeapMemoryUsage"},
                       {"type":"read","mbean":"kafka.server:type=ReplicaManager,name=LeaderCount","attribute":"Value"}]"#;
        let (status, body) = answer(System::Cassandra, page, req, 1_700_000_000);
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v[0]["value"]["org.apache.cassandra.metrics:name=PendingTasks,path=request,scope=MutationStage,type=ThreadPools"]
                ["Value"],
            json!(7.0)
        );
        assert_eq!(v[1]["value"], json!({"max": 400.0, "used": 100.0}));
        assert_eq!(v[2]["status"], json!(404));
    }
}
