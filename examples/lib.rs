//! Runnable examples for the `eventsource` library; see the files beside
//! this one. Run one with `cargo run -p eventsource-examples --example NAME`.

pub mod guide;
