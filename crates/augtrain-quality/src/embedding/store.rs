//! A matrix of embeddings: `n` rows of `dim` f32 values, row-major.

/// Why embeddings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// `dim` is zero.
    #[error("embeddings have zero dimensions")]
    ZeroDim,
    /// The value count is not a multiple of `dim`.
    #[error("{values} values do not split into rows of {dim}")]
    Ragged {
        /// Values given.
        values: usize,
        /// Row length.
        dim: usize,
    },
    /// A row has no direction (all zeros) and cannot be normalized.
    #[error("embedding row {0} is all zeros and cannot be L2-normalized")]
    ZeroRow(usize),
    /// A row holds NaN or an infinity, or its norm overflows f32.
    #[error("embedding row {0} holds a non-finite value (NaN or infinity)")]
    NonFinite(usize),
}

/// `n × dim` embeddings, one image per row, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddingSet {
    /// Values per row (≥ 1).
    pub dim: usize,
    /// `len() · dim` values, row `i` at `i·dim .. (i+1)·dim`.
    pub values: Vec<f32>,
}

impl EmbeddingSet {
    /// Checks that `values` splits into rows of `dim ≥ 1`.
    pub fn new(dim: usize, values: Vec<f32>) -> Result<Self, StoreError> {
        if dim == 0 {
            return Err(StoreError::ZeroDim);
        }
        if !values.len().is_multiple_of(dim) {
            return Err(StoreError::Ragged {
                values: values.len(),
                dim,
            });
        }
        Ok(Self { dim, values })
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.values.len().checked_div(self.dim).unwrap_or(0)
    }

    /// `true` without rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i` (panics when `i ≥ len()`).
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// Scales every row to unit L2 norm (norm accumulated in f64, each value divided by it and
    /// rounded to f32), so that a dot product of two rows is their cosine similarity. Fails on
    /// the first row, by index, that is all zeros or not finite; rows are then left as they were.
    pub fn normalize_rows(&mut self) -> Result<(), StoreError> {
        let dim = self.dim.max(1);
        let mut norms = Vec::with_capacity(self.len());
        for (i, row) in self.values.chunks_exact(dim).enumerate() {
            let sq: f64 = row.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
            if !sq.is_finite() {
                return Err(StoreError::NonFinite(i));
            }
            if sq == 0.0 {
                return Err(StoreError::ZeroRow(i));
            }
            norms.push(sq.sqrt());
        }
        for (row, norm) in self.values.chunks_exact_mut(dim).zip(norms) {
            for v in row {
                *v = (f64::from(*v) / norm) as f32;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_rows_and_names_the_bad_row() {
        let mut set = EmbeddingSet::new(2, vec![3.0, 4.0, 0.0, -2.0]).unwrap();
        set.normalize_rows().unwrap();
        assert_eq!(set.values, vec![0.6, 0.8, 0.0, -1.0]);
        assert_eq!(set.len(), 2);
        assert_eq!(set.row(1), &[0.0, -1.0]);

        let mut zero = EmbeddingSet::new(2, vec![1.0, 0.0, 0.0, 0.0]).unwrap();
        assert_eq!(zero.normalize_rows(), Err(StoreError::ZeroRow(1)));
        let mut nan = EmbeddingSet::new(1, vec![1.0, 2.0, f32::NAN]).unwrap();
        assert_eq!(nan.normalize_rows(), Err(StoreError::NonFinite(2)));
        assert_eq!(nan.values[0], 1.0, "unchanged on error");
        let mut inf = EmbeddingSet::new(1, vec![f32::INFINITY]).unwrap();
        assert_eq!(inf.normalize_rows(), Err(StoreError::NonFinite(0)));
        assert_eq!(
            StoreError::ZeroRow(7).to_string(),
            "embedding row 7 is all zeros and cannot be L2-normalized"
        );
    }

    #[test]
    fn rejects_ragged_and_empty_rows() {
        assert_eq!(EmbeddingSet::new(0, vec![]), Err(StoreError::ZeroDim));
        assert_eq!(
            EmbeddingSet::new(3, vec![0.0; 4]),
            Err(StoreError::Ragged { values: 4, dim: 3 })
        );
        assert!(EmbeddingSet::new(3, vec![]).unwrap().is_empty());
    }
}
