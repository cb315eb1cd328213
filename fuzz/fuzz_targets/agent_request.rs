//! Fuzzes the agent's request parser (what any local client can send it): every input either
//! parses or is refused with an error — never a panic, never an allocation beyond the input's
//! size — and whatever parses encodes back to a frame that parses to the same message. The
//! client's parser of the agent's answers is fuzzed along.
#![no_main]

use horizon_agent_protocol::wire::{
    ClientMessage, encode_agent_message, encode_client_message, parse_agent_message,
    parse_client_message,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = parse_client_message(data) {
        let frame = encode_client_message(&message);
        let reparsed = parse_client_message(&frame[4..]).expect("an encoded message parses");
        assert_eq!(reparsed, message);
        if let ClientMessage::Request(request) = &message {
            // A program, or the login shell (which the agent picks): never both, never neither.
            assert_eq!(request.argv.is_empty(), request.login_shell);
        }
    }
    if let Ok(message) = parse_agent_message(data) {
        let frame = encode_agent_message(&message);
        assert_eq!(parse_agent_message(&frame[4..]).ok(), Some(message));
    }
});
