//! The condition language of rules and derived features.
//!
//! PromQL's operator syntax over feature columns instead of series: arithmetic
//! (`+ - * / %`), comparisons (`== != > >= < <=`), `and`, `or`, `unless`, and a few
//! functions. A Prometheus user reads `heap_used_ratio > 0.85 and gc_time_ratio > 0.05`
//! without a manual. Each expression is parsed once, type-checked against the known
//! columns, and compiled into one polars expression that is evaluated vectorised over a
//! whole frame.
//!
//! Cluster aggregates (`cluster_mean(x)`, `cluster_count(cond)`, …) evaluate over the rows
//! of the same cluster, so skew checks ("this broker leads 3× the mean") are plain
//! expressions; `peer_mean(x)` is the mean over the row's peers only (the cluster without
//! the row). Missing values are null: arithmetic on null is null and a null condition
//! is false, so an absent feature never fires a rule.

use polars::prelude::{DataType, Expr, col, lit, when};
use std::fmt;

/// A parse or type error with the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} (at column {})", .offset + 1)]
pub struct ExprError {
    /// Byte offset into the expression text.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// The type of an expression: numbers or booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// A float column or literal.
    Num,
    /// A condition.
    Bool,
}

/// Binary operators, in PromQL spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless` (a and not b)
    Unless,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Unless => "unless",
        }
    }

    /// True for the six comparison operators.
    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le)
    }

    fn precedence(self) -> u8 {
        // PromQL: or < and/unless < comparisons < +,- < *,/,%
        match self {
            BinOp::Or => 1,
            BinOp::And | BinOp::Unless => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 5,
        }
    }
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    /// A number literal.
    Num(f64),
    /// A feature column.
    Column(String),
    /// `-x`
    Neg(Box<Ast>),
    /// `not x`
    Not(Box<Ast>),
    /// `a op b`
    Binary(BinOp, Box<Ast>, Box<Ast>),
    /// `f(args…)`
    Call(Func, Vec<Ast>),
    /// A threshold a config overrides for some clusters: `values` by cluster name, else
    /// `default` (the number written in the rule). Never parsed; made by
    /// [`Ast::with_threshold_overrides`].
    PerCluster {
        /// The rule's own number.
        default: f64,
        /// Overrides by cluster name.
        values: Vec<(String, f64)>,
    },
}

/// The functions the language knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `min(a, b, …)`: smallest argument, row by row.
    Min,
    /// `max(a, b, …)`: largest argument, row by row.
    Max,
    /// `abs(x)`
    Abs,
    /// `clamp(x, lo, hi)`
    Clamp,
    /// `default(x, v)`: `x`, or `v` where `x` is missing.
    Default,
    /// `present(x)`: true where the feature was measured.
    Present,
    /// `cluster_mean(x)` over the rows of the row's cluster.
    ClusterMean,
    /// `peer_mean(x)`: mean over the other rows of the row's cluster (missing without any).
    /// Unlike `x / cluster_mean(x)`, `x / peer_mean(x)` of one outlier does not shrink as
    /// the cluster grows (the mean includes the outlier less).
    PeerMean,
    /// `cluster_max(x)`
    ClusterMax,
    /// `cluster_min(x)`
    ClusterMin,
    /// `cluster_sum(x)`
    ClusterSum,
    /// `cluster_count(cond)`: rows of the cluster where `cond` holds.
    ClusterCount,
    /// `cluster_nodes()`: rows in the cluster.
    ClusterNodes,
}

