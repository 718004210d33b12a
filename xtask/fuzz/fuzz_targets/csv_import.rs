//! The `webinarctl import` CSV reader (client crate): any file is read or refused whole without
//! panicking; rows keep increasing line numbers after the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use webinar_client::fuzzing::read_csv;

fuzz_target!(|data: &[u8]| {
    let Ok((rows, _refused)) = read_csv(data, "fuzz.csv") else {
        return;
    };
    let mut last = 1;
    for (line, _) in &rows {
        assert!(*line > last, "line {line} after {last}");
        last = *line;
    }
});
