//! Launching the fused kernel ([`augtrain_augment::shader::AUGMENT_WGSL`], which lives beside
//! its CPU twin in `augtrain-augment`) on burn's own wgpu device: the batch is uploaded once
//! (packed four bytes per word), the kernel writes straight into the buffer of a new burn
//! tensor, and the tensor goes to the model without a CPU round trip. Only the launch is here;
//! the buffer becomes a tensor of burn's fused backend through [`fused`].
//!
//! With label masks ([`GpuAugment::run_with_masks`]) the same dispatch also reads one `u8`
//! label plane per sample and writes the warped labels into a new `i32` tensor (`n × h × w`),
//! bit-identical to [`augtrain_augment::masks::run`].
//!
//! Every launch runs the kernel specialised for its [`Variant`] (channels, interpolation,
//! border, mixing, masks, gathering, op kinds present; see `augtrain_augment::variant`): the
//! variant's key is part of the kernel id, so cubecl compiles each variant once per device and
//! reuses its pipeline. The kernel runs unchecked (no naga bounds checks, no loop bounding):
//! [`Variant::of_launch`] and the buffer checks here validate every index it reads.

use burn::backend::wgpu::{CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use std::collections::BTreeMap;
use std::sync::Mutex;

use augtrain_augment::variant::Variant;
use burn::cubecl::prelude::{ExecutionMode, KernelId};
use burn::cubecl::profile::TimingMethod;
use burn::cubecl::server::{Handle, KernelArguments};
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Device, Int, Shape, Tensor};

use super::AugmentError;
use super::layout::{
    H_C, H_GATHER, H_GRID_X, H_IN_H, H_IN_W, H_MASK, H_MIX, H_N, H_OUT_H, H_OUT_W,
};

mod fused;
mod resident;
pub use resident::{ResidentImages, part_limit};

/// Threads per workgroup of both kernels (`@workgroup_size` of the augmentation kernel, checked
/// by `augtrain-augment`'s tests, and of `copy.wgsl`).
pub use augtrain_augment::shader::WORKGROUP;
/// Most workgroups per dispatch dimension (WebGPU's limit).
pub const MAX_GROUPS_PER_DIM: u32 = 65_535;

/// The fused kernel specialised for one variant.
struct AugmentKernel(Variant);

/// How many times each variant's source was handed to a compiler in this process (cubecl
/// asks for it only when the variant's id is not in the device's pipeline cache).
static COMPILED: Mutex<BTreeMap<u32, usize>> = Mutex::new(BTreeMap::new());

/// How many times the kernel of `variant` has been compiled in this process (once per device
/// that ran it: later launches reuse the pipeline).
pub fn compilations(variant: &Variant) -> usize {
    let compiled = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    compiled.get(&variant.key()).copied().unwrap_or(0)
}

impl KernelSource for AugmentKernel {
    fn source(&self) -> SourceTemplate {
        let mut compiled = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
        *compiled.entry(self.0.key()).or_default() += 1;
        SourceTemplate::new(self.0.source())
    }

