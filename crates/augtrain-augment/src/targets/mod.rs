//! Annotations through the augmentation: boxes, oriented boxes, polygons, polylines, circles
//! and keypoints follow the geometry of a sample, with the parameters already drawn for its
//! image ([`crate::SampleParams`]), so one draw moves the pixels and the targets.
//!
//! # Conventions
//!
//! Coordinates are those of [`augtrain_annotations::model`]: continuous pixels, origin at the
//! top-left corner of the top-left pixel, pixel `(i, j)` covering `[i, i+1) × [j, j+1)`.
//! [`crate::SampleParams::affine`] maps output → input in the same coordinates (pixel centres
//! at +0.5), so targets move with its inverse, the forward map ([`map::Forward`]); a
//! horizontal flip of a `W`-wide image sends `x` to `W − x` for every kind of target.
//!
//! - Keypoints and polygon vertices: the exact affine image of each point.
//! - Axis-aligned boxes: the box enclosing the four mapped corners ([`BoxRotation::Corners`]),
//!   or enclosing the mapped inscribed ellipse ([`BoxRotation::Ellipse`], Albumentations'
//!   method, in closed form rather than from 360 sampled points).
//! - Oriented boxes: exact under maps that keep right angles (flips, rotations, uniform scale,
//!   crops, pads); otherwise the smallest rectangle along one of the mapped sides that holds
//!   the mapped parallelogram. Not clipped.
//! - Circles: the centre maps exactly, the radius scales by `√|det|`.
//! - Clipping: boxes are clamped to `[0, W] × [0, H]` and polygons cut to it
//!   (Sutherland–Hodgman), whatever the round-off, so a box at 1.0025 of the image is clipped,
//!   never an error.
//! - Visibility: the fraction of the mapped (unclipped) box area that lies in the output image
//!   and is not covered by an erase rectangle; polygons and oriented boxes use their own
//!   clipped area, reduced by the erased fraction of their clipped bounding box. An object is
//!   dropped, with its keypoints and labels, when its visibility is under `min_visibility` or
//!   is 0, its clipped box area under `min_area` or its clipped box's shorter side under
//!   `min_size`.
//! - Keypoints outside the output image (beyond [`EDGE_TOLERANCE`]) keep their mapped
//!   coordinates with visibility 0, unless `drop_outside_keypoints`; keypoints under an erase
//!   rectangle go from visibility 2 (visible) to 1 (labelled, occluded). When the map mirrors
//!   the image (an odd number of flips), left and right keypoints swap through the data set's
//!   `flip_index`.
//! - Colour, noise and normalization ops leave targets unchanged; mixup and cutmix are not
//!   defined for targets (callers refuse them).

pub mod clip;
pub mod map;
pub mod mask;
pub mod object;

use serde::{Deserialize, Serialize};

pub use map::Forward;
pub use object::{KeypointSchemas, transform_objects};

/// How far outside the image (pixels) a keypoint may lie and still count as inside: absorbs
/// the round-off of composed maps, not real displacements.
pub const EDGE_TOLERANCE: f64 = 1e-6;

/// How an axis-aligned box follows a map that rotates or shears it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BoxRotation {
    /// The box enclosing the four mapped corners (grows under rotation; never cuts the object).
    #[default]
    Corners,
    /// The box enclosing the mapped inscribed ellipse (Albumentations' `ellipse`, tighter for
    /// rounded objects).
    Ellipse,
}

/// The `[targets]` table of a pipeline spec: how annotations follow the augmentation.
///
/// ```toml
/// [targets]
/// box_rotation = "ellipse"        # or "corners" (default)
/// min_visibility = 0.3            # drop objects less than 30 % visible
/// min_area = 16.0                 # pixels², after clipping
/// min_size = 2.0                  # pixels, the clipped box's shorter side
/// drop_outside_keypoints = false  # default: keep them with visibility 0
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TargetOptions {
    /// Axis-aligned boxes under rotation and shear.
    pub box_rotation: BoxRotation,
    /// Smallest visible fraction of an object, in [0, 1] (default 0: only objects wholly
    /// outside the image are dropped).
    pub min_visibility: f64,
    /// Smallest clipped box area, pixels² (default 0).
    pub min_area: f64,
    /// Smallest shorter side of the clipped box, pixels (default 0).
    pub min_size: f64,
    /// Remove keypoints that leave the image instead of keeping them with visibility 0.
    pub drop_outside_keypoints: bool,
}

impl TargetOptions {
    /// Whether every option has its default value (the table is then not written).
    pub fn is_default(&self) -> bool {
        *self == TargetOptions::default()
    }

    /// Check the ranges; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.min_visibility) {
            return Err(format!(
                "min_visibility = {} is outside [0, 1]",
                self.min_visibility
            ));
        }
        for (key, v) in [("min_area", self.min_area), ("min_size", self.min_size)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{key} = {v} must be a finite number >= 0"));
            }
        }
        Ok(())
    }
}
