//! Launching the fused kernel ([`augtrain_augment::shader::AUGMENT_WGSL`], which lives beside
//! its CPU twin in `augtrain-augment`) on burn's own wgpu device: the batch is uploaded once
//! (packed four bytes per word), the kernel writes straight into the buffer of a new burn
//! tensor, and the tensor goes to the model without a CPU round trip. Only the launch is here.
//!
//! With label masks ([`GpuAugment::run_with_masks`]) the same dispatch also reads one `u8`
//! label plane per sample and writes the warped labels into a new `i32` tensor (`n × h × w`),
//! bit-identical to [`augtrain_augment::masks::run`].

use burn::backend::wgpu::{CubeBackend, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::{Handle, KernelArguments};
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Device, Int, Shape, Tensor};

use super::AugmentError;
use super::layout::{
    H_C, H_GATHER, H_GRID_X, H_IN_H, H_IN_W, H_MASK, H_MIX, H_N, H_OUT_H, H_OUT_W,
};

/// Threads per workgroup of both kernels (`@workgroup_size` of the augmentation kernel, checked
/// by `augtrain-augment`'s tests, and of `copy.wgsl`).
pub use augtrain_augment::shader::WORKGROUP;
/// Most workgroups per dispatch dimension (WebGPU's limit).
pub const MAX_GROUPS_PER_DIM: u32 = 65_535;

struct AugmentKernel;

impl KernelSource for AugmentKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(augtrain_augment::shader::AUGMENT_WGSL)
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>()
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// An error when `n` images of `per_image` output bytes do not fit in one device buffer of
/// `limit` bytes, naming the largest batch that would.
pub fn check_fits(n: usize, per_image: u64, limit: u64) -> Result<(), AugmentError> {
    let need = n as u64 * per_image;
    if need > limit {
        let most = (limit / per_image.max(1)).max(1);
        return Err(AugmentError::BatchTooLarge(format!(
            "a batch of {n} images needs {:.0} MiB in one GPU buffer but this device allows {:.0} MiB; use --batch-size {most} or less",
            need as f64 / 1048576.0,
            limit as f64 / 1048576.0
        )));
    }
    Ok(())
}

/// The grid `(x, y)` of workgroups covering `threads` invocations: 1-D up to 65,535 groups,
/// then 2-D.
pub fn grid(threads: u64) -> (u32, u32) {
    let groups = threads.div_ceil(WORKGROUP as u64).max(1);
    let x = groups.min(MAX_GROUPS_PER_DIM as u64);
    let y = groups.div_ceil(x);
    (x as u32, y as u32)
}

/// The fused kernel bound to one wgpu device of burn.
#[derive(Clone)]
pub struct GpuAugment {
    template: CubeTensor,
    device: Device,
    /// 1-word buffers bound as the mask input and output when no masks come with the batch
    /// (the kernel never touches them then: `header[H_MASK]` is 0).
    placeholders: [Handle; 2],
}

impl GpuAugment {
    /// Prepare the kernel for `device` (a wgpu device; autodiff is stripped).
    pub fn new(device: &Device) -> Result<Self, AugmentError> {
        let inner = device.clone().inner();
        let probe = Tensor::<1>::zeros([1], &inner);
        let template = probe
            .try_into_primitive::<CubeBackend>()
            .map_err(|e| AugmentError::Gpu(format!("the device is not a wgpu device ({e:?})")))?;
        let placeholder = || template.client.create_from_slice(&[0u8; 4]);
        let placeholders = [placeholder(), placeholder()];
        Ok(Self {
            template,
            device: inner,
            placeholders,
        })
    }

    /// Largest single buffer the kernel can use on this device, in bytes: the device's own
    /// limit, and at most 4 GiB because the kernel addresses input bytes with `u32`.
    pub fn max_buffer_bytes(&self) -> u64 {
        self.template
            .client
            .properties()
            .memory
            .max_page_size
            .min(1 << 32)
    }

    /// Bytes of memory the device has, when the driver reports it.
    pub fn memory_bytes(&self) -> Option<u64> {
        self.template.client.properties().memory.max_memory()
    }

