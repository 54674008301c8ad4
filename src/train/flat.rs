//! A model's weights and gradients as one contiguous buffer, so that a data-parallel step moves
//! one tensor per device each way instead of one per parameter (burn 0.22 moves a tensor
//! between wgpu devices through the host: one blocking read per tensor).
//!
//! A buffer holds its tensors flattened in the order [`Module::visit`] meets them, which is the
//! same on every copy of a model (a copy keeps the structure and the parameter ids).

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;

use crate::model::Model;

/// Every float tensor of `model` (parameters and running statistics), flattened into one
/// tensor on its device without autodiff.
pub fn weights(model: &Model) -> Tensor<1> {
    struct Gather(Vec<Tensor<1>>);
    impl ModuleVisitor for Gather {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val().inner();
            let n = value.shape().num_elements();
            self.0.push(value.reshape([n]));
        }
    }
    let mut gather = Gather(Vec::new());
    model.visit(&mut gather);
    Tensor::cat(gather.0, 0)
}

/// `model` with every float tensor replaced by its part of `flat` (as [`weights`] lays it out),
/// on `flat`'s device; the tensors that required a gradient still do. `model` may live on
/// another device: its structure and parameter ids are kept.
pub fn load_weights(model: Model, flat: Tensor<1>) -> Model {
    struct Load {
        flat: Tensor<1>,
        offset: usize,
    }
    impl ModuleMapper for Load {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|old| {
                let dims = old.dims();
                let n = dims.iter().product::<usize>();
                let part = self.flat.clone().narrow(0, self.offset, n).reshape(dims);
                self.offset += n;
                let value = Tensor::from_inner(part);
                if old.is_require_grad() {
                    value.require_grad()
                } else {
                    value
                }
            })
        }
    }
    model.map(&mut Load { flat, offset: 0 })
}

/// Which parameters have a gradient, in visiting order: the layout of a gradient buffer.
#[derive(Clone, Debug)]
pub struct GradLayout {
    ids: Vec<ParamId>,
    /// Values in a buffer (the gradients' elements).
    pub len: usize,
}

impl GradLayout {
    /// The layout of `grads`, the gradients of `model`.
    pub fn of(model: &Model, grads: &GradientsParams) -> Self {
        struct Find<'a>(&'a GradientsParams, GradLayout);
        impl ModuleVisitor for Find<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if let Some(g) = self.0.get::<D>(param.id) {
                    self.1.ids.push(param.id);
                    self.1.len += g.shape().num_elements();
                }
            }
        }
        let mut find = Find(
            grads,
            GradLayout {
                ids: Vec::new(),
                len: 0,
            },
        );
        model.visit(&mut find);
        find.1
    }

    /// The gradients `grads` of `model` (a copy with the same parameter ids) flattened into one
    /// tensor on `device` (without autodiff), in this layout; a parameter of the layout
    /// without a gradient in `grads` contributes zeros.
    pub fn flatten(&self, model: &Model, mut grads: GradientsParams, device: &Device) -> Tensor<1> {
        struct Flatten<'a> {
            layout: &'a GradLayout,
            grads: &'a mut GradientsParams,
            device: &'a Device,
            next: usize,
            parts: Vec<Tensor<1>>,
        }
        impl ModuleVisitor for Flatten<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if self.layout.ids.get(self.next) != Some(&param.id) {
                    return;
                }
                self.next += 1;
                let n = param.shape().num_elements();
                self.parts.push(match self.grads.remove::<D>(param.id) {
                    Some(g) => g.inner().reshape([n]),
                    None => Tensor::zeros([n], self.device),
                });
            }
        }
        let mut flatten = Flatten {
            layout: self,
            grads: &mut grads,
            device,
            next: 0,
            parts: Vec::new(),
        };
        model.visit(&mut flatten);
        Tensor::cat(flatten.parts, 0)
    }

    /// The gradients of `model` from the first [`GradLayout::len`] values of `flat`, on
    /// `flat`'s device.
    pub fn split(&self, model: &Model, flat: Tensor<1>) -> GradientsParams {
        struct Split<'a> {
            layout: &'a GradLayout,
            flat: Tensor<1>,
            offset: usize,
            next: usize,
            grads: GradientsParams,
        }
        impl ModuleVisitor for Split<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if self.layout.ids.get(self.next) != Some(&param.id) {
                    return;
                }
                self.next += 1;
                let shape = param.shape();
                let n = shape.num_elements();
                let part = self.flat.clone().narrow(0, self.offset, n);
                self.offset += n;
                self.grads.register::<D>(param.id, part.reshape(shape));
            }
        }
        let mut split = Split {
            layout: self,
            flat,
            offset: 0,
            next: 0,
            grads: GradientsParams::new(),
        };
        model.visit(&mut split);
        split.grads
    }
}
