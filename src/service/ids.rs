//! Deterministic identifiers: pipeline ids from a seeded generator, and unforgeable taskIds.
//!
//! A taskId is `<sequence>.<MAC>` where the MAC is an HMAC-SHA256 of the sequence number under
//! a per-run key drawn from the seed. The sequence makes lookup O(log n); the MAC makes a
//! guessed or edited id fail verification, so only ids the service issued name a lease.

use hmac::{Hmac, Mac};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::Sha256;

const PIPELINE_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Hex digits of MAC kept in a taskId (128 bits).
const MAC_HEX_LEN: usize = 32;

/// Issues pipeline ids and taskIds, all derived from one seed.
#[derive(Clone)]
pub struct IdGen {
    pipeline_rng: ChaCha8Rng,
    task_key: [u8; 32],
    /// HMAC state with the key already absorbed: cloning it saves two of the four SHA-256
    /// compressions per taskId, and taskIds are checked on every runner call.
    keyed: Hmac<Sha256>,
}

impl PartialEq for IdGen {
    fn eq(&self, other: &Self) -> bool {
        // `keyed` is a pure function of `task_key`.
        self.pipeline_rng == other.pipeline_rng && self.task_key == other.task_key
    }
}

impl Eq for IdGen {}

impl std::fmt::Debug for IdGen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key: it is what makes taskIds unforgeable.
        f.debug_struct("IdGen").finish_non_exhaustive()
    }
}

impl IdGen {
    /// A generator whose every id is determined by `seed`.
    pub fn new(seed: u64) -> IdGen {
        let mut key_rng = ChaCha8Rng::seed_from_u64(seed);
        key_rng.set_stream(1);
        let mut task_key = [0u8; 32];
        key_rng.fill_bytes(&mut task_key);
        let mut pipeline_rng = ChaCha8Rng::seed_from_u64(seed);
        pipeline_rng.set_stream(2);
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(&task_key).expect("HMAC accepts keys of any length");
        IdGen { pipeline_rng, task_key, keyed }
    }

    /// A new pipeline id: `df-` and 19 upper-case alphanumerics.
    pub fn pipeline_id(&mut self) -> String {
        let mut id = String::with_capacity(22);
        id.push_str("df-");
        for _ in 0..19 {
            let i = self.pipeline_rng.random_range(0..PIPELINE_ID_ALPHABET.len());
            id.push(PIPELINE_ID_ALPHABET[i] as char);
        }
        id
    }

    /// The taskId for lease number `seq`.
    pub fn task_id(&self, seq: u64) -> String {
        format!("{seq}.{}", self.mac(seq))
    }

    /// The lease number a taskId names, or None when the id was not issued by this service.
    pub fn verify_task_id(&self, task_id: &str) -> Option<u64> {
        let (seq, mac) = task_id.split_once('.')?;
        // Reject "+1", "01" and the like so that exactly one spelling names each lease.
        if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) || (seq.len() > 1 && seq.starts_with('0')) {
            return None;
        }
        let seq: u64 = seq.parse().ok()?;
        let expected = self.mac(seq);
        // Constant-time comparison: the MAC is the only secret in the id.
        let same = mac.len() == expected.len()
            && mac.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        same.then_some(seq)
    }

    fn mac(&self, seq: u64) -> String {
        let mut mac = self.keyed.clone();
        mac.update(&seq.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        hex::encode(&digest[..MAC_HEX_LEN / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_ids_are_well_formed_and_seeded() {
        let mut a = IdGen::new(7);
        let mut b = IdGen::new(7);
        let id = a.pipeline_id();
        assert_eq!(id, b.pipeline_id());
        assert_eq!(id.len(), 22);
        assert!(id.starts_with("df-"));
        assert!(id[3..].bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_ne!(IdGen::new(8).pipeline_id(), id);
    }

    #[test]
    fn task_ids_verify_only_when_issued_by_the_same_key() {
        let ids = IdGen::new(1);
        let t = ids.task_id(42);
        assert_eq!(ids.verify_task_id(&t), Some(42));
        assert_eq!(IdGen::new(2).verify_task_id(&t), None);
        let forged = t.replacen("42.", "43.", 1);
        assert_eq!(ids.verify_task_id(&forged), None);
        for junk in ["", ".", "42", "42.", "042.abc", "x.y", "18446744073709551616.00"] {
            assert_eq!(ids.verify_task_id(junk), None, "{junk:?}");
        }
    }
}
