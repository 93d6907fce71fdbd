//! End-to-end tests of the `eventsource` binary against temporary SQLite
//! files. One test binary holds every file, so it is linked once.

mod crash;
mod dead_letters;
mod demo;
mod errors;
mod export;
mod import;
mod orders;
mod postgres;
mod projections;
mod sample;
mod service;
mod support;
