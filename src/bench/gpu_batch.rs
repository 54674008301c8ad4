//! One benchmark batch made ready for the device: split into launches whose every buffer fits
//! the device's largest (Mesa's lavapipe allows 128 MiB, less than the 154 MB of f32 output a
//! 224×224 RGB batch of 256 writes), each launch's images, masks, header and parameters
//! uploaded and its outputs allocated, so that timing it queues dispatches and nothing else.
//! The batch's time is that of all its launches: the batch size is never lowered.

use crate::augment::gpu::{GpuAugment, PreparedLaunch};
use crate::augment::{AugmentError, Program, cpu, masks};

/// One launch of a batch and what the CPU twin needs to check it.
pub struct Chunk {
    /// The prepared launch.
    pub launch: PreparedLaunch,
    /// Its first sample's position in the batch.
    pub first: usize,
    /// Its header (with the mask flag when masks are attached).
    pub header: Vec<u32>,
    /// Its packed parameters.
    pub words: Vec<u32>,
}

/// A whole batch as launches that each fit one device buffer.
pub struct PreparedBatch {
    /// The launches, in sample order.
    pub chunks: Vec<Chunk>,
}

/// Images per launch so that neither a launch's `u8` input (`in_bytes` per image) nor its
/// `f32` output (`out_bytes`) exceeds `limit` bytes.
pub fn images_per_launch(in_bytes: usize, out_bytes: usize, limit: u64) -> usize {
    (limit / in_bytes.max(out_bytes).max(1) as u64).max(1) as usize
}

impl PreparedBatch {
    /// Upload `images` (and `labels`, one `u8` plane per image, when given) in launches that
    /// fit, with the parameters `prog` draws for `ids` in `epoch`.
    pub fn new(
        kernel: &GpuAugment,
        prog: &Program,
        images: &[&[u8]],
        labels: Option<&[&[u8]]>,
        ids: &[u64],
        epoch: usize,
    ) -> Result<Self, AugmentError> {
        let n = images.len();
        let (ow, oh, c) = (prog.output.width, prog.output.height, prog.output.channels);
        let in_bytes = images.first().map_or(1, |i| i.len());
        let per = images_per_launch(in_bytes, c * oh * ow * 4, kernel.max_buffer_bytes());
        let mut chunks = Vec::new();
        for first in (0..n).step_by(per) {
            let end = (first + per).min(n);
            let header = match labels {
                Some(_) => masks::header(prog, end - first)?,
                None => prog.header(end - first),
            };
            let words = prog.pack(&prog.draw(1, epoch, &ids[first..end]))?;
            let up = kernel.upload(&images[first..end]);
            let up_labels = labels.map(|l| kernel.upload(&l[first..end]));
            let launch = kernel.prepare(&header, &words, &up, up_labels.as_ref())?;
            chunks.push(Chunk {
                launch,
                first,
                header,
                words,
            });
        }
        Ok(Self { chunks })
    }

    /// Queue every launch of the batch.
    pub fn dispatch(&self, kernel: &GpuAugment) {
        self.chunks.iter().for_each(|c| kernel.dispatch(&c.launch));
    }

    /// Read the batch's output back and return the largest difference from the CPU twin run
    /// on the same images and parameters (output units); with `labels`, also the number of
    /// warped labels that differ from the twin's.
    pub fn check(
        &self,
        kernel: &GpuAugment,
        images: &[&[u8]],
        labels: Option<&[&[u8]]>,
    ) -> Result<(f32, usize), AugmentError> {
        let (mut worst, mut differ) = (0f32, 0usize);
        for chunk in &self.chunks {
            let n = chunk.launch.shape[0];
            let imgs = &images[chunk.first..chunk.first + n];
            let got = kernel.read_output(&chunk.launch)?;
            let mut want = vec![0f32; got.len()];
            cpu::run(&chunk.header, &chunk.words, imgs, &mut want);
            worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(worst, f32::max);
            if let Some(labels) = labels {
                let got = kernel.read_output_labels(&chunk.launch)?;
                let mut want = vec![0u8; got.len()];
                let planes = &labels[chunk.first..chunk.first + n];
                masks::run(&chunk.header, &chunk.words, planes, &mut want);
                differ += got.iter().zip(&want).filter(|(a, b)| a != b).count();
            }
        }
        Ok((worst, differ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_224_rgb_batch_of_256_splits_to_fit_lavapipes_128_mib() {
        let (inb, outb) = (224 * 224 * 3, 224 * 224 * 3 * 4);
        let per = images_per_launch(inb, outb, 128 << 20);
        assert_eq!(per, 222);
        assert!((per * outb) as u64 <= 128 << 20);
        assert_eq!(256usize.div_ceil(per), 2);
        assert_eq!(images_per_launch(inb, outb, 1), 1);
    }
}
