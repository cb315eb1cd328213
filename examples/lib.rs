//! The `horizon-examples` package holds no library code: it exists so that Cargo builds and tests the
//! embedding examples next to this file (run one with `cargo run -p horizon-examples --example NAME`).
