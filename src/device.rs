//! Choosing the compute device without ever panicking.
//!
//! `auto` takes a real (non-software) GPU adapter when there is one, else the CPU (burn's Flex
//! backend). `gpu` also accepts software adapters (Mesa lavapipe / llvmpipe), which is how tests
//! exercise the WGSL path on machines without a GPU. `cpu` always takes Flex.

use std::fmt;

use burn::tensor::wgpu::{WgpuBackend, wgpu};
use burn::tensor::{Device, DeviceKind};

/// Set the environment augtrain's devices expect, for programs built on the library (the CLI
/// calls it first thing): burn's default device is the CPU (loaded optimizer state is
/// materialized there, so resuming never probes for a GPU), and Mesa gets a runtime directory
/// (`XDG_RUNTIME_DIR`, the temp dir when unset) instead of printing an error on every start.
///
/// # Safety
/// Sets environment variables: call it before any other thread starts.
pub unsafe fn prepare_environment() {
    // SAFETY: the caller guarantees no other thread runs yet.
    unsafe {
        std::env::set_var("BURN_DEVICE", "flex");
        if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
            std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
        }
    }
}

use augtrain_run::config::DeviceChoice;

/// A failure to provide the requested device.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// `--device gpu` but no adapter exists.
    #[error(
        "no GPU adapter found (Vulkan, Metal, DX12 or OpenGL); install a GPU driver (or Mesa's software Vulkan driver: apt-get install mesa-vulkan-drivers), or use --device cpu"
    )]
    NoAdapter,
    /// `--devices` names an adapter that does not exist.
    #[error(
        "--devices names adapter {index} but there are {count} (numbered from 0 as `augtrain devices` lists them); use those numbers or --devices all"
    )]
    NoSuchAdapter {
        /// The index asked for.
        index: usize,
        /// Adapters present.
        count: usize,
    },
    /// `--devices all` on a machine without a hardware GPU.
    #[error("{0}")]
    NoHardwareGpu(String),
    /// The adapter exists but could not be started.
    #[error("cannot start GPU adapter '{adapter}': {reason}; try --device cpu")]
    Init {
        /// The adapter's name.
        adapter: String,
        /// wgpu's / cubecl's reason.
        reason: String,
    },
}

/// One wgpu adapter as the system reports it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterInfo {
    /// Adapter name, e.g. "NVIDIA H100 80GB HBM3" or "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// Graphics API: Vulkan, Metal, Dx12, Gl.
    pub api: String,
    /// Discrete, integrated, virtual, CPU (software) or other.
    pub kind: String,
    /// Driver name and version.
    pub driver: String,
    /// Whether it is a software rasterizer (wgpu reports `DeviceType::Cpu`).
    pub software: bool,
    /// Bytes of its largest device-local memory heap, where the platform reports it (Vulkan
    /// adapters; `None` elsewhere).
    pub memory: Option<u64>,
    #[serde(skip)]
    backend: wgpu::Backend,
    #[serde(skip)]
    device_type: wgpu::DeviceType,
    /// Index among adapters of the same API and type (burn's `DeviceKind` index).
    #[serde(skip)]
    index: usize,
}