impl Func {
    const ALL: [(&'static str, Func); 13] = [
        ("min", Func::Min),
        ("max", Func::Max),
        ("abs", Func::Abs),
        ("clamp", Func::Clamp),
        ("default", Func::Default),
        ("present", Func::Present),
        ("cluster_mean", Func::ClusterMean),
        ("peer_mean", Func::PeerMean),
        ("cluster_max", Func::ClusterMax),
        ("cluster_min", Func::ClusterMin),
        ("cluster_sum", Func::ClusterSum),
        ("cluster_count", Func::ClusterCount),
        ("cluster_nodes", Func::ClusterNodes),
    ];

    fn by_name(name: &str) -> Option<Func> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, f)| *f == self).map_or("?", |(n, _)| n)
    }

    /// Argument types and result type.
    fn signature(self, argc: usize) -> Result<(Vec<Type>, Type), String> {
        use Type::{Bool, Num};
        let fixed = |args: &[Type], ret: Type| -> Result<(Vec<Type>, Type), String> {
            if argc == args.len() {
                Ok((args.to_vec(), ret))
            } else {
                Err(format!("{}() takes {} argument(s), got {argc}", self.name(), args.len()))
            }
        };
        match self {
            Func::Min | Func::Max if argc >= 2 => Ok((vec![Num; argc], Num)),
            Func::Min | Func::Max => Err(format!("{}() takes at least 2 arguments", self.name())),
            Func::Abs => fixed(&[Num], Num),
            Func::Clamp => fixed(&[Num, Num, Num], Num),
            Func::Default => fixed(&[Num, Num], Num),
            Func::Present => fixed(&[Num], Bool),
            Func::ClusterMean
            | Func::PeerMean
            | Func::ClusterMax
            | Func::ClusterMin
            | Func::ClusterSum => fixed(&[Num], Num),
            Func::ClusterCount => fixed(&[Bool], Num),
            Func::ClusterNodes => fixed(&[], Num),
        }
    }
}

