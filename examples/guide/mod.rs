//! The multi-tenant guide's domain: tasks and orders, and the guide's three
//! projections over orders. The CLI's demo and built-in projections use it,
//! and it is a template for a domain of your own.

pub mod money;
pub mod order;
pub mod projections;
pub mod task;
