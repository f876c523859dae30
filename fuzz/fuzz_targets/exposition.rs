//! The exposition parser, in both formats, on arbitrary bytes: it may reject, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opsadvisor::sources::exposition::{Format, parse};

fuzz_target!(|data: &[u8]| {
    for format in [Format::Text, Format::OpenMetrics] {
        if let Ok(e) = parse(data, format) {
            // Whatever parses has a name on every sample.
            assert!(e.samples.iter().all(|s| !s.name.is_empty()));
        }
    }
});