/// Every adapter wgpu can see, over Vulkan, Metal, DX12 and OpenGL, in that order.
pub fn list_adapters() -> Vec<AdapterInfo> {
    let mut out = Vec::new();
    for backend in [
        wgpu::Backend::Vulkan,
        wgpu::Backend::Metal,
        wgpu::Backend::Dx12,
        wgpu::Backend::Gl,
    ] {
        if !wgpu::Instance::enabled_backend_features().contains(backend.into()) {
            continue;
        }
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: backend.into(),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapters = pollster::block_on(instance.enumerate_adapters(backend.into()));
        let mut counts = std::collections::HashMap::new();
        for adapter in adapters {
            let info = adapter.get_info();
            let index = counts
                .entry(format!("{:?}", info.device_type))
                .or_insert(0usize);
            let kind = match info.device_type {
                wgpu::DeviceType::DiscreteGpu => "discrete GPU",
                wgpu::DeviceType::IntegratedGpu => "integrated GPU",
                wgpu::DeviceType::VirtualGpu => "virtual GPU",
                wgpu::DeviceType::Cpu => "software (CPU)",
                wgpu::DeviceType::Other => "other",
            };
            let driver = [info.driver.as_str(), info.driver_info.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            out.push(AdapterInfo {
                name: info.name.clone(),
                api: format!("{:?}", info.backend),
                kind: kind.into(),
                driver,
                software: info.device_type == wgpu::DeviceType::Cpu,
                memory: vulkan_memory(&adapter),
                backend: info.backend,
                device_type: info.device_type,
                index: *index,
            });
            *index += 1;
        }
    }
    out
}

/// The size of `adapter`'s largest device-local memory heap when it is a Vulkan adapter (the
/// figure cubecl reads only in its SPIR-V build, which augtrain does not use).
#[cfg(not(target_family = "wasm"))]
fn vulkan_memory(adapter: &wgpu::Adapter) -> Option<u64> {
    // SAFETY: the hal adapter is only read, while `adapter` keeps it alive.
    let hal = unsafe { adapter.as_hal::<wgpu::hal::api::Vulkan>() }?;
    let instance = hal.shared_instance().raw_instance();
    // SAFETY: the physical device belongs to this instance.
    let props =
        unsafe { instance.get_physical_device_memory_properties(hal.raw_physical_device()) };
    // VK_MEMORY_HEAP_DEVICE_LOCAL_BIT
    const DEVICE_LOCAL: u32 = 1;
    props.memory_heaps[..props.memory_heap_count as usize]
        .iter()
        .filter(|h| h.flags.as_raw() & DEVICE_LOCAL != 0)
        .map(|h| h.size)
        .max()
}

/// The adapter `choice` selects among `adapters`, with the reason, or `None` for the CPU.
pub fn pick(choice: DeviceChoice, adapters: &[AdapterInfo]) -> (Option<usize>, String) {
    let rank = |a: &AdapterInfo| match a.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    let best = |allow_software: bool| {
        adapters
            .iter()
            .enumerate()
            .filter(|(_, a)| allow_software || !a.software)
            .min_by_key(|(i, a)| (rank(a), *i))
            .map(|(i, _)| i)
    };
    match choice {
        DeviceChoice::Cpu => (None, "the CPU (burn Flex)".into()),
        DeviceChoice::Gpu => match best(true) {
            Some(i) => (
                Some(i),
                format!(
                    "the best adapter, '{}' ({}){}",
                    adapters[i].name,
                    adapters[i].kind,
                    if adapters[i].software { ", a software adapter: correct but slow" } else { "" }
                ),
            ),
            None => (None, "no adapter at all".into()),
        },
        DeviceChoice::Auto => match best(false) {
            Some(i) => (
                Some(i),
                format!("the hardware GPU '{}' ({})", adapters[i].name, adapters[i].kind),
            ),
            None if adapters.is_empty() => {
                (None, "no GPU adapter, so the CPU (burn Flex)".into())
            }
            None => (
                None,
                "only software adapters (slower than the CPU backend), so the CPU (burn Flex); --device gpu would take them".into(),
            ),
        },
    }
}

/// The device training runs on.
#[derive(Clone)]
pub struct ComputeDevice {
    /// The burn device (without autodiff).
    pub device: Device,
    /// The adapter, when on a GPU.
    pub adapter: Option<AdapterInfo>,
    /// Why this device was chosen.
    pub reason: String,
}

impl ComputeDevice {
    /// Whether this is a wgpu device (the fused kernel can run on it).
    pub fn is_gpu(&self) -> bool {
        self.adapter.is_some()
    }

    /// A one-line description, e.g. "GPU 'NVIDIA H100' (Vulkan, discrete GPU)" or "CPU (Flex)".
    pub fn describe(&self) -> String {
        match &self.adapter {
            Some(a) => format!("GPU '{}' ({}, {})", a.name, a.api, a.kind),
            None => "CPU (burn Flex)".into(),
        }
    }
}

impl fmt::Debug for ComputeDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// wgpu runtimes can be initialized once per process: remember the devices opened so far.
static OPENED: std::sync::Mutex<Vec<(String, Device)>> = std::sync::Mutex::new(Vec::new());

fn init_once(kind: DeviceKind, api: WgpuBackend) -> Result<Device, String> {
    let key = format!("{kind:?}/{api:?}");
    let mut opened = OPENED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, d)) = opened.iter().find(|(k, _)| *k == key) {
        return Ok(d.clone());
    }
    let device = Device::wgpu_options()
        .device_kind(kind)
        .graphics_api(api)
        .init()
        .map_err(|e| e.to_string())?;
    opened.push((key, device.clone()));
    Ok(device)
}

