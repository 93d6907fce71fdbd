//! The sizes of each workload, at the scale of the benchmark's definition
//! (`full`) or at a smoke-test scale (`small`).

use anyhow::bail;

/// Workload sizes.
#[derive(Clone, Debug)]
pub struct Scale {
    /// `small` or `full`.
    pub name: &'static str,
    /// W1: tenants, each saving `aggregates_per_tenant` orders.
    pub append_tenants: usize,
    /// W1: orders per tenant; each order is 10 events, saved at once.
    pub aggregates_per_tenant: usize,
    /// W2: the events of the long stream.
    pub long_stream_events: u64,
    /// W2: events per save while the long stream is built.
    pub long_stream_chunk: u64,
    /// W3–W5: tenants of the data set; each holds 1,000 events.
    pub dataset_tenants: usize,
}

/// Events of one order: created, eight items, shipped.
pub const EVENTS_PER_ORDER: usize = 10;

/// Events per tenant in the data set of W3–W5: 80 orders of 10 events and
/// 100 tasks of 2.
pub const DATASET_EVENTS_PER_TENANT: usize = 1_000;

impl Scale {
    /// The scale of that name.
    pub fn named(name: &str) -> anyhow::Result<Self> {
        match name {
            "full" => Ok(Self {
                name: "full",
                append_tenants: 1_000,
                aggregates_per_tenant: 10,
                long_stream_events: 100_000,
                long_stream_chunk: 1_000,
                dataset_tenants: 1_000,
            }),
            "small" => Ok(Self {
                name: "small",
                append_tenants: 50,
                aggregates_per_tenant: 10,
                long_stream_events: 10_000,
                long_stream_chunk: 1_000,
                dataset_tenants: 20,
            }),
            other => bail!("unknown scale {other:?} (small or full)"),
        }
    }

    /// W1's events in all.
    pub fn append_events(&self) -> usize {
        self.append_tenants * self.aggregates_per_tenant * EVENTS_PER_ORDER
    }
}