impl fmt::Display for Ast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ast::Num(n) | Ast::PerCluster { default: n, .. } => write!(f, "{n}"),
            Ast::Column(c) => f.write_str(c),
            Ast::Neg(a) => write!(f, "-{a}"),
            Ast::Not(a) => write!(f, "not {a}"),
            Ast::Binary(op, a, b) => {
                let wrap = |x: &Ast, f: &mut fmt::Formatter<'_>| match x {
                    Ast::Binary(inner, ..) if inner.precedence() < op.precedence() => {
                        write!(f, "({x})")
                    }
                    _ => write!(f, "{x}"),
                };
                wrap(a, f)?;
                write!(f, " {} ", op.symbol())?;
                wrap(b, f)
            }
            Ast::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(BinOp),
    Not,
    LParen,
    RParen,
    Comma,
    End,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn err(&self, offset: usize, message: impl Into<String>) -> ExprError {
        ExprError { offset, message: message.into() }
    }

    fn tokens(mut self) -> Result<Vec<(usize, Tok)>, ExprError> {
        let mut out = Vec::new();
        loop {
            let bytes = self.src.as_bytes();
            while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            let start = self.pos;
            let Some(&c) = bytes.get(self.pos) else {
                out.push((start, Tok::End));
                return Ok(out);
            };
            let two = self.src.get(self.pos..self.pos + 2).unwrap_or("");
            let tok = match (c, two) {
                (_, "==") => Some((Tok::Op(BinOp::Eq), 2)),
                (_, "!=") => Some((Tok::Op(BinOp::Ne), 2)),
                (_, ">=") => Some((Tok::Op(BinOp::Ge), 2)),
                (_, "<=") => Some((Tok::Op(BinOp::Le), 2)),
                (b'>', _) => Some((Tok::Op(BinOp::Gt), 1)),
                (b'<', _) => Some((Tok::Op(BinOp::Lt), 1)),
                (b'+', _) => Some((Tok::Op(BinOp::Add), 1)),
                (b'-', _) => Some((Tok::Op(BinOp::Sub), 1)),
                (b'*', _) => Some((Tok::Op(BinOp::Mul), 1)),
                (b'/', _) => Some((Tok::Op(BinOp::Div), 1)),
                (b'%', _) => Some((Tok::Op(BinOp::Mod), 1)),
                (b'(', _) => Some((Tok::LParen, 1)),
                (b')', _) => Some((Tok::RParen, 1)),
                (b',', _) => Some((Tok::Comma, 1)),
                _ => None,
            };
            if let Some((t, len)) = tok {
                self.pos += len;
                out.push((start, t));
                continue;
            }
            if c.is_ascii_digit() || c == b'.' {
                out.push((start, self.number()?));
            } else if c.is_ascii_alphabetic() || c == b'_' {
                while self
                    .src
                    .as_bytes()
                    .get(self.pos)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
                {
                    self.pos += 1;
                }
                let word = &self.src[start..self.pos];
                out.push((
                    start,
                    match word {
                        "and" => Tok::Op(BinOp::And),
                        "or" => Tok::Op(BinOp::Or),
                        "unless" => Tok::Op(BinOp::Unless),
                        "not" => Tok::Not,
                        _ => Tok::Ident(word.to_string()),
                    },
                ));
            } else {
                let ch = self.src[start..].chars().next().unwrap_or('?');
                return Err(self.err(start, format!("unexpected character '{ch}'")));
            }
        }
    }

    /// Numbers: `12`, `0.85`, `1e9`, and SI/byte suffixes operators write in thresholds
    /// (`31Gi`, `10k`, `85%` → 0.85).
    fn number(&mut self) -> Result<Tok, ExprError> {
        let bytes = self.src.as_bytes();
        let start = self.pos;
        while self.pos < bytes.len()
            && (bytes[self.pos].is_ascii_digit() || bytes[self.pos] == b'.')
        {
            self.pos += 1;
        }
        if self.pos < bytes.len() && (bytes[self.pos] == b'e' || bytes[self.pos] == b'E') {
            let save = self.pos;
            self.pos += 1;
            if self.pos < bytes.len() && (bytes[self.pos] == b'+' || bytes[self.pos] == b'-') {
                self.pos += 1;
            }
            if self.pos < bytes.len() && bytes[self.pos].is_ascii_digit() {
                while self.pos < bytes.len() && bytes[self.pos].is_ascii_digit() {
                    self.pos += 1;
                }
            } else {
                self.pos = save;
            }
        }
        let value: f64 = self.src[start..self.pos]
            .parse()
            .map_err(|_| self.err(start, format!("bad number '{}'", &self.src[start..self.pos])))?;
        let suffix_start = self.pos;
        while self.pos < bytes.len()
            && (bytes[self.pos].is_ascii_alphabetic() || bytes[self.pos] == b'%')
        {
            self.pos += 1;
        }
        let factor = match &self.src[suffix_start..self.pos] {
            "" => 1.0,
            "%" => 0.01,
            "k" => 1e3,
            "M" => 1e6,
            "G" => 1e9,
            "T" => 1e12,
            "Ki" => 1024.0,
            "Mi" => 1024.0 * 1024.0,
            "Gi" => 1024.0 * 1024.0 * 1024.0,
            "Ti" => 1024.0f64.powi(4),
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            other => return Err(self.err(suffix_start, format!("unknown number suffix '{other}'"))),
        };
        Ok(Tok::Num(value * factor))
    }
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].1
    }
    fn offset(&self) -> usize {
        self.toks[self.i.min(self.toks.len() - 1)].0
    }
    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        self.i += 1;
        t
    }
    fn err(&self, message: impl Into<String>) -> ExprError {
        ExprError { offset: self.offset(), message: message.into() }
    }

    fn binary(&mut self, min_prec: u8) -> Result<Ast, ExprError> {
        let mut lhs = self.unary()?;
        while let Tok::Op(op) = *self.peek() {
            if op.precedence() < min_prec {
                break;
            }
            self.next();
            // All PromQL binary operators here are left-associative.
            let rhs = self.binary(op.precedence() + 1)?;
            lhs = Ast::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Ast, ExprError> {
        match self.peek() {
            Tok::Op(BinOp::Sub) => {
                self.next();
                Ok(Ast::Neg(Box::new(self.unary()?)))
            }
            Tok::Not => {
                self.next();
                // `not` binds looser than comparisons: `not a > 1` is `not (a > 1)`.
                Ok(Ast::Not(Box::new(self.binary(3)?)))
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Ast, ExprError> {
        let at = self.offset();
        match self.next() {
            Tok::Num(n) => Ok(Ast::Num(n)),
            Tok::LParen => {
                let e = self.binary(0)?;
                match self.next() {
                    Tok::RParen => Ok(e),
                    _ => Err(ExprError { offset: at, message: "unclosed '('".into() }),
                }
            }
            Tok::Ident(name) if *self.peek() == Tok::LParen => {
                let func = Func::by_name(&name).ok_or_else(|| ExprError {
                    offset: at,
                    message: format!("unknown function '{name}'"),
                })?;
                self.next();
                let mut args = Vec::new();
                if *self.peek() != Tok::RParen {
                    loop {
                        args.push(self.binary(0)?);
                        match self.next() {
                            Tok::Comma => continue,
                            Tok::RParen => break,
                            _ => return Err(self.err("expected ',' or ')' in argument list")),
                        }
                    }
                } else {
                    self.next();
                }
                Ok(Ast::Call(func, args))
            }
            Tok::Ident(name) => Ok(Ast::Column(name)),
            Tok::End => {
                Err(ExprError { offset: at, message: "unexpected end of expression".into() })
            }
            t => Err(ExprError { offset: at, message: format!("unexpected {t:?}") }),
        }
    }
}

/// Parses `src` into an [`Ast`], without checking column names.
pub fn parse(src: &str) -> Result<Ast, ExprError> {
    let toks = Lexer { src, pos: 0 }.tokens()?;
    let mut p = Parser { toks, i: 0 };
    let ast = p.binary(0)?;
    match p.peek() {
        Tok::End => Ok(ast),
        t => Err(p.err(format!("unexpected {t:?} after expression"))),
    }
}

/// The polars column that names a row's cluster; cluster aggregates partition by it.
pub const CLUSTER_COLUMN: &str = "cluster";

impl Ast {
    /// Checks column names with `known` and operand types; returns the expression's type.
    pub fn check(&self, known: &dyn Fn(&str) -> bool) -> Result<Type, String> {
        use Type::{Bool, Num};
        let want = |a: &Ast, t: Type, what: &str| -> Result<(), String> {
            let got = a.check(known)?;
            if got == t {
                Ok(())
            } else {
                Err(format!("{what} needs a {t:?} operand but '{a}' is {got:?}"))
            }
        };
        match self {
            Ast::Num(_) | Ast::PerCluster { .. } => Ok(Num),
            Ast::Column(c) if known(c) => Ok(Num),
            Ast::Column(c) => Err(format!("unknown column '{c}'")),
            Ast::Neg(a) => want(a, Num, "'-'").map(|()| Num),
            Ast::Not(a) => want(a, Bool, "'not'").map(|()| Bool),
            Ast::Binary(op, a, b) => {
                let what = format!("'{}'", op.symbol());
                match op {
                    BinOp::And | BinOp::Or | BinOp::Unless => {
                        want(a, Bool, &what)?;
                        want(b, Bool, &what)?;
                        Ok(Bool)
                    }
                    _ => {
                        want(a, Num, &what)?;
                        want(b, Num, &what)?;
                        Ok(if op.is_comparison() { Bool } else { Num })
                    }
                }
            }
            Ast::Call(func, args) => {
                let (params, ret) = func.signature(args.len())?;
                for (a, t) in args.iter().zip(params) {
                    want(a, t, &format!("{}()", func.name()))?;
                }
                Ok(ret)
            }
        }
    }

    /// Column names the expression reads, in order of appearance.
    pub fn columns(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |a| {
            if let Ast::Column(c) = a
                && !out.contains(&c.as_str())
            {
                out.push(c.as_str());
            }
        });
        out
    }

    fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Ast)) {
        f(self);
        match self {
            Ast::Num(_) | Ast::Column(_) | Ast::PerCluster { .. } => {}
            Ast::Neg(a) | Ast::Not(a) => a.walk(f),
            Ast::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f);
            }
            Ast::Call(_, args) => args.iter().for_each(|a| a.walk(f)),
        }
    }

    /// The comparisons in the expression, as (measured side, operator, threshold side): what
    /// a finding cites as evidence ("pending_compactions 312 > 100"). A literal is always
    /// the threshold; when neither side is literal, the left side is the measurement and the
    /// right side is evaluated per row (`x > 5 * cluster_min(x)`).
    pub fn thresholds(&self) -> Vec<(&Ast, BinOp, &Ast)> {
        let mut out = Vec::new();
        self.walk(&mut |a| {
            if let Ast::Binary(op, lhs, rhs) = a
                && op.is_comparison()
            {
                match (&**lhs, &**rhs) {
                    (l, r) if l.is_constant() && r.is_constant() => {}
                    (l, r) if l.is_constant() => out.push((r, flip(*op), l)),
                    (l, r) => out.push((l, *op, r)),
                }
            }
        });
        out
    }

    fn is_constant(&self) -> bool {
        matches!(self, Ast::Num(_) | Ast::PerCluster { .. })
    }

    /// Replaces the number compared with `measured` (the comparison's other side, as
    /// printed, e.g. `pending_compactions`) by per-cluster values. Returns how many
    /// comparisons were changed, so a config naming a comparison the rule lacks is caught.
    pub fn with_threshold_overrides(&mut self, measured: &str, cluster: &str, value: f64) -> usize {
        let mut changed = 0;
        if let Ast::Binary(op, lhs, rhs) = self
            && op.is_comparison()
        {
            let (lhs_text, rhs_text) = (lhs.to_string(), rhs.to_string());
            for (slot, other) in [(&mut **rhs, lhs_text), (&mut **lhs, rhs_text)] {
                if other != measured {
                    continue;
                }
                match slot {
                    Ast::Num(n) => {
                        *slot =
                            Ast::PerCluster { default: *n, values: vec![(cluster.into(), value)] };
                        changed += 1;
                    }
                    Ast::PerCluster { values, .. } => {
                        values.retain(|(c, _)| c != cluster);
                        values.push((cluster.into(), value));
                        changed += 1;
                    }
                    _ => {}
                }
            }
        }
        match self {
            Ast::Neg(a) | Ast::Not(a) => {
                changed += a.with_threshold_overrides(measured, cluster, value)
            }
            Ast::Binary(_, a, b) => {
                changed += a.with_threshold_overrides(measured, cluster, value);
                changed += b.with_threshold_overrides(measured, cluster, value);
            }
            Ast::Call(_, args) => {
                for a in args {
                    changed += a.with_threshold_overrides(measured, cluster, value);
                }
            }
            Ast::Num(_) | Ast::Column(_) | Ast::PerCluster { .. } => {}
        }
        changed
    }

    /// Compiles into a polars expression. Call [`Ast::check`] first.
    pub fn to_polars(&self) -> Expr {
        match self {
            Ast::Num(n) => lit(*n),
            Ast::PerCluster { default, values } => {
                values.iter().rev().fold(lit(*default), |otherwise, (cluster, v)| {
                    when(col(CLUSTER_COLUMN).eq(lit(cluster.as_str())))
                        .then(lit(*v))
                        .otherwise(otherwise)
                })
            }
            Ast::Column(c) => col(c.as_str()),
            Ast::Neg(a) => lit(0.0) - a.to_polars(),
            Ast::Not(a) => a.to_polars().fill_null(lit(false)).not(),
            Ast::Binary(op, a, b) => {
                let (a, b) = (a.to_polars(), b.to_polars());
                match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    // Division by zero is "no value" (null), not ±inf or NaN: a ratio with a
                    // zero denominator has nothing to say, and polars orders NaN above every
                    // number, so `NaN > 0.9` would be true where PromQL says false.
                    BinOp::Div => when(b.clone().eq(lit(0.0)))
                        .then(lit(polars::prelude::NULL).cast(polars::prelude::DataType::Float64))
                        .otherwise(a / b),
                    BinOp::Mod => a % b,
                    BinOp::Eq => a.eq(b),
                    BinOp::Ne => a.neq(b),
                    BinOp::Gt => a.gt(b),
                    BinOp::Ge => a.gt_eq(b),
                    BinOp::Lt => a.lt(b),
                    BinOp::Le => a.lt_eq(b),
                    BinOp::And => a.fill_null(lit(false)).and(b.fill_null(lit(false))),
                    BinOp::Or => a.fill_null(lit(false)).or(b.fill_null(lit(false))),
                    BinOp::Unless => a.fill_null(lit(false)).and(b.fill_null(lit(false)).not()),
                }
            }
            Ast::Call(func, args) => {
                let mut a: Vec<Expr> = args.iter().map(Ast::to_polars).collect();
                // `over` only fails for an empty partition list, and ours is never empty.
                let over =
                    |e: Expr| e.over([col(CLUSTER_COLUMN)]).unwrap_or_else(|_| lit(f64::NAN));
                match func {
                    Func::Min | Func::Max => {
                        let first = a.remove(0);
                        a.into_iter().fold(first, |acc, e| {
                            let pick = if *func == Func::Min {
                                acc.clone().lt_eq(e.clone())
                            } else {
                                acc.clone().gt_eq(e.clone())
                            };
                            // Missing operands are skipped, as PromQL's min/max do.
                            when(e.clone().is_null())
                                .then(acc.clone())
                                .when(acc.clone().is_null())
                                .then(e.clone())
                                .when(pick)
                                .then(acc)
                                .otherwise(e)
                        })
                    }
                    Func::Abs => {
                        // Spelled out: polars' `abs` needs a feature (and a rebuild) of its own.
                        let x = a.remove(0);
                        when(x.clone().lt(lit(0.0))).then(lit(0.0) - x.clone()).otherwise(x)
                    }
                    Func::Clamp => {
                        let x = a.remove(0);
                        let lo = a.remove(0);
                        let hi = a.remove(0);
                        when(x.clone().lt(lo.clone()))
                            .then(lo)
                            .when(x.clone().gt(hi.clone()))
                            .then(hi)
                            .otherwise(x)
                    }
                    Func::Default => {
                        let x = a.remove(0);
                        let v = a.remove(0);
                        when(x.clone().is_null().or(x.clone().is_nan())).then(v).otherwise(x)
                    }
                    Func::Present => {
                        let x = a.remove(0);
                        x.clone().is_not_null().and(x.is_not_nan())
                    }
                    Func::ClusterMean => over(a.remove(0).mean()),
                    Func::PeerMean => {
                        let x = a.remove(0);
                        let others = over(x.clone().count()).cast(DataType::Float64) - lit(1.0);
                        when(others.clone().gt(lit(0.0)))
                            .then((over(x.clone().sum()) - x) / others)
                            .otherwise(lit(polars::prelude::NULL).cast(DataType::Float64))
                    }
                    Func::ClusterMax => over(a.remove(0).max()),
                    Func::ClusterMin => over(a.remove(0).min()),
                    Func::ClusterSum => over(a.remove(0).sum()),
                    Func::ClusterCount => over(
                        a.remove(0)
                            .fill_null(lit(false))
                            .cast(polars::prelude::DataType::Float64)
                            .sum(),
                    ),
                    Func::ClusterNodes => {
                        over(col(CLUSTER_COLUMN).count()).cast(polars::prelude::DataType::Float64)
                    }
                }
            }
        }
    }
}