/// Start `adapter` as a burn device (once per process; later calls return the same device).
fn open_adapter(adapter: &AdapterInfo) -> Result<Device, String> {
    let kind = match adapter.device_type {
        wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu(adapter.index),
        wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu(adapter.index),
        wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu(adapter.index),
        wgpu::DeviceType::Cpu => DeviceKind::Cpu,
        wgpu::DeviceType::Other => DeviceKind::DefaultDevice,
    };
    let api = match adapter.backend {
        wgpu::Backend::Vulkan => WgpuBackend::Vulkan,
        wgpu::Backend::Metal => WgpuBackend::Metal,
        wgpu::Backend::Dx12 => WgpuBackend::Dx12,
        wgpu::Backend::Gl => WgpuBackend::Gl,
        _ => WgpuBackend::Auto,
    };
    init_once(kind, api)
}

/// The adapters `--devices all` means: every hardware adapter of the first graphics API that
/// has one (another API's view of the same GPU is left out). Software adapters (Mesa's
/// lavapipe, llvmpipe) are never among them: they are slower than the CPU backend, and
/// training on one by accident is not what "all GPUs" asks for; name them by number
/// (`--devices 0`) to use them anyway.
pub fn all_devices(adapters: &[AdapterInfo]) -> Vec<usize> {
    let hardware: Vec<usize> = (0..adapters.len())
        .filter(|&i| !adapters[i].software)
        .collect();
    match hardware.first() {
        Some(&first) => hardware
            .into_iter()
            .filter(|&i| adapters[i].backend == adapters[first].backend)
            .collect(),
        None => Vec::new(),
    }
}

/// The error of `--devices all` on a machine whose adapters (if any) are all software ones.
fn no_hardware_gpu(adapters: &[AdapterInfo]) -> String {
    if adapters.is_empty() {
        return "--devices all: no GPU adapter found; see `augtrain devices`".into();
    }
    let names: Vec<String> = adapters
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{i}: {} ({})", a.name, a.api))
        .collect();
    format!(
        "--devices all: no hardware GPU, only software adapters ({}), which are slower than the CPU; drop --devices to train on one device, or name them by number (--devices 0) to use them anyway",
        names.join(", ")
    )
}

/// Open the adapters numbered `indices` (as `augtrain devices` lists them; empty = `all`),
/// each as its own device, for data-parallel training. Indices must be distinct.
pub fn open_many(indices: &[usize]) -> Result<Vec<ComputeDevice>, DeviceError> {
    let adapters = list_adapters();
    if adapters.is_empty() {
        return Err(DeviceError::NoAdapter);
    }
    let indices = if indices.is_empty() {
        let all = all_devices(&adapters);
        if all.is_empty() {
            return Err(DeviceError::NoHardwareGpu(no_hardware_gpu(&adapters)));
        }
        all
    } else {
        indices.to_vec()
    };
    indices
        .iter()
        .map(|&index| {
            let adapter = adapters.get(index).ok_or(DeviceError::NoSuchAdapter {
                index,
                count: adapters.len(),
            })?;
            let device = open_adapter(adapter).map_err(|reason| DeviceError::Init {
                adapter: adapter.name.clone(),
                reason,
            })?;
            Ok(ComputeDevice {
                device,
                adapter: Some(adapter.clone()),
                reason: format!("--devices: adapter {index}"),
            })
        })
        .collect()
}

/// The main training device of a config: the first of `devices` when it names several for
/// data-parallel training, else the one `device` asks for.
pub fn open_main(choice: DeviceChoice, devices: &[usize]) -> Result<ComputeDevice, DeviceError> {
    match devices.first() {
        Some(&first) => Ok(open_many(&[first])?.remove(0)),
        None => open(choice),
    }
}