    /// Upload a batch of HWC images once (packed four bytes per word).
    pub fn upload(&self, images: &[&[u8]]) -> DeviceImages {
        let bytes: usize = images.iter().map(|i| i.len()).sum();
        let mut packed = vec![0u32; bytes.div_ceil(4).max(1)];
        {
            let dst: &mut [u8] = bytemuck::cast_slice_mut(&mut packed);
            let mut at = 0;
            for img in images {
                dst[at..at + img.len()].copy_from_slice(img);
                at += img.len();
            }
        }
        DeviceImages {
            handle: self
                .template
                .client
                .create_from_slice(bytemuck::cast_slice(&packed)),
            bytes,
        }
    }

    /// Run the kernel: `header` and `params` as built by [`super::params::Program`], `images`
    /// one HWC slice per sample. Returns the `f32` NCHW tensor on the (non-autodiff) device.
    pub fn run(
        &self,
        header: &[u32],
        params: &[u32],
        images: &[&[u8]],
    ) -> Result<Tensor<4>, AugmentError> {
        let uploaded = self.upload(images);
        self.run_uploaded(header, params, &uploaded)
    }

    /// Run the kernel on a batch of images already on the device, sample `s` being the `s`-th.
    pub fn run_uploaded(
        &self,
        header: &[u32],
        params: &[u32],
        images: &DeviceImages,
    ) -> Result<Tensor<4>, AugmentError> {
        Ok(self.launch(header, params, Pixels::Batch(images), None)?.0)
    }

    /// Run the kernel on a batch of images and their label masks (one `u8` plane of
    /// `H_IN_H × H_IN_W` labels per sample, 0 = background) in one dispatch. Returns the `f32`
    /// NCHW images and the warped labels as an `i32` tensor `n × H_OUT_H × H_OUT_W` (values
    /// 0..=255), both on the (non-autodiff) device. `header` is the program's (its `H_MASK`
    /// word is set here); mixup is refused.
    pub fn run_with_masks(
        &self,
        header: &[u32],
        params: &[u32],
        images: &[&[u8]],
        masks: &[&[u8]],
    ) -> Result<(Tensor<4>, Tensor<3, Int>), AugmentError> {
        let plane = (header[H_IN_H] * header[H_IN_W]) as usize;
        if masks.len() != images.len() || masks.iter().any(|m| m.len() != plane) {
            return Err(AugmentError::Shape(format!(
                "{} masks for {} images; each must hold {plane} labels (the image's height x width)",
                masks.len(),
                images.len()
            )));
        }
        let (images, masks) = (self.upload(images), self.upload(masks));
        self.run_uploaded_with_masks(header, params, &images, &masks)
    }

    /// [`GpuAugment::run_with_masks`] on a batch and its masks already on the device (sample
    /// `s` being the `s`-th of each).
    pub fn run_uploaded_with_masks(
        &self,
        header: &[u32],
        params: &[u32],
        images: &DeviceImages,
        masks: &DeviceImages,
    ) -> Result<(Tensor<4>, Tensor<3, Int>), AugmentError> {
        let n = header[H_N] as usize;
        let need = n * (header[H_IN_H] * header[H_IN_W]) as usize;
        if masks.bytes < need {
            return Err(AugmentError::Shape(format!(
                "the uploaded masks hold {} labels, the header needs {need}",
                masks.bytes
            )));
        }
        let (images, masks) = self.launch(header, params, Pixels::Batch(images), Some(masks))?;
        Ok((images, masks.expect("a mask tensor when masks are given")))
    }

    /// Read a mask tensor (from [`GpuAugment::run_with_masks`]) back as `u8` labels, sample
    /// after sample, row-major.
    pub fn read_labels(masks: Tensor<3, Int>) -> Result<Vec<u8>, AugmentError> {
        let values = masks
            .try_into_data()
            .map_err(|e| format!("{e:?}"))
            .and_then(|d| {
                d.convert::<i32>()
                    .try_to_vec::<i32>()
                    .map_err(|e| format!("{e:?}"))
            })
            .map_err(|e| AugmentError::Gpu(format!("reading the warped masks failed: {e}")))?;
        Ok(values.into_iter().map(|v| v as u8).collect())
    }

