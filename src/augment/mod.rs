//! Augmentation on the training device: the fused WGSL kernel ([`gpu`]) or the CPU twin
//! (from `augtrain-augment`, re-exported here with the spec and parameters), producing burn
//! tensors.
//!
//! Flow for one batch: [`params::Program::draw`] draws every sample's parameters from
//! `(seed, epoch, sample id, op index)`; [`params::Program::pack`] lays them out as words; the
//! GPU kernel ([`gpu`]) or the CPU twin ([`cpu`]) reads the `u8` HWC images once and writes the
//! normalized `f32` NCHW tensor once.

pub mod gpu;

use augtrain_data::ImageShape;
use burn::tensor::{Device, Int, Tensor, TensorData};

pub use augtrain_augment::*;

/// Where a batch is augmented.
#[derive(Clone)]
pub enum Engine {
    /// The multi-threaded CPU twin; the result is uploaded to the device.
    Cpu,
    /// The fused WGSL kernel on burn's wgpu device.
    Gpu(Box<gpu::GpuAugment>),
}

/// An augmented batch ready for the model.
pub struct AugmentedBatch {
    /// `f32` NCHW images on the requested device.
    pub images: Tensor<4>,
    /// Per-sample mixing (partner position and own weight λ) when the pipeline mixes.
    pub mix: Option<Vec<MixParams>>,
    /// The parameters that were applied (for recording and replay).
    pub params: Vec<SampleParams>,
    /// Bytes this batch sent from the host to the device.
    pub uploaded: Uploaded,
}

/// Bytes one augmented batch sent from the host to the training device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Uploaded {
    /// Image data: `u8` pixels for the GPU kernel, or the CPU twin's `f32` output tensor.
    pub image_bytes: u64,
    /// Everything else: the kernel's header, slot list and parameter words.
    pub other_bytes: u64,
}

/// A compiled pipeline bound to an engine and a seed.
#[derive(Clone)]
pub struct Augmenter {
    /// The compiled program.
    pub program: Program,
    /// Seed of every random draw.
    pub seed: u64,
    engine: Engine,
}

impl Augmenter {
    /// Compile `spec` for inputs of shape `input` on `engine`.
    pub fn new(
        spec: &PipelineSpec,
        input: ImageShape,
        seed: u64,
        engine: Engine,
    ) -> Result<Self, AugmentError> {
        Ok(Self {
            program: Program::new(spec, input)?,
            seed,
            engine,
        })
    }

    /// The shape of the augmented images (the model's input).
    pub fn output_shape(&self) -> ImageShape {
        self.program.output
    }

    /// Check that a batch of `n` images fits the engine's limits (the GPU's largest buffer,
    /// which must hold both the u8 input batch and the f32 output batch), so that a batch too
    /// large fails before any work with a message naming the largest batch that fits.
    pub fn check_batch(&self, n: usize) -> Result<(), AugmentError> {
        match &self.engine {
            Engine::Cpu => Ok(()),
            Engine::Gpu(kernel) => {
                let per_image = ((self.program.output.values() * 4) as u64)
                    .max(self.program.input.values() as u64);
                gpu::check_fits(n, per_image, kernel.max_buffer_bytes())
            }
        }
    }

    /// Whether batches run on the GPU kernel.
    pub fn on_gpu(&self) -> bool {
        matches!(self.engine, Engine::Gpu(_))
    }

    /// Augment one batch: `images[i]` is the HWC image of the sample with id `ids[i]`.
    /// The tensor is created on `device` (an autodiff device gets an autodiff tensor).
    pub fn batch(
        &self,
        images: &[&[u8]],
        ids: &[u64],
        epoch: usize,
        device: &Device,
    ) -> Result<AugmentedBatch, AugmentError> {
        let params = self.program.draw(self.seed, epoch, ids);
        self.batch_with(images, params, device)
    }

    /// Augment one batch with given parameters (replay).
    pub fn batch_with(
        &self,
        images: &[&[u8]],
        params: Vec<SampleParams>,
        device: &Device,
    ) -> Result<AugmentedBatch, AugmentError> {
        let n = images.len();
        let header = self.program.header(n);
        let words = self.program.pack(&params)?;
        let ImageShape {
            width: w,
            height: h,
            channels: c,
        } = self.output_shape();
        let (tensor, uploaded) = match &self.engine {
            Engine::Cpu => {
                let mut out = vec![0f32; n * c * h * w];
                cpu::run(&header, &words, images, &mut out);
                let uploaded = Uploaded {
                    image_bytes: (out.len() * 4) as u64,
                    other_bytes: 0,
                };
                let data = TensorData::new(out, [n, c, h, w]);
                let tensor = Tensor::<4>::from_data(data, &device.clone().inner());
                (tensor, uploaded)
            }
            Engine::Gpu(kernel) => {
                let uploaded = Uploaded {
                    image_bytes: images.iter().map(|i| i.len() as u64).sum(),
                    other_bytes: ((header.len() + words.len()) * 4) as u64,
                };
                (kernel.run(&header, &words, images)?, uploaded)
            }
        };
        Ok(self.finish(tensor, params, uploaded, device))
    }

