//! Training checkpoints (`--resume`, `eval`, `predict`): the framing, checksum and progress
//! section, then both records (model, optimizer) opened by burn's container reader
//! (`burn_pack::Reader`) exactly as burn's `ModuleRecord::from_bytes` and
//! `OptimizerRecord::from_bytes` open them, under the same panic containment as
//! `augtrain::train::restore`.
//!
//! Not fuzzed here: turning the opened tensors into a model (burn's typed `TensorData` and
//! `Module::try_load_record`), which needs burn itself; the stable test
//! `checkpoint_corpus_restores_or_fails_cleanly` in the root crate replays this target's
//! inputs through the whole of `restore`.

use std::path::Path;

use augtrain_data::util::panic::contain;
use augtrain_run::checkpoint::{encode, parse};
use burn_pack::{Bytes, DType, Reader};

/// Length of the trailing SHA-256 of a checkpoint.
const DIGEST: usize = 32;

/// `bytes` with its last 32 bytes replaced by the SHA-256 of the rest: what a crafted file
/// looks like, so that mutations get past the checksum to the sections behind it.
pub fn reseal(bytes: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut body = bytes[..bytes.len().saturating_sub(DIGEST)].to_vec();
    let digest = Sha256::digest(&body);
    body.extend_from_slice(&digest);
    body
}

/// Checkpoints, as they are and re-sealed ([`reseal`]); an accepted checkpoint re-encodes to
/// one that parses to the same sections, and both of its records open with every tensor's
/// byte length matching its shape and dtype.
pub fn checkpoint(bytes: &[u8]) -> bool {
    let path = Path::new("checkpoint.bin");
    let resealed = reseal(bytes);
    let mut accepted = false;
    for input in [bytes, &resealed[..]] {
        let Ok(ckpt) = parse(path, input) else {
            continue;
        };
        let json = serde_json::to_vec(&ckpt.progress).expect("progress serializes");
        let again = parse(path, &encode(&json, &ckpt.model, &ckpt.optimizer))
            .expect("a re-encoded checkpoint does not parse");
        // Compared as JSON: validation metrics may be NaN (`null`), and NaN ≠ NaN.
        assert_eq!(serde_json::to_vec(&again.progress).unwrap(), json);
        assert_eq!(again.model, ckpt.model);
        assert_eq!(again.optimizer, ckpt.optimizer);
        accepted |= record_opens(&ckpt.model) & record_opens(&ckpt.optimizer);
    }
    accepted
}

/// Whether burn's reader opens a record; a panic in it counts as a refusal, as in
/// `augtrain::train::restore`. Every tensor it returns must hold the bytes its shape and
/// dtype need, and those bytes must be readable.
fn record_opens(record: &[u8]) -> bool {
    let opened = contain(|| -> Result<Vec<String>, burn_pack::Error> {
        let reader = Reader::from_bytes(Bytes::from_bytes_vec(record.to_vec()))?;
        std::hint::black_box((reader.metadata().len(), reader.scalars().len()));
        let mut mismatches = Vec::new();
        for tensor in reader.into_tensors()? {
            let (name, dtype, shape, _, data) = tensor.into_parts()?;
            let needed = shape
                .as_slice()
                .iter()
                .try_fold(dtype.size(), |n, &d| n.checked_mul(d));
            if !matches!(dtype, DType::QFloat(_)) && needed != Some(data.len()) {
                mismatches.push(format!(
                    "tensor '{name}' of {shape:?} {dtype:?} has {} bytes",
                    data.len()
                ));
            }
            std::hint::black_box(data.iter().fold(0u8, |a, &b| a ^ b));
        }
        Ok(mismatches)
    });
    match opened {
        Ok(Ok(mismatches)) => {
            assert!(
                mismatches.is_empty(),
                "burn's reader returned {mismatches:?}"
            );
            true
        }
        Ok(Err(_)) | Err(_) => false,
    }
}
