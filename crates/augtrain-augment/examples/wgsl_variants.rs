//! `wgsl_variants OUT_DIR`: write the WGSL of a covering set of the fused kernel's variants
//! (every specialised constant at each of its values, with every op and with none; see
//! `Variant::covering_set`) as `OUT_DIR/augment-<variant>.wgsl`, for `tools/check-wgsl.sh`.

use std::path::PathBuf;
use std::process::ExitCode;

use augtrain_augment::variant::Variant;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: wgsl_variants OUT_DIR");
        return ExitCode::from(2);
    };
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("error: cannot create {}: {e}", out.display());
        return ExitCode::from(1);
    }
    for v in Variant::covering_set() {
        let path = out.join(format!("augment-{}.wgsl", v.name()));
        if let Err(e) = std::fs::write(&path, v.source()) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
        println!("{}", path.display());
    }
    ExitCode::SUCCESS
}