    /// Upload a whole set of equally sized HWC images once, to be gathered from by
    /// [`GpuAugment::run_resident`]. Fails when the set does not fit in one buffer.
    pub fn upload_resident(&self, images: &[&[u8]]) -> Result<ResidentImages, AugmentError> {
        let per_image = images.first().map_or(0, |i| i.len());
        if per_image == 0 || images.iter().any(|i| i.len() != per_image) {
            return Err(AugmentError::Shape(
                "resident images must be non-empty and all of one size".into(),
            ));
        }
        let total = (images.len() * per_image) as u64;
        if total > self.max_buffer_bytes() {
            return Err(AugmentError::BatchTooLarge(format!(
                "{} images of {per_image} bytes do not fit in one GPU buffer of {} bytes",
                images.len(),
                self.max_buffer_bytes()
            )));
        }
        Ok(ResidentImages {
            images: self.upload(images),
            per_image,
            count: images.len(),
        })
    }

    /// Run the kernel on images resident on the device: sample `s` reads the image at
    /// `slots[s]` of `resident`; only the header, the slot list and `params` are uploaded.
    pub fn run_resident(
        &self,
        header: &[u32],
        params: &[u32],
        resident: &ResidentImages,
        slots: &[u32],
    ) -> Result<Tensor<4>, AugmentError> {
        if let Some(&bad) = slots.iter().find(|&&s| s as usize >= resident.count) {
            return Err(AugmentError::Shape(format!(
                "image slot {bad} is outside the {} resident images",
                resident.count
            )));
        }
        Ok(self
            .launch(header, params, Pixels::Resident { resident, slots }, None)?
            .0)
    }

    /// Launch the kernel; with `masks`, also warp them (one label plane per sample, laid out
    /// like the pixels) into the returned `i32` tensor.
    fn launch(
        &self,
        header: &[u32],
        params: &[u32],
        pixels: Pixels<'_>,
        masks: Option<&DeviceImages>,
    ) -> Result<(Tensor<4>, Option<Tensor<3, Int>>), AugmentError> {
        if masks.is_some() && header[H_MIX] == 1 {
            return Err(AugmentError::Spec(
                "mixup blends two images and a label mask cannot be blended; remove mixup or use cutmix when masks are attached".into(),
            ));
        }
        let n = header[H_N] as usize;
        let c = header[H_C] as usize;
        let (oh, ow) = (header[H_OUT_H] as usize, header[H_OUT_W] as usize);
        let client = &self.template.client;
        let out_elems = n * c * oh * ow;
        if out_elems == 0 {
            return Err(AugmentError::Shape("empty batch".into()));
        }
        let in_per_image = (header[H_IN_H] * header[H_IN_W]) as usize * c;
        check_fits(
            n,
            ((out_elems / n) as u64 * 4).max(in_per_image as u64),
            self.max_buffer_bytes(),
        )?;
        let mut header = header.to_vec();
        header[H_MASK] = masks.is_some() as u32;
        let images = match pixels {
            Pixels::Batch(images) => {
                if images.bytes < n * in_per_image {
                    return Err(AugmentError::Shape(format!(
                        "the uploaded batch holds {} bytes, the header needs {}",
                        images.bytes,
                        n * in_per_image
                    )));
                }
                images
            }
            Pixels::Resident { resident, slots } => {
                if slots.len() != n || resident.per_image != in_per_image {
                    return Err(AugmentError::Shape(format!(
                        "{} slots of {}-byte images for a batch of {n} images of {in_per_image} bytes",
                        slots.len(),
                        resident.per_image
                    )));
                }
                header[H_GATHER] = 1;
                header.extend_from_slice(slots);
                &resident.images
            }
        };
        let (gx, gy) = grid((n * oh * ow) as u64);
        header[H_GRID_X] = gx;
        let params = if params.is_empty() {
            &[0u32][..]
        } else {
            params
        };
        let h_header = client.create_from_slice(bytemuck::cast_slice(&header));
        let h_params = client.create_from_slice(bytemuck::cast_slice(params));
        let h_out = client.empty(out_elems * std::mem::size_of::<f32>());
        let out = CubeTensor::new_contiguous(
            client.clone(),
            self.template.device.clone(),
            Shape::new([n, c, oh, ow]),
            h_out.clone(),
            DType::F32,
        );
        let (mask_in, mask_out) = match masks {
            Some(m) => (m.handle.clone(), client.empty(n * oh * ow * 4)),
            None => (self.placeholders[0].clone(), self.placeholders[1].clone()),
        };
        let labels = masks.map(|_| {
            Tensor::<3, Int>::from_primitive::<CubeBackend>(CubeTensor::new_contiguous(
                client.clone(),
                self.template.device.clone(),
                Shape::new([n, oh, ow]),
                mask_out.clone(),
                DType::I32,
            ))
        });
        client.launch(
            Box::new(SourceKernel::new(AugmentKernel, CubeDim::new_1d(WORKGROUP))),
            CubeCount::Static(gx, gy, 1),
            KernelArguments::new().with_buffers(vec![
                h_header.binding(),
                h_params.binding(),
                images.handle.clone().binding(),
                h_out.binding(),
                mask_in.binding(),
                mask_out.binding(),
            ]),
        );
        Ok((Tensor::<4>::from_primitive::<CubeBackend>(out), labels))
    }

