//! The bridge between the fused augmentation kernel and burn's *fused* cubecl backend.
//!
//! With burn's `fusion` feature a tensor on a cubecl device is a lazy [`FusionTensor`]: burn
//! queues operations on a fusion server, which merges runs of them into generated kernels and
//! launches them when a result is needed. Our kernel is launched on the cubecl client directly,
//! so it needs the buffers behind such tensors, and burn must take the buffer it writes as one
//! of its own tensors:
//!
//! - [`cube_tensor`]: the server first runs what is queued for the tensor on the calling
//!   thread's stream (launches only: nothing is read back, the host does not wait for the
//!   device), then hands out its [`CubeTensor`].
//! - [`float_tensor`] / [`int_tensor`]: register a [`CubeTensor`] written by our kernel with the
//!   fusion server as an initialised tensor (an `Init` operation that runs nothing, exactly as
//!   burn registers an upload), on the calling thread's stream, so the fused operations that
//!   consume it are queued after our launch on the same cubecl stream.

use burn::backend::Cube;
use burn::backend::TensorMetadata;
use burn::backend::fusion::stream::StreamId;
use burn::backend::fusion::{FusionTensor, NoOp, get_client};
use burn::backend::ir::{BackendIr, InitOperationIr, OperationIr, OperationOutput};
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::cubecl::Device as CubeDevice;
use burn::tensor::{DType, Int, Shape, Tensor};

/// The fused backend's tensor type on cubecl devices.
type Fused = FusionTensor<<CubeBackend as burn::backend::fusion::FusionBackend>::FusionRuntime>;

/// The cubecl tensor behind `tensor` (a float tensor on a cubecl device, not autodiff), with
/// every operation queued for it launched first. `Err` names the backend the tensor is on.
pub fn cube_tensor<const D: usize>(tensor: Tensor<D>) -> Result<CubeTensor, String> {
    let fused = tensor
        .try_into_primitive::<Cube>()
        .map_err(|e| format!("{e:?}"))?;
    let client = fused.client.clone();
    Ok(client.resolve_tensor_float::<CubeBackend>(fused))
}

/// `tensor` (an `f32` buffer our kernel writes) as a burn float tensor of the fused backend.
pub fn float_tensor<const D: usize>(tensor: CubeTensor) -> Tensor<D> {
    let (device, shape, dtype) = (tensor.device.clone(), tensor.shape(), tensor.dtype);
    let handle = <CubeBackend as BackendIr>::float_tensor_handle(tensor);
    Tensor::<D>::from_primitive::<Cube>(register(&device, shape, dtype, handle))
}

/// `tensor` (an `i32` buffer our kernel writes) as a burn int tensor of the fused backend.
pub fn int_tensor<const D: usize>(tensor: CubeTensor) -> Tensor<D, Int> {
    let (device, shape, dtype) = (tensor.device.clone(), tensor.shape(), tensor.dtype);
    let handle = <CubeBackend as BackendIr>::int_tensor_handle(tensor);
    Tensor::<D, Int>::from_primitive::<Cube>(register(&device, shape, dtype, handle))
}

/// Register `handle` with the fusion server of `device` as an initialised tensor of `shape`
/// and `dtype`.
fn register(
    device: &CubeDevice,
    shape: Shape,
    dtype: DType,
    handle: <CubeBackend as BackendIr>::Handle,
) -> Fused {
    let client = get_client::<CubeBackend>(device);
    let desc = InitOperationIr::create(shape, dtype, || client.register_tensor_handle(handle));
    client
        .register(
            StreamId::current(),
            OperationIr::Init(desc),
            NoOp::<CubeBackend>::new(),
        )
        .output()
}
