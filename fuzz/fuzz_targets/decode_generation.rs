//! The JSON generation body decoder of `Client::generate`: any bytes → images or a
//! decode error, never a panic. Decoded images are exactly the base64 length allows.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = venice_image::__fuzz::decode_generation(data) {
        let total: usize = d.image_lens.iter().sum();
        assert!(
            total <= data.len(),
            "decoded more bytes than the body holds"
        );
    }
});
