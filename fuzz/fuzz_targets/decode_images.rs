//! Parse, then decode every image of the event (overview and every target,
//! face and plate crop) both ways: `bytes()` and `decoded_len()` must agree,
//! on success and on failure, and must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(viewtron::Post::Event(event)) = viewtron::parse(data) else {
        return;
    };
    for image in viewtron_fuzz::images(&event) {
        let bytes = image.bytes();
        let len = image.decoded_len();
        assert_eq!(
            bytes.as_ref().map(Vec::len),
            len.as_ref().copied(),
            "bytes() and decoded_len() disagree for {image:?}"
        );
        if let Ok(bytes) = &bytes {
            // Every 4 base64 characters decode to at most 3 bytes.
            assert!(bytes.len() <= image.base64().len() / 4 * 3);
        }
    }
});
