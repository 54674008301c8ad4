//! Values no trained network has: NaN or infinite weights, negative batch-norm variances.
//! A model loaded with them predicts "NaN" for every input (or trains into NaN at once), so
//! they are refused when weights are loaded, naming the tensor.

/// A tensor holding a value it must not.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("tensor {key} holds {value} at index {index} ({why})")]
pub struct BadValue {
    /// The tensor's name in the file.
    pub key: String,
    /// Flat (row-major) index of the first bad value.
    pub index: usize,
    /// The value.
    pub value: f32,
    /// Why it is bad.
    pub why: &'static str,
}

/// Whether `key` names a batch-norm running variance (PyTorch's and burn's name).
pub fn is_running_variance(key: &str) -> bool {
    key.ends_with("running_var")
}

/// Check the values of tensor `key`: every value finite, and a batch-norm running variance
/// not negative. Returns the first bad value.
pub fn check_tensor(key: &str, values: &[f32]) -> Result<(), BadValue> {
    let bad = |index: usize, why| BadValue {
        key: key.to_string(),
        index,
        value: values[index],
        why,
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(i, "weights must be finite numbers"));
    }
    if is_running_variance(key)
        && let Some(i) = values.iter().position(|&v| v < 0.0)
    {
        return Err(bad(i, "a batch-norm running variance cannot be negative"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_infinity_and_negative_variances_are_named_with_their_index() {
        assert!(check_tensor("conv1.weight", &[0.0, -3.0, 1e30]).is_ok());
        let e = check_tensor("conv1.weight", &[0.0, f32::NAN]).unwrap_err();
        assert_eq!((e.key.as_str(), e.index), ("conv1.weight", 1));
        assert!(e.to_string().contains("NaN at index 1"), "{e}");
        let e = check_tensor("fc.bias", &[f32::NEG_INFINITY]).unwrap_err();
        assert!(e.to_string().contains("-inf at index 0"), "{e}");
        let e = check_tensor("bn1.running_var", &[1.0, 0.0, -0.5]).unwrap_err();
        assert_eq!(e.index, 2);
        assert!(e.to_string().contains("cannot be negative"), "{e}");
        // A negative mean or weight is ordinary.
        assert!(check_tensor("bn1.running_mean", &[-0.5]).is_ok());
        assert!(check_tensor("bn1.weight", &[-0.5]).is_ok());
    }
}