fn flip(op: BinOp) -> BinOp {
    match op {
        BinOp::Gt => BinOp::Lt,
        BinOp::Ge => BinOp::Le,
        BinOp::Lt => BinOp::Gt,
        BinOp::Le => BinOp::Ge,
        other => other,
    }
}

impl BinOp {
    /// The operator as written in rules.
    pub fn as_str(self) -> &'static str {
        self.symbol()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(c: &str) -> bool {
        ["a", "b", "heap_used_ratio", "gc_time_ratio"].contains(&c)
    }

    #[test]
    fn precedence_follows_promql() {
        let ast = parse("a + b * 2 > 10 and b < 1 or a == 3").unwrap();
        assert_eq!(ast.to_string(), "a + b * 2 > 10 and b < 1 or a == 3");
        let Ast::Binary(BinOp::Or, lhs, _) = &ast else { panic!("top is not or: {ast:?}") };
        assert!(matches!(**lhs, Ast::Binary(BinOp::And, ..)));
        assert_eq!(ast.check(&known), Ok(Type::Bool));
    }

    #[test]
    fn number_suffixes_scale() {
        assert_eq!(parse("31Gi").unwrap(), Ast::Num(31.0 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(parse("85%").unwrap(), Ast::Num(0.85));
        assert_eq!(parse("1e9").unwrap(), Ast::Num(1e9));
        assert_eq!(parse("5m").unwrap(), Ast::Num(300.0));
    }

    #[test]
    fn errors_name_the_position_and_problem() {
        let e = parse("a > ").unwrap_err();
        assert_eq!(e.offset, 4);
        assert!(e.message.contains("end of expression"));
        let e = parse("a $ b").unwrap_err();
        assert_eq!(e.offset, 2);
        assert!(parse("nosuch(a)").unwrap_err().message.contains("unknown function"));
        assert!(parse("(a > 1").unwrap_err().message.contains("unclosed"));
    }

    #[test]
    fn type_check_rejects_unknown_columns_and_mixed_types() {
        let err = parse("heap_used > 1").unwrap().check(&known).unwrap_err();
        assert!(err.contains("unknown column 'heap_used'"), "{err}");
        let err = parse("a and b > 1").unwrap().check(&known).unwrap_err();
        assert!(err.contains("needs a Bool operand"), "{err}");
        assert!(parse("max(a)").unwrap().check(&known).is_err());
    }

    #[test]
    fn division_by_zero_is_missing_so_comparisons_with_it_are_false() {
        use polars::prelude::{DataFrame, IntoLazy, df};
        let frame: DataFrame = df!("a" => [1.0, 0.0], "b" => [0.0, 0.0]).unwrap();
        let known = |c: &str| c == "a" || c == "b";
        let ast = parse("1 - a / b > 0.9 or a / b < 1").unwrap();
        assert_eq!(ast.check(&known), Ok(Type::Bool));
        let out =
            frame.lazy().select([ast.to_polars().fill_null(false).alias("x")]).collect().unwrap();
        let x: Vec<Option<bool>> = out.column("x").unwrap().bool().unwrap().iter().collect();
        assert_eq!(x, [Some(false), Some(false)]);
    }

    #[test]
    fn peer_mean_leaves_the_row_out_and_is_missing_alone_or_when_the_row_is() {
        use polars::prelude::{DataFrame, IntoLazy, df};
        let frame: DataFrame = df!(
            "cluster" => ["c", "c", "c", "c", "solo", "m", "m"],
            "a" => [Some(1.0), Some(2.0), Some(3.0), Some(6.0), Some(5.0), None, Some(4.0)]
        )
        .unwrap();
        let ast = parse("a / peer_mean(a)").unwrap();
        assert_eq!(ast.check(&|c: &str| c == "a"), Ok(Type::Num));
        let out = frame.lazy().select([ast.to_polars().alias("x")]).collect().unwrap();
        let x: Vec<Option<f64>> = out.column("x").unwrap().f64().unwrap().iter().collect();
        // c: peers of 6 average (1 + 2 + 3) / 3 = 2; m: the missing row is no peer.
        assert_eq!(
            x,
            [
                Some(1.0 / (11.0 / 3.0)),
                Some(2.0 / (10.0 / 3.0)),
                Some(1.0),
                Some(3.0),
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn thresholds_are_extracted_with_the_operator_facing_the_feature() {
        let ast = parse("heap_used_ratio > 0.85 and 0.05 < gc_time_ratio").unwrap();
        let t: Vec<String> =
            ast.thresholds().iter().map(|(l, op, n)| format!("{l} {} {n}", op.as_str())).collect();
        assert_eq!(t, ["heap_used_ratio > 0.85", "gc_time_ratio > 0.05"]);
        let ast = parse("a > 5 * max(b, 1)").unwrap();
        let t: Vec<String> =
            ast.thresholds().iter().map(|(l, op, n)| format!("{l} {} {n}", op.as_str())).collect();
        assert_eq!(t, ["a > 5 * max(b, 1)"]);
    }
}
