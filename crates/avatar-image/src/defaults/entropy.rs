//! Numbers drawn from the hash: each generator gets its own independent, deterministic stream.

use avatar_proto::AvatarHash;
use sha2::{Digest as _, Sha256};

/// Numbers drawn from SHA-256(salt, hash): each generator gets its own independent stream.
pub(crate) struct Entropy {
    bytes: [u8; 32],
    position: usize,
}

impl Entropy {
    /// The stream for the generator named `salt` and `hash`.
    pub(crate) fn new(salt: &[u8], hash: &AvatarHash) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(salt);
        hasher.update(hash.as_bytes());
        Self {
            bytes: hasher.finalize().into(),
            position: 0,
        }
    }

    /// The next byte of the stream.
    pub(crate) fn byte(&mut self) -> u8 {
        if self.position == 32 {
            self.bytes = Sha256::digest(self.bytes).into();
            self.position = 0;
        }
        let byte = self.bytes[self.position];
        self.position += 1;
        byte
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let value = u16::from_be_bytes([self.byte(), self.byte()]);
        usize::from(value) % n
    }

    /// A number in `0.0..1.0` (16 bits of resolution).
    pub(crate) fn unit(&mut self) -> f32 {
        f32::from(u16::from_be_bytes([self.byte(), self.byte()])) / 65536.0
    }

    /// A number in `from..to`.
    pub(crate) fn range(&mut self, from: f32, to: f32) -> f32 {
        from + (to - from) * self.unit()
    }

    /// A coin toss.
    pub(crate) fn bit(&mut self) -> bool {
        self.byte() & 1 == 1
    }
}
