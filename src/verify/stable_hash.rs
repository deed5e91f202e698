//! Hashes that mean the same on every machine, for what `verify` writes to disk and merges
//! across machines (state hashes, a search's fingerprint).
//!
//! `std`'s `DefaultHasher` and the `Hash` impls it is fed through are free to change between
//! Rust releases (and `usize` changes size between targets), so two CI machines on different
//! toolchains could merge shards that do not agree. Here dpsim encodes every value to bytes
//! itself (integers as fixed-width little-endian, strings and byte runs prefixed with their
//! length as a `u64`, an `Option` as a tag byte) and hashes the bytes with SHA-256, whose output
//! is fixed by its specification (FIPS 180-4); a hash is the digest's first 8 bytes, read
//! little-endian. The `sha2` crate is RustCrypto's, already used for SigV4.

use sha2::{Digest, Sha256};

/// A SHA-256 over values dpsim encodes itself.
pub(crate) struct StableHasher(Sha256);

impl StableHasher {
    /// A hasher for one kind of hash: `domain` is hashed first, so that two kinds never meet.
    pub(crate) fn new(domain: &str) -> StableHasher {
        let mut h = StableHasher(Sha256::new());
        h.str(domain);
        h
    }

    /// An integer, as 8 little-endian bytes.
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.0.update(v.to_le_bytes());
        self
    }

    /// An optional integer: a tag byte (0 none, 1 some), then the integer.
    pub(crate) fn opt_u64(&mut self, v: Option<u64>) -> &mut Self {
        match v {
            None => self.0.update([0]),
            Some(v) => {
                self.0.update([1]);
                self.u64(v);
            }
        }
        self
    }

    /// A run of bytes, prefixed with its length.
    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.u64(b.len() as u64);
        self.0.update(b);
        self
    }

    /// A string, as its UTF-8 bytes prefixed with their length.
    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// The hash: the digest's first 8 bytes, little-endian.
    pub(crate) fn finish(self) -> u64 {
        let digest = self.0.finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("SHA-256 gives 32 bytes"))
    }
}

/// Streams raw bytes into the hash (for a serializer writing a self-delimiting encoding, such
/// as one JSON value); use [`StableHasher::bytes`] for anything that is not self-delimiting.
impl std::io::Write for StableHasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::StableHasher;

    /// The encoding and the hash are fixed: these values are the same on every machine and
    /// toolchain. (Computed independently: `printf` of the bytes piped to `sha256sum`.)
    #[test]
    fn known_inputs_give_known_hashes() {
        // The bytes: u64 LE 3, "abc", then u64 LE 7, then tag 1 and u64 LE 9, then tag 0.
        let mut h = StableHasher::new("abc");
        h.u64(7).opt_u64(Some(9)).opt_u64(None);
        assert_eq!(h.finish(), 0x9951_066d_12c4_a9c9);
    }
}