    /// Allocate a device buffer of `bytes` (rounded up to 16) for bandwidth probes.
    pub fn buffer(&self, bytes: usize) -> DeviceImages {
        let bytes = bytes.div_ceil(16) * 16;
        DeviceImages {
            handle: self.template.client.create_from_slice(&vec![0u8; bytes]),
            bytes,
        }
    }

    /// Copy `src` into `dst` on the device with `copy.wgsl` (16 bytes per invocation).
    pub fn copy(&self, src: &DeviceImages, dst: &DeviceImages) {
        let n = (src.bytes.min(dst.bytes) / 16) as u64;
        let (gx, gy) = grid(n);
        let client = &self.template.client;
        let info = client.create_from_slice(bytemuck::cast_slice(&[n as u32, gx]));
        client.launch(
            Box::new(SourceKernel::new(CopyKernel, CubeDim::new_1d(WORKGROUP))),
            CubeCount::Static(gx, gy, 1),
            KernelArguments::new().with_buffers(vec![
                info.binding(),
                src.handle.clone().binding(),
                dst.handle.clone().binding(),
            ]),
        );
    }

    /// Read a device buffer back to the host (its meaningful `bytes` only); waits for the work
    /// writing it and reports a failed launch that wrote it.
    pub fn read(&self, images: &DeviceImages) -> Result<Vec<u8>, AugmentError> {
        let bytes = self
            .template
            .client
            .read_one(images.handle.clone())
            .map_err(|e| AugmentError::Gpu(format!("reading a device buffer failed: {e:?}")))?;
        Ok(bytes[..images.bytes].to_vec())
    }

    /// Wait for all queued GPU work.
    pub fn sync(&self) -> Result<(), AugmentError> {
        self.device
            .sync()
            .map_err(|e| AugmentError::Gpu(format!("device sync failed: {e:?}")))
    }
}

/// Where the kernel reads a batch's pixels.
enum Pixels<'a> {
    /// The batch's own images, sample `s` being the `s`-th.
    Batch(&'a DeviceImages),
    /// A resident set; sample `s` reads image `slots[s]`.
    Resident {
        resident: &'a ResidentImages,
        slots: &'a [u32],
    },
}

/// A set of equally sized `u8` HWC images resident on the device (uploaded once per run),
/// gathered from by sample slot.
#[derive(Clone)]
pub struct ResidentImages {
    images: DeviceImages,
    /// Bytes per image.
    pub per_image: usize,
    /// Number of images.
    pub count: usize,
}

impl ResidentImages {
    /// Bytes held on the device.
    pub fn bytes(&self) -> usize {
        self.images.bytes
    }
}

/// A buffer of `u8` pixels (or any bytes) resident on the device.
#[derive(Clone)]
pub struct DeviceImages {
    handle: Handle,
    /// Meaningful bytes in the buffer.
    pub bytes: usize,
}

struct CopyKernel;

impl KernelSource for CopyKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(include_str!("copy.wgsl"))
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
    fn oversized_batches_are_refused_with_a_smaller_batch_suggested() {
        assert!(check_fits(10, 100, 1000).is_ok());
        let e = check_fits(11, 100, 1000).unwrap_err().to_string();
        assert!(e.contains("--batch-size 10 or less"), "{e}");
    }

    #[test]
    fn grid_switches_to_two_dimensions() {
        assert_eq!(grid(1), (1, 1));
        assert_eq!(grid(256 * 65_535), (65_535, 1));
        assert_eq!(grid(256 * 65_535 + 1), (65_535, 2));
    }
}
