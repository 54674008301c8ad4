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
use burn::tensor::{Device, Tensor, TensorData};

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
        let tensor = match &self.engine {
            Engine::Cpu => {
                let mut out = vec![0f32; n * c * h * w];
                cpu::run(&header, &words, images, &mut out);
                Tensor::<4>::from_data(TensorData::new(out, [n, c, h, w]), &device.clone().inner())
            }
            Engine::Gpu(kernel) => kernel.run(&header, &words, images)?,
        };
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
        Ok(AugmentedBatch {
            images,
            mix,
            params,
        })
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
