//! The shape of one image, the single owner of "width, height, channels" everywhere.

use serde::{Deserialize, Serialize};

/// The shape of one image: `width × height` pixels with `channels` values each (1 = gray,
/// 3 = RGB). Pixels are stored height × width × channels (HWC), row-major, one `u8` per value,
/// until the augmentation kernel; the kernel's output is `f32` NCHW of the same names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageShape {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Values per pixel (1 or 3).
    pub channels: usize,
}

impl ImageShape {
    /// A shape of `width × height` pixels with `channels` values each.
    pub const fn new(width: usize, height: usize, channels: usize) -> Self {
        Self {
            width,
            height,
            channels,
        }
    }

    /// Pixels per image (`width × height`).
    pub const fn pixels(&self) -> usize {
        self.width * self.height
    }

    /// Values (bytes, for `u8` images) per image (`width × height × channels`).
    pub const fn values(&self) -> usize {
        self.width * self.height * self.channels
    }
}

/// `WIDTHxHEIGHTxCHANNELS`, e.g. `28x28x1`.
impl std::fmt::Display for ImageShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.width, self.height, self.channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_display() {
        let s = ImageShape::new(32, 24, 3);
        assert_eq!((s.pixels(), s.values()), (768, 2304));
        assert_eq!(s.to_string(), "32x24x3");
    }
}
