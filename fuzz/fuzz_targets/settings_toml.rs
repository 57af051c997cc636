//! A settings file (`--config`, TOML) read and checked as `serve` does: every value is
//! validated (URLs, addresses, log filters, TURN URLs, limits) with a message, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(settings) = toml::from_str::<convene::Settings>(text) else {
        return;
    };
    if let Ok(config) = settings.resolve() {
        let _ = config.check_for_serving();
        let _ = config.node_name();
    }
});
