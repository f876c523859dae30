//! Annotation templates: `{{ expr }}` and `{{ expr | format }}` inside rule text.
//!
//! A placeholder is any expression of the rule language, so an action can compute its
//! concrete value from the node's own facts: `set -Xmx to {{ heap_target_bytes | bytes }}`.
//! `{{ node }}` and `{{ cluster }}` insert the row's names.

use super::expr::{self, Ast};

/// How a number is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Up to 3 significant decimals.
    Number,
    /// Rounded to an integer.
    Int,
    /// A 0..1 ratio as a percentage.
    Pct,
    /// Bytes with binary units.
    Bytes,
    /// Seconds as a human duration.
    Duration,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Literal text.
    Text(String),
    /// `{{ node }}` or `{{ cluster }}`.
    Key(String),
    /// A computed value.
    Value(Ast, Format),
}

/// Parses a template; `known` tells which columns exist.
///
/// # Errors
/// A message naming the placeholder and the problem.
pub fn parse(src: &str, known: &dyn Fn(&str) -> bool) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = src;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Text(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| format!("unclosed '{{{{' in '{src}'"))?;
        let inner = after[..end].trim();
        let (body, fmt) = match inner.rsplit_once('|') {
            Some((b, f)) => (b.trim(), f.trim()),
            None => (inner, ""),
        };
        let format = match fmt {
            "" => Format::Number,
            "int" => Format::Int,
            "pct" => Format::Pct,
            "bytes" => Format::Bytes,
            "duration" => Format::Duration,
            other => {
                return Err(format!(
                    "unknown format '{other}' in '{{{{ {inner} }}}}' (int, pct, bytes, duration)"
                ));
            }
        };
        if body == "node" || body == "cluster" {
            parts.push(Part::Key(body.to_string()));
        } else {
            let ast = expr::parse(body).map_err(|e| format!("in '{{{{ {inner} }}}}': {e}"))?;
            match ast.check(known) {
                Ok(expr::Type::Num) => parts.push(Part::Value(ast, format)),
                Ok(expr::Type::Bool) => {
                    return Err(format!("'{{{{ {inner} }}}}' is a condition, not a value"));
                }
                Err(e) => return Err(format!("in '{{{{ {inner} }}}}': {e}")),
            }
        }
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(parts)
}

/// Prints `v` in `format`; a missing value prints as `n/a`.
pub fn format_value(v: Option<f64>, format: Format) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else { return "n/a".into() };
    match format {
        Format::Number => trim(v),
        Format::Int => format!("{}", v.round() as i64),
        Format::Pct => format!("{}%", trim(v * 100.0)),
        Format::Bytes => {
            let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
            let mut x = v.abs();
            let mut i = 0;
            while x >= 1024.0 && i + 1 < units.len() {
                x /= 1024.0;
                i += 1;
            }
            let sign = if v < 0.0 { "-" } else { "" };
            if i == 0 { format!("{sign}{x:.0} B") } else { format!("{sign}{x:.1} {}", units[i]) }
        }
        Format::Duration => {
            let s = v.abs();
            if s < 120.0 {
                format!("{s:.0}s")
            } else if s < 7200.0 {
                format!("{:.0}m", s / 60.0)
            } else if s < 172_800.0 {
                format!("{:.1}h", s / 3600.0)
            } else {
                format!("{:.1}d", s / 86400.0)
            }
        }
    }
}

fn trim(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_parse_with_formats() {
        let known = |c: &str| c == "heap" || c == "ram";
        let parts = parse(
            "node {{ node }} heap {{heap | pct}} set {{ min(ram / 2, 31Gi) | bytes }}",
            &known,
        )
        .unwrap();
        assert_eq!(parts.len(), 6);
        assert!(matches!(parts[1], Part::Key(ref k) if k == "node"));
        assert!(matches!(parts[3], Part::Value(_, Format::Pct)));
        assert!(parse("{{ nope }}", &known).unwrap_err().contains("unknown column 'nope'"));
        assert!(parse("{{ heap > 1 }}", &known).unwrap_err().contains("condition"));
        assert!(parse("{{ heap | hex }}", &known).unwrap_err().contains("unknown format"));
        assert!(parse("{{ heap ", &known).unwrap_err().contains("unclosed"));
    }

    #[test]
    fn values_print_for_humans() {
        assert_eq!(format_value(Some(0.912), Format::Pct), "91.2%");
        assert_eq!(format_value(Some(31.0 * 1024.0 * 1024.0 * 1024.0), Format::Bytes), "31.0 GiB");
        assert_eq!(format_value(Some(312.4), Format::Number), "312");
        assert_eq!(format_value(Some(0.0523), Format::Number), "0.052");
        assert_eq!(format_value(Some(90_000.0), Format::Duration), "25.0h");
        assert_eq!(format_value(None, Format::Int), "n/a");
        assert_eq!(format_value(Some(f64::NAN), Format::Int), "n/a");
    }
}
