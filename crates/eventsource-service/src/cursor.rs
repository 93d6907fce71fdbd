//! Audit log cursors that do not show global feed positions.
//!
//! The audit log pages through the global feed, so its natural cursor is a
//! feed position. Positions count every tenant's events, though: two
//! positions of one tenant would tell it how many events other tenants
//! wrote in between. A cursor is therefore the position passed through a
//! keyed permutation of 64-bit numbers (a four-round Feistel network whose
//! round function is HMAC-SHA256): without the key, cursors are unrelated
//! random-looking numbers, and comparing two says nothing about the
//! distance between them.
//!
//! The key is random per [`CursorSeal`] unless given: cursors then stay
//! valid for the life of the process only. Services behind a load balancer
//! share a key ([`CursorSeal::from_key`]).

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

const ROUNDS: u8 = 4;

/// Seals and opens audit log cursors. Cheap to clone.
#[derive(Clone)]
pub struct CursorSeal {
    key: Arc<[u8; 32]>,
}

impl fmt::Debug for CursorSeal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CursorSeal").finish_non_exhaustive()
    }
}

impl CursorSeal {
    /// A seal with a random key.
    pub fn random() -> Self {
        // Two v4 UUIDs come from the operating system's random source;
        // their 244 random bits are plenty for a key that only hides
        // positions.
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(Uuid::new_v4().as_bytes());
        Self::from_key(key)
    }

    /// A seal with a given key, for cursors that several processes share
    /// or that outlive a restart.
    pub fn from_key(key: [u8; 32]) -> Self {
        Self { key: Arc::new(key) }
    }

    /// The cursor for a feed position: 16 hexadecimal digits.
    pub fn seal(&self, position: u64) -> String {
        let (mut left, mut right) = ((position >> 32) as u32, position as u32);
        for round in 0..ROUNDS {
            (left, right) = (right, left ^ self.round(round, right));
        }
        format!("{:016x}", (u64::from(left) << 32) | u64::from(right))
    }

    /// The position a cursor stands for; `None` for text that is not a
    /// cursor.
    pub fn open(&self, cursor: &str) -> Option<u64> {
        if cursor.len() != 16 || !cursor.bytes().all(|digit| digit.is_ascii_hexdigit()) {
            return None;
        }
        let sealed = u64::from_str_radix(cursor, 16).ok()?;
        let (mut left, mut right) = ((sealed >> 32) as u32, sealed as u32);
        for round in (0..ROUNDS).rev() {
            (left, right) = (right ^ self.round(round, left), left);
        }
        Some((u64::from(left) << 32) | u64::from(right))
    }

    fn round(&self, round: u8, half: u32) -> u32 {
        // HMAC accepts keys of any length: `new_from_slice` cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_slice())
            .expect("HMAC takes a key of any length");
        mac.update(&[round]);
        mac.update(&half.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_position_opens_to_itself() {
        let seal = CursorSeal::random();
        for position in [0, 1, 2, 41, 42, 1 << 32, u64::MAX - 1, u64::MAX] {
            assert_eq!(seal.open(&seal.seal(position)), Some(position), "{position}");
        }
    }

    #[test]
    fn neighbouring_positions_give_unrelated_cursors() {
        let seal = CursorSeal::from_key([7; 32]);
        let (a, b) = (seal.seal(1000), seal.seal(1001));
        let differing_digits = a.chars().zip(b.chars()).filter(|(x, y)| x != y).count();
        assert!(differing_digits > 8, "{a} {b}");
    }

    #[test]
    fn another_key_opens_a_cursor_to_another_position() {
        let cursor = CursorSeal::from_key([1; 32]).seal(5);
        assert_ne!(CursorSeal::from_key([2; 32]).open(&cursor), Some(5));
    }

    #[test]
    fn text_that_is_not_a_cursor_does_not_open() {
        let seal = CursorSeal::random();
        for text in [
            "",
            "12",
            "zzzzzzzzzzzzzzzz",
            "00000000000000000",
            "-000000000000001",
            "+00000000000000f",
        ] {
            assert_eq!(seal.open(text), None, "{text}");
        }
    }
}
