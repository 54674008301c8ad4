//! The `__metadata__` of a `.safetensors` file (string keys and values in its JSON header),
//! read without touching the tensors: `augtrain export-model` records the architecture, the
//! class names and the input shape there, so that `predict --pretrained` can use them.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use augtrain_data::util::fs::open_regular;

/// Largest JSON header read (the format's own limit).
const MAX_HEADER: u64 = 100_000_000;

/// The metadata of the safetensors file `path` (empty when it has none). Errors say what is
/// wrong with the header.
pub fn safetensors_metadata(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut file = open_regular(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut n = [0u8; 8];
    file.read_exact(&mut n)
        .map_err(|_| "it is too short for a safetensors header".to_string())?;
    let n = u64::from_le_bytes(n);
    if n > MAX_HEADER || n > len.saturating_sub(8) {
        return Err(format!(
            "its header claims {n} bytes, more than the file or the format allows"
        ));
    }
    let mut header = Vec::with_capacity(n as usize);
    file.take(n)
        .read_to_end(&mut header)
        .map_err(|e| e.to_string())?;
    let json: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| format!("its header is not JSON: {e}"))?;
    Ok(json
        .get("__metadata__")
        .and_then(|m| m.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_read_from_the_header_and_lies_are_refused() {
        let dir = std::env::temp_dir().join(format!("augtrain-st-meta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.safetensors");
        let header = br#"{"__metadata__":{"classes":"a\nb","format":"pt"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0; 4]);
        std::fs::write(&path, &bytes).unwrap();
        let meta = safetensors_metadata(&path).unwrap();
        assert_eq!(meta["classes"], "a\nb");
        bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        assert!(safetensors_metadata(&path).unwrap_err().contains("claims"));
    }
}
