//! Deterministic `x-amzn-RequestId` values: UUID-shaped, drawn from a seeded generator.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Issues request ids; the same seed gives the same sequence.
#[derive(Clone, Debug)]
pub struct RequestIds(ChaCha8Rng);

impl RequestIds {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> RequestIds {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // A stream of its own, so request ids never mirror pipeline ids drawn from the same seed.
        rng.set_stream(3);
        RequestIds(rng)
    }

    /// The next id, formatted like a version-4 UUID.
    pub fn next_id(&mut self) -> String {
        let mut b = [0u8; 16];
        self.0.fill_bytes(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        // Written straight into one string: every response carries one.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = String::with_capacity(36);
        for (i, byte) in b.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                id.push('-');
            }
            id.push(HEX[usize::from(byte >> 4)] as char);
            id.push(HEX[usize::from(byte & 15)] as char);
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_shaped_and_seeded() {
        let a = RequestIds::new(5).next_id();
        assert_eq!(a, RequestIds::new(5).next_id());
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, RequestIds::new(6).next_id());
    }
}
