//! The one place that reads the wall clock, so everything else can run on data time.

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    #[allow(clippy::disallowed_methods)]
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