    /// Augment one batch with its label masks: `masks[i]` is the `u8` label plane (input
    /// height × width, 0 = background) of the sample with id `ids[i]`. The masks follow the
    /// images' parameters (one draw) with nearest-neighbour sampling, in the same GPU dispatch
    /// (or through the CPU twin, [`masks::run`]); conventions in [`masks`]. Returns the batch and
    /// the warped labels, an `i32` tensor `n × height × width` on `device`'s inner device.
    pub fn batch_with_masks(
        &self,
        images: &[&[u8]],
        masks: &[&[u8]],
        ids: &[u64],
        epoch: usize,
        device: &Device,
    ) -> Result<(AugmentedBatch, Tensor<3, Int>), AugmentError> {
        let params = self.program.draw(self.seed, epoch, ids);
        self.batch_with_masks_and(images, masks, params, device)
    }

    /// [`Augmenter::batch_with_masks`] with given parameters (replay: the recorded
    /// [`SampleParams`] reproduce images and masks alike).
    pub fn batch_with_masks_and(
        &self,
        images: &[&[u8]],
        masks: &[&[u8]],
        params: Vec<SampleParams>,
        device: &Device,
    ) -> Result<(AugmentedBatch, Tensor<3, Int>), AugmentError> {
        let n = images.len();
        let header = masks::header(&self.program, n)?;
        let words = self.program.pack(&params)?;
        let ImageShape {
            width: w,
            height: h,
            channels: c,
        } = self.output_shape();
        let mask_bytes: u64 = masks.iter().map(|m| m.len() as u64).sum();
        let (tensor, labels, uploaded) = match &self.engine {
            Engine::Cpu => {
                let mut labels = vec![0u8; n * h * w];
                masks::warp_masks(&self.program, &params, masks, &mut labels)?;
                let mut out = vec![0f32; n * c * h * w];
                cpu::run(&header, &words, images, &mut out);
                let uploaded = Uploaded {
                    image_bytes: (out.len() * 4) as u64,
                    other_bytes: (labels.len() * 4) as u64,
                };
                let inner = device.clone().inner();
                let data = TensorData::new(out, [n, c, h, w]);
                let tensor = Tensor::<4>::from_data(data, &inner);
                let labels: Vec<i32> = labels.into_iter().map(i32::from).collect();
                let labels =
                    Tensor::<3, Int>::from_data(TensorData::new(labels, [n, h, w]), &inner);
                (tensor, labels, uploaded)
            }
            Engine::Gpu(kernel) => {
                let uploaded = Uploaded {
                    image_bytes: images.iter().map(|i| i.len() as u64).sum(),
                    other_bytes: ((header.len() + words.len()) * 4) as u64 + mask_bytes,
                };
                let (tensor, labels) = kernel.run_with_masks(&header, &words, images, masks)?;
                (tensor, labels, uploaded)
            }
        };
        Ok((self.finish(tensor, params, uploaded, device), labels))
    }

    /// Augment one batch whose images are resident on the GPU: sample `i` (id `ids[i]`) is
    /// image `slots[i]` of `resident`. Only the header, the slots and the parameters are
    /// uploaded. Fails on the CPU engine.
    pub fn batch_resident(
        &self,
        resident: &gpu::ResidentImages,
        slots: &[u32],
        ids: &[u64],
        epoch: usize,
        device: &Device,
    ) -> Result<AugmentedBatch, AugmentError> {
        let Engine::Gpu(kernel) = &self.engine else {
            return Err(AugmentError::Gpu(
                "resident images need the GPU engine".into(),
            ));
        };
        let params = self.program.draw(self.seed, epoch, ids);
        let header = self.program.header(ids.len());
        let words = self.program.pack(&params)?;
        let tensor = kernel.run_resident(&header, &words, resident, slots)?;
        let uploaded = Uploaded {
            image_bytes: 0,
            other_bytes: ((header.len() + slots.len() + words.len()) * 4) as u64,
        };
        Ok(self.finish(tensor, params, uploaded, device))
    }

    /// Upload `images` (equally sized HWC slices) to stay on the GPU for
    /// [`Augmenter::batch_resident`], in as few buffers as the device's binding limit allows;
    /// `None` on the CPU engine.
    pub fn make_resident(
        &self,
        images: &[&[u8]],
    ) -> Result<Option<gpu::ResidentImages>, AugmentError> {
        let Engine::Gpu(kernel) = &self.engine else {
            return Ok(None);
        };
        if images.is_empty() {
            return Ok(None);
        }
        kernel.upload_resident(images).map(Some)
    }

    /// Bytes of memory the GPU engine's device has, when the driver says (`None` on the CPU).
    pub fn device_memory_bytes(&self) -> Option<u64> {
        match &self.engine {
            Engine::Cpu => None,
            Engine::Gpu(kernel) => kernel.memory_bytes(),
        }
    }

    fn finish(
        &self,
        tensor: Tensor<4>,
        params: Vec<SampleParams>,
        uploaded: Uploaded,
        device: &Device,
    ) -> AugmentedBatch {
        let images = if device.is_autodiff() {
            tensor.autodiff()
        } else {
            tensor
        };
        let mix = if self.program.mixes() {
            Some(params.iter().filter_map(|p| p.mix.clone()).collect())
        } else {
            None
        };
        AugmentedBatch {
            images,
            mix,
            params,
            uploaded,
        }
    }

    /// Run the CPU twin directly, returning `f32` NCHW values (for previews and tests).
    pub fn cpu_values(
        &self,
        images: &[&[u8]],
        params: &[SampleParams],
    ) -> Result<Vec<f32>, AugmentError> {
        let n = images.len();
        let ImageShape {
            width: w,
            height: h,
            channels: c,
        } = self.output_shape();
        let mut out = vec![0f32; n * c * h * w];
        cpu::run(
            &self.program.header(n),
            &self.program.pack(params)?,
            images,
            &mut out,
        );
        Ok(out)
    }
}