    /// One id per variant. Unchecked: only loop bounding depends on the mode for a WGSL
    /// source kernel (naga's bounds checks are off in both), every loop of the kernel ends,
    /// and the host validates every index (see `augment.wgsl`).
    fn id(&self) -> KernelId {
        KernelId::new::<Self>()
            .info(self.0.key())
            .mode(ExecutionMode::Unchecked)
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

/// An error when the uploaded `masks` hold fewer labels than `header`'s batch needs.
fn check_mask_bytes(header: &[u32], masks: &DeviceImages) -> Result<(), AugmentError> {
    let need = header[H_N] as usize * (header[H_IN_H] * header[H_IN_W]) as usize;
    if masks.bytes < need {
        return Err(AugmentError::Shape(format!(
            "the uploaded masks hold {} labels, the header needs {need}",
            masks.bytes
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
        let template = fused::cube_tensor(probe)
            .map_err(|e| AugmentError::Gpu(format!("the device is not a wgpu device ({e})")))?;
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
        check_mask_bytes(header, masks)?;
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
        let pixels = match resident.single() {
            Some(images) => Pixels::Resident {
                images,
                per_image: resident.per_image,
                slots,
            },
            None => {
                let gathered = self.gather(resident, slots);
                return Ok(self
                    .launch(header, params, Pixels::Batch(&gathered), None)?
                    .0);
            }
        };
        Ok(self.launch(header, params, pixels, None)?.0)
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
        let prepared = self.bind(header, params, pixels, masks)?;
        self.dispatch(&prepared);
        let client = &self.template.client;
        let [n, c, oh, ow] = prepared.shape;
        let out = CubeTensor::new_contiguous(
            client.clone(),
            self.template.device.clone(),
            Shape::new([n, c, oh, ow]),
            prepared.out.clone(),
            DType::F32,
        );
        let labels = masks.map(|_| {
            fused::int_tensor(CubeTensor::new_contiguous(
                client.clone(),
                self.template.device.clone(),
                Shape::new([n, oh, ow]),
                prepared.mask_out.clone(),
                DType::I32,
            ))
        });
        Ok((fused::float_tensor(out), labels))
    }

    /// Upload everything one launch on `images` (and `masks`) needs and allocate its outputs,
    /// without launching: [`GpuAugment::dispatch`] then only binds and dispatches, so a
    /// benchmark can time launches with nothing drawn, packed or uploaded in between.
    pub fn prepare(
        &self,
        header: &[u32],
        params: &[u32],
        images: &DeviceImages,
        masks: Option<&DeviceImages>,
    ) -> Result<PreparedLaunch, AugmentError> {
        if let Some(m) = masks {
            check_mask_bytes(header, m)?;
        }
        self.bind(header, params, Pixels::Batch(images), masks)
    }

    /// Queue one launch prepared by [`GpuAugment::prepare`] (no upload, no submit of its own).
    pub fn dispatch(&self, l: &PreparedLaunch) {
        self.template.client.launch(
            Box::new(SourceKernel::new(
                AugmentKernel(l.variant),
                CubeDim::new_1d(WORKGROUP),
            )),
            CubeCount::Static(l.grid.0, l.grid.1, 1),
            KernelArguments::new().with_buffers(vec![
                l.header.clone().binding(),
                l.params.clone().binding(),
                l.images.clone().binding(),
                l.out.clone().binding(),
                l.mask_in.clone().binding(),
                l.mask_out.clone().binding(),
            ]),
        );
    }

    /// The `f32` NCHW output of a prepared launch, read back (waits for it).
    pub fn read_output(&self, l: &PreparedLaunch) -> Result<Vec<f32>, AugmentError> {
        let bytes = self.read_handle(&l.out, l.shape.iter().product::<usize>() * 4)?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// The warped labels of a prepared launch with masks, read back as `u8` (waits for it).
    pub fn read_output_labels(&self, l: &PreparedLaunch) -> Result<Vec<u8>, AugmentError> {
        let [n, _, oh, ow] = l.shape;
        let bytes = self.read_handle(&l.mask_out, n * oh * ow * 4)?;
        let words: Vec<i32> = bytemuck::pod_collect_to_vec(&bytes);
        Ok(words.into_iter().map(|v| v as u8).collect())
    }

    /// Check a launch's inputs against its header, upload the header and the parameters,
    /// allocate the outputs.
    fn bind(
        &self,
        header: &[u32],
        params: &[u32],
        pixels: Pixels<'_>,
        masks: Option<&DeviceImages>,
    ) -> Result<PreparedLaunch, AugmentError> {
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
        let images = pixels.check(n, in_per_image, &mut header)?;
        let (gx, gy) = grid((n * oh * ow) as u64);
        header[H_GRID_X] = gx;
        let variant = Variant::of_launch(&header, params)?;
        let params = if params.is_empty() {
            &[0u32][..]
        } else {
            params
        };
        let (mask_in, mask_out) = match masks {
            Some(m) => (m.handle.clone(), client.empty(n * oh * ow * 4)),
            None => (self.placeholders[0].clone(), self.placeholders[1].clone()),
        };
        Ok(PreparedLaunch {
            header: client.create_from_slice(bytemuck::cast_slice(&header)),
            params: client.create_from_slice(bytemuck::cast_slice(params)),
            images: images.handle.clone(),
            out: client.empty(out_elems * std::mem::size_of::<f32>()),
            mask_in,
            mask_out,
            grid: (gx, gy),
            shape: [n, c, oh, ow],
            variant,
        })
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
        self.dispatch_copy(&self.prepare_copy(src, dst));
    }

    /// Upload what a copy of `src` into `dst` needs (its 8-byte info), without launching.
    pub fn prepare_copy(&self, src: &DeviceImages, dst: &DeviceImages) -> PreparedCopy {
        let n = (src.bytes.min(dst.bytes) / 16) as u64;
        let grid = grid(n);
        let info = [n as u32, grid.0];
        PreparedCopy {
            info: self
                .template
                .client
                .create_from_slice(bytemuck::cast_slice(&info)),
            src: src.handle.clone(),
            dst: dst.handle.clone(),
            grid,
            bytes: n as usize * 16,
        }
    }

    /// Queue a copy prepared by [`GpuAugment::prepare_copy`].
    pub fn dispatch_copy(&self, c: &PreparedCopy) {
        self.template.client.launch(
            Box::new(SourceKernel::new(CopyKernel, CubeDim::new_1d(WORKGROUP))),
            CubeCount::Static(c.grid.0, c.grid.1, 1),
            KernelArguments::new().with_buffers(vec![
                c.info.clone().binding(),
                c.src.clone().binding(),
                c.dst.clone().binding(),
            ]),
        );
    }

    /// Read a device buffer back to the host (its meaningful `bytes` only); waits for the work
    /// writing it and reports a failed launch that wrote it.
    pub fn read(&self, images: &DeviceImages) -> Result<Vec<u8>, AugmentError> {
        self.read_handle(&images.handle, images.bytes)
    }

    fn read_handle(&self, handle: &Handle, bytes: usize) -> Result<Vec<u8>, AugmentError> {
        let all = self
            .template
            .client
            .read_one(handle.clone())
            .map_err(|e| AugmentError::Gpu(format!("reading a device buffer failed: {e:?}")))?;
        Ok(all[..bytes.min(all.len())].to_vec())
    }

    /// Run `queue` (which should only queue launches) inside one of cubecl's profile windows
    /// and return the seconds the device spent on what it queued, with how they were measured:
    /// `device timestamps` (the adapter has `TIMESTAMP_QUERY`: from the start of the window's
    /// first compute pass to the end of its last) or `host clock` (cubecl syncs before and
    /// after the window).
    pub fn profile(
        &self,
        queue: impl FnOnce() + Send,
    ) -> Result<(f64, &'static str), AugmentError> {
        let (_, duration) = self
            .template
            .client
            .profile(queue, "augtrain bench")
            .map_err(|e| AugmentError::Gpu(format!("profiling the launches failed: {e:?}")))?;
        let how = match duration.timing_method() {
            TimingMethod::Device => "device timestamps",
            TimingMethod::System => "host clock",
        };
        let ticks = pollster::block_on(duration.resolve())
            .ok_or_else(|| AugmentError::Gpu("the profile window carried no measurement".into()))?;
        Ok((ticks.duration().as_secs_f64(), how))
    }

    /// How [`GpuAugment::profile`] measures on this device: `device timestamps` or `host clock`.
    pub fn timing_method(&self) -> &'static str {
        match self.template.client.properties().timing_method {
            TimingMethod::Device => "device timestamps",
            TimingMethod::System => "host clock",
        }
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
    /// A one-buffer resident set of `per_image`-byte images; sample `s` reads image
    /// `slots[s]`.
    Resident {
        images: &'a DeviceImages,
        per_image: usize,
        slots: &'a [u32],
    },
}

impl<'a> Pixels<'a> {
    /// The buffer the kernel reads for a batch of `n` images of `in_per_image` bytes, after
    /// checking it holds them; a resident gather appends its slots to `header`.
    fn check(
        self,
        n: usize,
        in_per_image: usize,
        header: &mut Vec<u32>,
    ) -> Result<&'a DeviceImages, AugmentError> {
        match self {
            Pixels::Batch(images) => {
                if images.bytes < n * in_per_image {
                    return Err(AugmentError::Shape(format!(
                        "the uploaded batch holds {} bytes, the header needs {}",
                        images.bytes,
                        n * in_per_image
                    )));
                }
                Ok(images)
            }
            Pixels::Resident {
                images,
                per_image,
                slots,
            } => {
                if slots.len() != n || per_image != in_per_image {
                    return Err(AugmentError::Shape(format!(
                        "{} slots of {per_image}-byte images for a batch of {n} images of {in_per_image} bytes",
                        slots.len(),
                    )));
                }
                header[H_GATHER] = 1;
                header.extend_from_slice(slots);
                Ok(images)
            }
        }
    }
}

/// One launch of the fused kernel with every buffer on the device (from
/// [`GpuAugment::prepare`]): header, parameters, pixels, output, mask planes, grid.
#[derive(Clone)]
pub struct PreparedLaunch {
    header: Handle,
    params: Handle,
    images: Handle,
    out: Handle,
    mask_in: Handle,
    mask_out: Handle,
    grid: (u32, u32),
    /// Output shape `[n, c, out_h, out_w]`.
    pub shape: [usize; 4],
    /// The kernel variant it runs.
    pub variant: Variant,
}

impl PreparedLaunch {
    /// The id cubecl caches this launch's compiled pipeline under (one per variant).
    pub fn kernel_id(&self) -> KernelId {
        AugmentKernel(self.variant).id()
    }
}

/// A buffer of `u8` pixels (or any bytes) resident on the device.
#[derive(Clone)]
pub struct DeviceImages {
    handle: Handle,
    /// Meaningful bytes in the buffer.
    pub bytes: usize,
}

/// A copy with its info buffer on the device (from [`GpuAugment::prepare_copy`]).
#[derive(Clone)]
pub struct PreparedCopy {
    info: Handle,
    src: Handle,
    dst: Handle,
    grid: (u32, u32),
    /// Bytes copied.
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
