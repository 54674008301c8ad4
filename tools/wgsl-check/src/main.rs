//! `wgsl-check [--capabilities NAME,...] OUT_DIR FILE.wgsl...`: parse and validate each WGSL
//! module with naga, then write it as SPIR-V (`OUT_DIR/<name>.spv`, for `spirv-val`), Metal
//! Shading Language and HLSL. Exits 1 with one line per failing module, naming the file, the
//! stage and naga's error.
//!
//! Validation allows no optional capability (WebGPU's baseline) unless `--capabilities` names
//! some of naga's (`SHADER_INT64`, ...): the modules cubecl generates use what the adapter
//! offers. With `SHADER_INT64` the MSL and HLSL targets are those that have 64-bit integers
//! (MSL 2.3, shader model 6.0), as wgpu picks on such a Metal or DX12 device.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use naga::back::{hlsl, msl, spv};
use naga::valid::{Capabilities, ValidationFlags, Validator};

fn translate(path: &Path, out_dir: &Path, caps: Capabilities) -> Result<String, String> {
    let source = std::fs::read_to_string(path).map_err(|e| format!("read: {e}"))?;
    let module = naga::front::wgsl::parse_str(&source)
        .map_err(|e| format!("parse: {}", e.emit_to_string(&source)))?;
    // Every validation on; only the capabilities asked for.
    let info = Validator::new(ValidationFlags::all(), caps)
        .validate(&module)
        .map_err(|e| format!("validate: {}", e.emit_to_string(&source)))?;
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let mut summary = Vec::new();
    for checked in [true, false] {
        let name = if checked {
            stem.to_string()
        } else {
            format!("{stem}-unchecked")
        };
        summary.push(write_all(
            &module,
            &info,
            &out_dir.join(name),
            checked,
            caps,
        )?);
    }
    Ok(summary.join("; "))
}

/// Write `module` as `<base>.spv`, `.metal` and `.hlsl`: with naga's default runtime checks
/// (`checked`), or as cubecl compiles a kernel launched unchecked (no bounds checks, no loop
/// bounding: `cubecl-wgpu` `backend/base.rs`).
fn write_all(
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
    base: &Path,
    checked: bool,
    caps: Capabilities,
) -> Result<String, String> {
    let with = |ext: &str| base.with_extension(ext);
    let unchecked = naga::proc::BoundsCheckPolicies {
        index: naga::proc::BoundsCheckPolicy::Unchecked,
        buffer: naga::proc::BoundsCheckPolicy::Unchecked,
        image_load: naga::proc::BoundsCheckPolicy::Unchecked,
        binding_array: naga::proc::BoundsCheckPolicy::Unchecked,
    };

    let mut spv_options = spv::Options::default();
    let mut msl_options = msl::Options::default();
    let mut hlsl_options = hlsl::Options::default();
    if caps.contains(Capabilities::SHADER_INT64) {
        msl_options.lang_version = (2, 3);
        hlsl_options.shader_model = hlsl::ShaderModel::V6_0;
    }
    if !checked {
        spv_options.bounds_check_policies = unchecked;
        spv_options.force_loop_bounding = false;
        msl_options.bounds_check_policies = unchecked;
        msl_options.force_loop_bounding = false;
        hlsl_options.force_loop_bounding = false;
    }
    let words =
        spv::write_vec(module, info, &spv_options, None).map_err(|e| format!("SPIR-V: {e}"))?;
    std::fs::write(with("spv"), bytemuck_words(&words)).map_err(|e| format!("write: {e}"))?;

    let (metal, _) =
        msl::write_string(module, info, &msl_options, &msl::PipelineOptions::default())
            .map_err(|e| format!("MSL: {e}"))?;
    std::fs::write(with("metal"), &metal).map_err(|e| e.to_string())?;

    let mut hlsl_text = String::new();
    let pipeline = hlsl::PipelineOptions::default();
    hlsl::Writer::new(&mut hlsl_text, &hlsl_options, &pipeline)
        .write(module, info, None)
        .map_err(|e| format!("HLSL: {e}"))?;
    std::fs::write(with("hlsl"), &hlsl_text).map_err(|e| e.to_string())?;

    Ok(format!(
        "{}{} words of SPIR-V, {} bytes of MSL, {} bytes of HLSL",
        if checked { "" } else { "unchecked: " },
        words.len(),
        metal.len(),
        hlsl_text.len()
    ))
}

/// SPIR-V words as the little-endian bytes of a `.spv` file.
fn bytemuck_words(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// The capabilities named in `list` (comma-separated, naga's names), or the unknown name.
fn capabilities(list: &str) -> Result<Capabilities, String> {
    list.split(',')
        .filter(|n| !n.is_empty())
        .try_fold(Capabilities::empty(), |caps, name| {
            Capabilities::from_name(name)
                .map(|c| caps | c)
                .ok_or_else(|| format!("unknown naga capability {name:?}"))
        })
}

fn main() -> ExitCode {
    let usage = "usage: wgsl-check [--capabilities NAME,...] OUT_DIR FILE.wgsl...";
    let mut args = std::env::args_os().skip(1).map(PathBuf::from).peekable();
    let mut caps = Capabilities::empty();
    if args
        .peek()
        .is_some_and(|a| a.as_os_str() == "--capabilities")
    {
        args.next();
        let list = args.next().unwrap_or_default();
        match capabilities(&list.to_string_lossy()) {
            Ok(c) => caps = c,
            Err(e) => {
                eprintln!("error: {e}; {usage}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(out_dir) = args.next() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!("error: cannot create {}: {e}", out_dir.display());
        return ExitCode::from(1);
    }
    let mut failed = false;
    for path in args {
        match translate(&path, &out_dir, caps) {
            Ok(summary) => println!("{}: {summary}", path.display()),
            Err(e) => {
                eprintln!("error: {}: {}", path.display(), e.replace('\n', " "));
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
