//! Optimal assignment (the linear sum assignment problem) on a rectangular cost matrix:
//! the shortest-augmenting-path form of Jonker–Volgenant that scipy's
//! `linear_sum_assignment` uses (D. F. Crouse, "On implementing 2D rectangular assignment
//! algorithms", IEEE TAES 2016), in O(n² m) time and O(n + m) extra memory.
//!
//! Written here rather than taken from a crate: `pathfinding`'s `kuhn_munkres` needs integer
//! (`Ord`) weights, so IoUs would have to be scaled and rounded, and it is O(n³) on the larger
//! side; the algorithm is 80 lines and is checked against scipy's answers
//! (`tests/fixtures/annotations/rle_oracle.json`).

/// Why an assignment could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MatchingError {
    /// The matrix holds NaN, or an infinity in the direction that makes it infeasible.
    #[error("cost matrix holds NaN or an infinity that makes the assignment infeasible")]
    Infeasible,
    /// `costs.len()` is not `rows × cols`.
    #[error("cost matrix of {len} values is not {rows} × {cols}")]
    Shape {
        /// Rows declared.
        rows: usize,
        /// Columns declared.
        cols: usize,
        /// Values given.
        len: usize,
    },
}

/// Whether to find the assignment of least or of greatest total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Least total cost.
    Minimize,
    /// Greatest total (e.g. of IoUs).
    Maximize,
}

/// The optimal assignment of a row-major `rows × cols` matrix: `min(rows, cols)` pairs
/// `(row, col)`, each row and column used at most once, sorted by row, minimising (or
/// maximising) the sum of the chosen entries; scipy's `linear_sum_assignment`.
pub fn assign(
    costs: &[f64],
    rows: usize,
    cols: usize,
    objective: Objective,
) -> Result<Vec<(usize, usize)>, MatchingError> {
    if costs.len() != rows * cols {
        return Err(MatchingError::Shape {
            rows,
            cols,
            len: costs.len(),
        });
    }
    if rows == 0 || cols == 0 {
        return Ok(Vec::new());
    }
    let sign = match objective {
        Objective::Minimize => 1.0,
        Objective::Maximize => -1.0,
    };
    // Work on the orientation with no more rows than columns.
    let transpose = cols < rows;
    let (nr, nc) = if transpose {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let mut cost = vec![0.0; nr * nc];
    for r in 0..rows {
        for c in 0..cols {
            let v = sign * costs[r * cols + c];
            if v.is_nan() || v == f64::NEG_INFINITY {
                return Err(MatchingError::Infeasible);
            }
            let (i, j) = if transpose { (c, r) } else { (r, c) };
            cost[i * nc + j] = v;
        }
    }
    let col4row = Solver::new(&cost, nr, nc).solve()?;
    let mut pairs: Vec<(usize, usize)> = col4row
        .into_iter()
        .enumerate()
        .map(|(i, j)| if transpose { (j, i) } else { (i, j) })
        .collect();
    pairs.sort_unstable();
    Ok(pairs)
}

/// The state of the shortest-augmenting-path solver (`nr <= nc`).
struct Solver<'a> {
    cost: &'a [f64],
    nr: usize,
    nc: usize,
    /// Row and column duals.
    u: Vec<f64>,
    v: Vec<f64>,
    /// Predecessor row of each column on the current shortest path tree.
    path: Vec<usize>,
    col4row: Vec<usize>,
    row4col: Vec<usize>,
    shortest: Vec<f64>,
    seen_rows: Vec<bool>,
    seen_cols: Vec<bool>,
    remaining: Vec<usize>,
}

const NONE: usize = usize::MAX;

impl<'a> Solver<'a> {
    fn new(cost: &'a [f64], nr: usize, nc: usize) -> Self {
        Solver {
            cost,
            nr,
            nc,
            u: vec![0.0; nr],
            v: vec![0.0; nc],
            path: vec![NONE; nc],
            col4row: vec![NONE; nr],
            row4col: vec![NONE; nc],
            shortest: vec![f64::INFINITY; nc],
            seen_rows: vec![false; nr],
            seen_cols: vec![false; nc],
            remaining: vec![0; nc],
        }
    }

    /// Assigns every row, one augmenting path per row; the column of each row.
    fn solve(mut self) -> Result<Vec<usize>, MatchingError> {
        for cur in 0..self.nr {
            let (sink, min_val) = self.augmenting_path(cur)?;
            // Update the duals.
            self.u[cur] += min_val;
            for i in 0..self.nr {
                if self.seen_rows[i] && i != cur {
                    self.u[i] += min_val - self.shortest[self.col4row[i]];
                }
            }
            for j in 0..self.nc {
                if self.seen_cols[j] {
                    self.v[j] -= min_val - self.shortest[j];
                }
            }
            // Augment along the path back from the sink.
            let mut j = sink;
            loop {
                let i = self.path[j];
                self.row4col[j] = i;
                std::mem::swap(&mut self.col4row[i], &mut j);
                if i == cur {
                    break;
                }
            }
        }
        Ok(self.col4row)
    }

