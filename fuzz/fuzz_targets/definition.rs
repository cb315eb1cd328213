//! Fuzz target for the definition reader: arbitrary bytes through the strict JSON parser and the
//! typed reader must never panic, and the parser must agree with serde_json (every document we
//! accept is JSON; every JSON document we refuse is refused for one of our deliberate rules).

#![no_main]

use std::path::Path;

use horizon_core::definition::parse::parse_json;
use horizon_core::definition::{Problem, parse_layer};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let ours = parse_json(data);
    let without_bom = data.strip_prefix(UTF8_BOM).unwrap_or(data);
    let theirs = serde_json::from_slice::<serde_json::Value>(without_bom);
    match (&ours, &theirs) {
        // serde_json refuses numbers outside f64's range; definitions have no numbers to read.
        (Ok(_), Err(error)) if error.to_string().starts_with("number out of range") => {}
        (Ok(_), Err(error)) => panic!("accepted what serde_json refuses: {error}"),
        (Err(error), Ok(_)) => assert!(
            matches!(
                error.problem,
                Problem::DuplicateKey { .. } | Problem::TooDeep { .. } | Problem::TooLarge { .. }
            ),
            "refused valid JSON: {error:?}"
        ),
        _ => {}
    }
    match parse_layer(data, Path::new("fuzz.json")) {
        Ok(file) => assert_eq!(file.layer.name, "fuzz"),
        Err(error) => {
            assert!(!error.diagnostics.is_empty());
            let _ = error.to_string();
        }
    }
});
