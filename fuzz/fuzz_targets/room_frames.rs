//! Sequences of frames from four participants (admin, moderator, user, waiting guest)
//! through the live room's rules (`rooms/live/rules.rs`, with rate limits, lobby and
//! media rules), checking that every frame the room sends is JSON and the room never
//! holds more than its capacity. See `convene::rooms::fuzz_room` for the input's shape.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    convene::rooms::fuzz_room(data);
});
