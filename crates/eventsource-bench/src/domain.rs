//! The aggregate of W2's long stream: an account whose state stays small
//! however many deposits it folds, which is what a snapshot is for. (An
//! order's state grows with every item, so its snapshot would cost as much
//! to read as the events it replaces.)

use eventsource::{event_set, Aggregate, DomainEvent, SnapshotState};
use serde::{Deserialize, Serialize};

/// Money was deposited.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deposited {
    /// The amount, in cents.
    pub cents: u64,
}

impl DomainEvent for Deposited {
    const EVENT_TYPE: &'static str = "Deposited";
    const AGGREGATE_TYPE: &'static str = "Account";
}

event_set! {
    /// Everything that can happen to an account.
    pub enum AccountEvent: "Account" {
        Deposited(Deposited),
    }
}

/// An account's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// The balance, in cents.
    pub balance: u64,
    /// How many deposits it folds.
    pub deposits: u64,
}

impl Aggregate for Account {
    type Event = AccountEvent;

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Deposited(deposit) => {
                self.balance += deposit.cents;
                self.deposits += 1;
            }
        }
    }
}

impl SnapshotState for Account {}