/// Adapter numbers for data-parallel training, as `--devices` gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceList(pub Vec<usize>);

/// Parse `--devices`: `all` (every hardware GPU, see [`all_devices`]) or adapter numbers
/// `0,1,...` as `augtrain devices` lists them.
pub fn parse_device_list(text: &str) -> Result<DeviceList, String> {
    if text.trim().eq_ignore_ascii_case("all") {
        let adapters = list_adapters();
        let all = all_devices(&adapters);
        if all.is_empty() {
            return Err(no_hardware_gpu(&adapters));
        }
        return Ok(DeviceList(all));
    }
    text.split(',')
        .map(|p| {
            p.trim().parse::<usize>().map_err(|_| {
                format!("--devices '{text}': expected all or adapter numbers like 0,1 (see `augtrain devices`)")
            })
        })
        .collect::<Result<_, _>>()
        .map(DeviceList)
}

/// Open the device `choice` asks for. Never panics: no adapter with `gpu` is an error, and
/// `auto` falls back to the CPU when the GPU cannot start.
pub fn open(choice: DeviceChoice) -> Result<ComputeDevice, DeviceError> {
    let cpu = |reason: String| ComputeDevice {
        device: Device::flex(),
        adapter: None,
        reason,
    };
    if choice == DeviceChoice::Cpu {
        return Ok(cpu("--device cpu".into()));
    }
    let adapters = list_adapters();
    let (picked, reason) = pick(choice, &adapters);
    let Some(i) = picked else {
        return match choice {
            DeviceChoice::Gpu => Err(DeviceError::NoAdapter),
            _ => Ok(cpu(reason)),
        };
    };
    let adapter = adapters[i].clone();
    match open_adapter(&adapter) {
        Ok(device) => Ok(ComputeDevice {
            device,
            adapter: Some(adapter),
            reason,
        }),
        Err(e) if choice == DeviceChoice::Auto => Ok(cpu(format!(
            "the GPU '{}' failed to start ({e}), so the CPU (burn Flex)",
            adapter.name
        ))),
        Err(reason) => Err(DeviceError::Init {
            adapter: adapter.name,
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(name: &str, backend: wgpu::Backend, device_type: wgpu::DeviceType) -> AdapterInfo {
        AdapterInfo {
            name: name.into(),
            api: format!("{backend:?}"),
            kind: format!("{device_type:?}"),
            driver: String::new(),
            software: device_type == wgpu::DeviceType::Cpu,
            memory: None,
            backend,
            device_type,
            index: 0,
        }
    }

    /// `--devices all` means hardware GPUs: a machine with only lavapipe and llvmpipe gets an
    /// error naming them (it took lavapipe before), one with GPUs gets the GPUs of one API.
    #[test]
    fn devices_all_takes_only_hardware_adapters() {
        use wgpu::{Backend, DeviceType};
        let software = [
            adapter(
                "llvmpipe (LLVM 15.0.6, 256 bits)",
                Backend::Vulkan,
                DeviceType::Cpu,
            ),
            adapter(
                "llvmpipe (LLVM 15.0.6, 256 bits)",
                Backend::Gl,
                DeviceType::Cpu,
            ),
        ];
        assert!(all_devices(&software).is_empty());
        let why = no_hardware_gpu(&software);
        assert!(why.contains("only software adapters (0: llvmpipe"), "{why}");
        assert!(why.contains("--devices 0"), "{why}");
        let mixed = [
            adapter("llvmpipe", Backend::Vulkan, DeviceType::Cpu),
            adapter("NVIDIA H100", Backend::Vulkan, DeviceType::DiscreteGpu),
            adapter("NVIDIA H100", Backend::Vulkan, DeviceType::DiscreteGpu),
            adapter("NVIDIA H100", Backend::Gl, DeviceType::DiscreteGpu),
        ];
        assert_eq!(all_devices(&mixed), vec![1, 2]);
        assert!(no_hardware_gpu(&[]).contains("no GPU adapter found"));
    }
}
