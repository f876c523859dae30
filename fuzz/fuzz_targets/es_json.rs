//! The Elasticsearch REST converter on arbitrary bodies: the input is fed as every
//! endpoint's body at once, so each converter sees it. Errors are fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opsadvisor::sources::elasticsearch::{EsResponses, convert};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let r = EsResponses {
        info: Some(text.clone()),
        health: Some(text.clone()),
        nodes_stats: Some(text.clone()),
        settings: Some(text.clone()),
        shards: Some(text),
    };
    let _ = convert(&r);
});
