//! `wgsl-check OUT_DIR FILE.wgsl...`: parse and validate each WGSL module with naga, then write
//! it as SPIR-V (`OUT_DIR/<name>.spv`, for `spirv-val`), Metal Shading Language and HLSL.
//! Exits 1 with one line per failing module, naming the file, the stage and naga's error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use naga::back::{hlsl, msl, spv};
use naga::valid::{Capabilities, ValidationFlags, Validator};

fn translate(path: &Path, out_dir: &Path) -> Result<String, String> {
    let source = std::fs::read_to_string(path).map_err(|e| format!("read: {e}"))?;
    let module = naga::front::wgsl::parse_str(&source)
        .map_err(|e| format!("parse: {}", e.emit_to_string(&source)))?;
    // WebGPU's baseline: no optional capability, every validation on.
    let info = Validator::new(ValidationFlags::all(), Capabilities::empty())
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
        summary.push(write_all(&module, &info, &out_dir.join(name), checked)?);
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

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let Some(out_dir) = args.next() else {
        eprintln!("usage: wgsl-check OUT_DIR FILE.wgsl...");
        return ExitCode::from(2);
    };
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!("error: cannot create {}: {e}", out_dir.display());
        return ExitCode::from(1);
    }
    let mut failed = false;
    for path in args {
        match translate(&path, &out_dir) {
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
