//! Arbitrary bytes → `viewtron::parse`, then every accessor of the result
//! (and its JSON form). Parsing must never panic, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(post) = viewtron::parse(data) {
        viewtron_fuzz::touch(&post, data);
    }
});