    /// Dijkstra over reduced costs from row `start` to the nearest unassigned column: the sink
    /// and the path length.
    fn augmenting_path(&mut self, start: usize) -> Result<(usize, f64), MatchingError> {
        let nc = self.nc;
        let mut min_val = 0.0;
        let mut num_remaining = nc;
        for (it, r) in self.remaining.iter_mut().enumerate() {
            *r = nc - it - 1;
        }
        self.seen_rows.fill(false);
        self.seen_cols.fill(false);
        self.shortest.fill(f64::INFINITY);
        let mut i = start;
        loop {
            let mut index = NONE;
            let mut lowest = f64::INFINITY;
            self.seen_rows[i] = true;
            for it in 0..num_remaining {
                let j = self.remaining[it];
                let r = min_val + self.cost[i * nc + j] - self.u[i] - self.v[j];
                if r < self.shortest[j] {
                    self.path[j] = i;
                    self.shortest[j] = r;
                }
                if self.shortest[j] < lowest
                    || (self.shortest[j] == lowest && self.row4col[j] == NONE)
                {
                    lowest = self.shortest[j];
                    index = it;
                }
            }
            min_val = lowest;
            if min_val == f64::INFINITY || index == NONE {
                return Err(MatchingError::Infeasible);
            }
            let j = self.remaining[index];
            self.seen_cols[j] = true;
            num_remaining -= 1;
            self.remaining[index] = self.remaining[num_remaining];
            if self.row4col[j] == NONE {
                return Ok((j, min_val));
            }
            i = self.row4col[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle;

    #[test]
    fn assignments_equal_scipys() {
        let o = oracle::load();
        assert!(o.assignments.len() >= 16);
        for case in &o.assignments {
            let rows = case.cost.len();
            let cols = case.cost[0].len();
            let flat: Vec<f64> = case.cost.iter().flatten().copied().collect();
            let objective = if case.maximize {
                Objective::Maximize
            } else {
                Objective::Minimize
            };
            let pairs = assign(&flat, rows, cols, objective).unwrap();
            assert_eq!(pairs.len(), rows.min(cols));
            let total: f64 = pairs.iter().map(|&(r, c)| case.cost[r][c]).sum();
            assert!(
                (total - case.total).abs() <= 1e-12 * case.total.abs().max(1.0),
                "{rows}x{cols}: {total} vs scipy {}",
                case.total
            );
            if let (Some(r), Some(c)) = (&case.rows, &case.cols) {
                let expected: Vec<(usize, usize)> =
                    r.iter().copied().zip(c.iter().copied()).collect();
                assert_eq!(pairs, expected, "{rows}x{cols} maximize={}", case.maximize);
            }
        }
    }

    #[test]
    fn brute_force_agrees_on_small_matrices() {
        // Every 4 x 3 matrix of a small grid of values: the optimum equals exhaustive search.
        let mut state = 12345u64;
        for _ in 0..300 {
            let costs: Vec<f64> = (0..12)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((state >> 33) % 5) as f64
                })
                .collect();
            let pairs = assign(&costs, 4, 3, Objective::Minimize).unwrap();
            let total: f64 = pairs.iter().map(|&(r, c)| costs[r * 3 + c]).sum();
            let mut best = f64::INFINITY;
            for a in 0..4 {
                for b in 0..4 {
                    for c in 0..4 {
                        if a != b && b != c && a != c {
                            best = best.min(costs[a * 3] + costs[b * 3 + 1] + costs[c * 3 + 2]);
                        }
                    }
                }
            }
            assert_eq!(total, best, "{costs:?}");
        }
    }

    #[test]
    fn bad_matrices_are_errors() {
        assert_eq!(
            assign(&[1.0, f64::NAN], 1, 2, Objective::Minimize),
            Err(MatchingError::Infeasible)
        );
        assert_eq!(
            assign(&[f64::INFINITY, f64::INFINITY], 2, 1, Objective::Minimize),
            Err(MatchingError::Infeasible)
        );
        assert!(matches!(
            assign(&[1.0], 2, 2, Objective::Minimize),
            Err(MatchingError::Shape { .. })
        ));
        assert_eq!(assign(&[], 0, 3, Objective::Maximize).unwrap(), vec![]);
    }
}
