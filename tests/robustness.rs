//! The parser never panics: every fixture cut at every byte offset, and
//! thousands of seeded random mutations of every fixture, parse to *some*
//! result, and every image of every resulting event decodes or errors
//! cleanly. A failure prints the fixture, the offset or seed, so it replays.

mod support;

use support::dump::dump;
use support::{all_images, fixtures, Rng};
use viewtron::{parse, ParseError, Post};

/// Parses `body` and exercises everything the result exposes.
fn exercise(body: Vec<u8>) -> Result<Post, ParseError> {
    let len = body.len();
    let result = parse(body);
    if let Ok(post) = &result {
        let _ = dump(post); // every field of the post
    }
    match &result {
        Ok(Post::Event(e)) => {
            for (what, image) in all_images(e) {
                let size = image.bytes().map(|b| b.len());
                // `decoded_len` fails exactly when `bytes` does, and agrees on the size.
                assert_eq!(image.decoded_len(), size, "{what}");
                assert!(
                    image.base64().len() <= len,
                    "{what}: image text longer than the body"
                );
            }
            let _ = (e.target_image_bytes(), e.source_image_bytes(), e.time());
            let _ = format!("{e:?}");
        }
        Ok(other) => {
            let _ = format!("{other:?}");
        }
        Err(err) => {
            let _ = err.to_string();
            if let ParseError::Utf8 { offset } = err {
                assert!(*offset < len, "Utf8 offset {offset} past the end ({len})");
            }
        }
    }
    result
}

#[test]
fn every_prefix_of_every_fixture() {
    let mut errors = 0;
    for (name, body) in fixtures() {
        for cut in 0..body.len() {
            let prefix = body[..cut].to_vec();
            match std::panic::catch_unwind(|| exercise(prefix)) {
                Err(_) => panic!("{name} cut at byte {cut} panicked"),
                Ok(Err(_)) => errors += 1,
                Ok(Ok(Post::Keepalive(_))) if cut == 0 => {} // an empty body
                // A cut post must never pass for a complete one: only the
                // trailing white space after the root may be missing.
                Ok(Ok(post)) => assert!(
                    body[cut..].iter().all(u8::is_ascii_whitespace),
                    "{name} cut at byte {cut} parsed as {}",
                    post.kind()
                ),
            }
        }
    }
    assert!(errors > 50_000, "only {errors} prefixes failed to parse");
}

/// One random edit of `body`, biased towards bytes that matter to XML.
fn mutate(rng: &mut Rng, body: &mut Vec<u8>) {
    const INTERESTING: &[u8] = b"<>/&;\"'=[]!?-x0129 \n\r\t\xff\xc3\x00";
    let at = if body.is_empty() {
        0
    } else {
        rng.below(body.len())
    };
    let byte = match rng.below(4) {
        0 | 1 => INTERESTING[rng.below(INTERESTING.len())],
        2 => b'!' + rng.below(94) as u8, // printable ASCII
        _ => rng.next() as u8,           // anything, often not UTF-8
    };
    match rng.below(6) {
        0 if !body.is_empty() => body[at] = byte,
        1 if !body.is_empty() => {
            body.remove(at);
        }
        2 => body.insert(at, byte),
        3 if !body.is_empty() => {
            // Duplicate a short run (repeats tags, digits, base64).
            let end = (at + 1 + rng.below(32)).min(body.len());
            let run = body[at..end].to_vec();
            body.splice(at..at, run);
        }
        4 if !body.is_empty() => {
            // Delete a short run (drops a closing tag, half a CDATA marker, ...).
            let end = (at + 1 + rng.below(16)).min(body.len());
            body.drain(at..end);
        }
        _ if !body.is_empty() => {
            // Swap in a digit run: huge numbers, leading zeros, overflow.
            let digits = b"18446744073709551616999";
            let n = 1 + rng.below(digits.len());
            let end = (at + 3).min(body.len());
            body.splice(at..end, digits[..n].iter().copied());
        }
        _ => body.push(byte),
    }
}

#[test]
fn seeded_random_mutations_of_every_fixture() {
    const PER_FIXTURE: u64 = 2_000;
    let mut outcomes = [0usize; 3];
    for (index, (name, body)) in fixtures().into_iter().enumerate() {
        for round in 0..PER_FIXTURE {
            let seed = (index as u64) << 32 | round;
            let mut rng = Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15);
            let mut mutated = body.clone();
            for _ in 0..1 + rng.below(3) {
                mutate(&mut rng, &mut mutated);
            }
            let result = std::panic::catch_unwind(|| exercise(mutated));
            match result {
                Ok(Ok(Post::Event(_))) => outcomes[0] += 1,
                Ok(Ok(_)) => outcomes[1] += 1,
                Ok(Err(_)) => outcomes[2] += 1,
                Err(_) => panic!("{name}: mutation seed {seed:#x} panicked"),
            }
        }
    }
    // The mutations must reach past the XML parser, and also break it.
    let [events, others, errors] = outcomes;
    assert!(
        events > 1000 && errors > 1000,
        "events {events}, others {others}, errors {errors}"
    );
}
