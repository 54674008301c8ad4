//! A training set's images resident on the device in one or several buffers. One buffer holds
//! less than 2 GiB: wgpu-hal clamps a storage binding to `i32::MAX` bytes on Vulkan and DX12
//! (`MAX_I32_BINDING_SIZE`), whatever the card. A set in one part is gathered from by the
//! fused kernel directly; a set in several parts first has the batch's images gathered into
//! one batch buffer by `gather.wgsl` (one launch per part holding a slot of the batch).

use burn::backend::wgpu::{KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};

use super::{AugmentError, DeviceImages, GpuAugment, WORKGROUP, grid};

/// Largest part of a resident set, in bytes, under a device limit of `limit` bytes per buffer:
/// the limit rounded down to a whole MiB (to 256 bytes below 1 MiB), so that the allocator's
/// rounding up (to its alignment, and to whole 4-byte words for the packed upload) can never
/// push a part past the limit: a part of `2^31 - 1 - 2` bytes would pass a check against
/// `i32::MAX` and then be refused once rounded up.
pub fn part_limit(limit: u64) -> u64 {
    if limit >= 1 << 20 {
        limit & !((1 << 20) - 1)
    } else {
        limit & !255
    }
}

/// A set of equally sized `u8` HWC images resident on the device (uploaded once per run), in
/// parts of `per_part` images, gathered from by sample slot.
#[derive(Clone)]
pub struct ResidentImages {
    parts: Vec<DeviceImages>,
    per_part: usize,
    /// Bytes per image.
    pub per_image: usize,
    /// Number of images.
    pub count: usize,
}

impl ResidentImages {
    /// Bytes held on the device.
    pub fn bytes(&self) -> usize {
        self.parts.iter().map(|p| p.bytes).sum()
    }

    /// Device buffers the set is held in.
    pub fn parts(&self) -> usize {
        self.parts.len()
    }

    /// The single buffer of a one-part set (gathered from directly by the fused kernel).
    pub(super) fn single(&self) -> Option<&DeviceImages> {
        (self.parts.len() == 1).then(|| &self.parts[0])
    }
}

impl GpuAugment {
    /// Upload a whole set of equally sized HWC images once, to be gathered from by
    /// [`GpuAugment::run_resident`], in as few parts as the device's largest buffer allows
    /// (see [`part_limit`]).
    pub fn upload_resident(&self, images: &[&[u8]]) -> Result<ResidentImages, AugmentError> {
        self.upload_resident_in_parts(images, part_limit(self.max_buffer_bytes()))
    }

    /// [`GpuAugment::upload_resident`] with parts of at most `part_bytes` bytes (whole
    /// images; at least one per part).
    pub fn upload_resident_in_parts(
        &self,
        images: &[&[u8]],
        part_bytes: u64,
    ) -> Result<ResidentImages, AugmentError> {
        let per_image = images.first().map_or(0, |i| i.len());
        if per_image == 0 || images.iter().any(|i| i.len() != per_image) {
            return Err(AugmentError::Shape(
                "resident images must be non-empty and all of one size".into(),
            ));
        }
        if per_image as u64 > part_limit(self.max_buffer_bytes()) {
            return Err(AugmentError::BatchTooLarge(format!(
                "one image of {per_image} bytes does not fit in one GPU buffer of {} bytes",
                self.max_buffer_bytes()
            )));
        }
        let per_part = ((part_bytes / per_image as u64).max(1) as usize).min(images.len());
        let parts = images.chunks(per_part).map(|c| self.upload(c)).collect();
        Ok(ResidentImages {
            parts,
            per_part,
            per_image,
            count: images.len(),
        })
    }

    /// The batch of `slots` gathered from a several-part set into one buffer, on the device.
    pub(super) fn gather(&self, resident: &ResidentImages, slots: &[u32]) -> DeviceImages {
        let client = &self.template.client;
        let total = slots.len() * resident.per_image;
        let dst = DeviceImages {
            handle: client.empty(total.div_ceil(4).max(1) * 4),
            bytes: total,
        };
        let words = total.div_ceil(4) as u64;
        let (gx, gy) = grid(words);
        let h_slots = client.create_from_slice(bytemuck::cast_slice(slots));
        for (p, part) in resident.parts.iter().enumerate() {
            let first = p * resident.per_part;
            let count = part.bytes / resident.per_image;
            let holds = |s: &u32| (first..first + count).contains(&(*s as usize));
            if !slots.iter().any(holds) {
                continue;
            }
            let info = [
                words as u32,
                resident.per_image as u32,
                first as u32,
                count as u32,
                total as u32,
                gx,
            ];
            client.launch(
                Box::new(SourceKernel::new(GatherKernel, CubeDim::new_1d(WORKGROUP))),
                CubeCount::Static(gx, gy, 1),
                KernelArguments::new().with_buffers(vec![
                    client
                        .create_from_slice(bytemuck::cast_slice(&info))
                        .binding(),
                    h_slots.clone().binding(),
                    part.handle.clone().binding(),
                    dst.handle.clone().binding(),
                ]),
            );
        }
        dst
    }
}

struct GatherKernel;

impl KernelSource for GatherKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(include_str!("../gather.wgsl"))
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>()
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_stay_below_the_binding_limit_after_rounding() {
        let vulkan = (1u64 << 31) - 1;
        let p = part_limit(vulkan);
        assert_eq!(p, (1 << 31) - (1 << 20));
        // Rounded up to 4-byte words and to a 256-byte alignment, still under the limit.
        assert!(p.div_ceil(256) * 256 <= vulkan);
        // Whole images of 150,528 bytes (224x224x3): 14,259 per part.
        assert_eq!(p / 150_528, 14_259);
        assert_eq!(part_limit(128 << 20), 128 << 20);
        assert_eq!(part_limit(1000), 768);
    }
}
