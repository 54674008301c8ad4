//! Checkpoints: model weights, optimizer state and training progress in one file, written
//! atomically (temporary name, fsync, rename), so a crash at any moment leaves either the
//! previous checkpoint or the new one.
//!
//! Layout: the magic `AUGTRAIN-CKPT-2\n`, then three length-prefixed (u64 little-endian)
//! sections: progress (JSON), model (burnpack), optimizer (burnpack), then the SHA-256 of
//! everything before it. The checksum is checked before any section reaches burn's decoders,
//! which panic on some corrupt records.

use std::path::Path;

use crate::error::RunError;
use crate::records::{EpochRecord, Progress};
use augtrain_data::util::fs::{read, write_atomic};

const MAGIC: &[u8] = b"AUGTRAIN-CKPT-2\n";
/// Length of the trailing SHA-256.
const DIGEST: usize = 32;

/// A loaded checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    /// Progress.
    pub progress: Progress,
    /// Model record bytes (burnpack).
    pub model: Vec<u8>,
    /// Optimizer record bytes (burnpack).
    pub optimizer: Vec<u8>,
}

/// Write a checkpoint atomically. Timings and memory figures are left out (see
/// [`EpochRecord::deterministic`]); `metrics.jsonl` keeps them.
pub fn save(
    path: &Path,
    progress: &Progress,
    model: &[u8],
    optimizer: &[u8],
) -> Result<(), RunError> {
    let stored = Progress {
        epochs_done: progress.epochs_done,
        batch_norm_batches: progress.batch_norm_batches,
        history: progress
            .history
            .iter()
            .map(EpochRecord::deterministic)
            .collect(),
    };
    let json = serde_json::to_vec(&stored).expect("progress serializes");
    write_atomic(path, &encode(&json, model, optimizer))?;
    Ok(())
}

/// The checkpoint bytes for the three sections, checksum included.
pub fn encode(progress_json: &[u8], model: &[u8], optimizer: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut bytes = Vec::with_capacity(
        MAGIC.len() + 24 + progress_json.len() + model.len() + optimizer.len() + DIGEST,
    );
    bytes.extend_from_slice(MAGIC);
    for section in [progress_json, model, optimizer] {
        bytes.extend_from_slice(&(section.len() as u64).to_le_bytes());
        bytes.extend_from_slice(section);
    }
    let digest = Sha256::digest(&bytes);
    bytes.extend_from_slice(&digest);
    bytes
}

/// Read a checkpoint, checking its structure.
pub fn load(path: &Path) -> Result<Checkpoint, RunError> {
    parse(path, &read(path)?)
}

/// Parse a checkpoint's bytes (see [`load`]); `path` names it in errors.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Checkpoint, RunError> {
    let bad = |why: &str| RunError::damaged(path, why);
    if !bytes.starts_with(MAGIC) {
        return Err(bad(if bytes.starts_with(b"AUGTRAIN-CKPT-") {
            "written by another version of augtrain; start the run again"
        } else {
            "not an augtrain checkpoint (bad magic)"
        }));
    }
    if bytes.len() < MAGIC.len() + DIGEST {
        return Err(bad("truncated"));
    }
    let (body, digest) = bytes.split_at(bytes.len() - DIGEST);
    {
        use sha2::{Digest, Sha256};
        if Sha256::digest(body).as_slice() != digest {
            return Err(bad(
                "checksum mismatch: the file is corrupt or cut short; resume from a good copy or start the run again",
            ));
        }
    }
    let rest = &body[MAGIC.len()..];
    let mut sections = Vec::with_capacity(3);
    let mut at = 0usize;
    for _ in 0..3 {
        let len_bytes: [u8; 8] = rest
            .get(at..at + 8)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("truncated"))?;
        let len = u64::from_le_bytes(len_bytes) as usize;
        at += 8;
        let section = rest
            .get(at..at.checked_add(len).ok_or_else(|| bad("corrupt length"))?)
            .ok_or_else(|| bad("truncated"))?;
        sections.push(section.to_vec());
        at += len;
    }
    if at != rest.len() {
        return Err(bad("trailing bytes"));
    }
    let optimizer = sections.pop().unwrap_or_default();
    let model = sections.pop().unwrap_or_default();
    let progress: Progress = serde_json::from_slice(&sections[0])
        .map_err(|e| bad(&format!("corrupt progress section ({e})")))?;
    Ok(Checkpoint {
        progress,
        model,
        optimizer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let dir = std::env::temp_dir().join(format!("augtrain-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(crate::run_dir::file::CHECKPOINT);
        let progress = Progress {
            epochs_done: 2,
            history: vec![],
            batch_norm_batches: 126,
        };
        save(&p, &progress, b"model", b"optim").unwrap();
        let c = load(&p).unwrap();
        assert_eq!(c.progress, progress);
        assert_eq!(c.model, b"model");
        assert_eq!(c.optimizer, b"optim");
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 2]).unwrap();
        assert!(
            load(&p)
                .unwrap_err()
                .to_string()
                .contains("checksum mismatch")
        );
        let mut flipped = bytes.clone();
        flipped[MAGIC.len() + 10] ^= 4;
        std::fs::write(&p, &flipped).unwrap();
        assert!(
            load(&p)
                .unwrap_err()
                .to_string()
                .contains("checksum mismatch")
        );
        std::fs::write(&p, b"garbage").unwrap();
        assert!(load(&p).unwrap_err().to_string().contains("magic"));
    }
}
