//! Resource limits for untrusted images.

/// What an image may cost before it is refused. The defaults suit avatars from strangers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted file, in bytes. Default 8 MiB.
    pub max_input_bytes: usize,
    /// Longest accepted side, in pixels. Default 8192.
    pub max_side: u32,
    /// Most memory the decoded pixels may take, over all frames, in bytes. Default 256 MiB.
    pub max_decoded_bytes: u64,
    /// Most frames an animation may have. Default 300.
    pub max_frames: u32,
    /// Side of the master an upload is stored as when it is larger (see [`crate::prepare`]),
    /// in pixels: renders never decode more than this square, whatever was uploaded. Keep it
    /// at least the largest size served. Default 512, the Libravatar maximum.
    pub master_side: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Limits {
    /// The defaults, usable in constants (such as a web framework's body limit derived from
    /// `max_input_bytes`).
    pub const DEFAULT: Self = Self {
        max_input_bytes: 8 << 20,
        max_side: 8192,
        max_decoded_bytes: 256 << 20,
        max_frames: 300,
        master_side: 512,
    };

    pub(crate) fn for_image_crate(&self) -> image::Limits {
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(self.max_side);
        limits.max_image_height = Some(self.max_side);
        limits.max_alloc = Some(self.max_decoded_bytes);
        limits
    }
}
