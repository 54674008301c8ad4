//! PyTorch weights files (`--pretrained F.pth`): augtrain-weights' pre-check
//! (`augtrain_weights::check_pth`), then, for a file it passes, burn-store's own reader
//! (`pytorch-reader`, the crate behind `burn::store::PytorchStore`, burn-free) opening it and
//! reading every tensor, as `--pretrained` does. A passed file must then cost no more than
//! its bounds: the hostile inputs in `fuzz/regressions/pth/` (a 101 KB file whose pickle made
//! the reader allocate 11.8 GB, compression and size-claim bombs) are refused by the check.

use augtrain_data::util::panic::contain;

use crate::scratch;

/// A `.pth` file: checked, then (when it passes) opened and every tensor read. Accepted when
/// the reader takes it and every tensor holds the bytes its shape and dtype need.
pub fn pth(bytes: &[u8]) -> bool {
    let path = scratch("pth").join("weights.pth");
    std::fs::write(&path, bytes).expect("cannot write the scratch file");
    if augtrain_weights::check_pth(&path).is_err() {
        return false;
    }
    let opened = contain(|| -> Result<bool, pytorch_reader::PytorchError> {
        let reader = pytorch_reader::PytorchReader::new(&path)?;
        let mut all = true;
        for tensor in reader.tensors().values() {
            match tensor.read() {
                Ok(data) => assert_eq!(data.len(), tensor.byte_len(), "{}", tensor.name),
                Err(_) => all = false,
            }
        }
        Ok(all && !reader.is_empty())
    });
    matches!(opened, Ok(Ok(true)))
}
