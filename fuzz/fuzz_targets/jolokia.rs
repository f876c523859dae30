//! The Jolokia response parser on arbitrary bodies, for both systems' mappings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opsadvisor::System;
use opsadvisor::sources::jolokia::{Mapping, parse, parse_object_name};

fuzz_target!(|data: &[u8]| {
    for system in [System::Cassandra, System::Kafka] {
        let _ = parse(data, Mapping::builtin(), system);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_object_name(s);
    }
});
