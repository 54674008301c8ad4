//! `augtrain devices`: every adapter and the choice `--device auto` makes.

use clap::Args;

use crate::device;
use augtrain_run::config::DeviceChoice;

/// Flags of `augtrain devices`.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  augtrain devices\n  augtrain devices --json")]
pub struct DevicesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: DevicesArgs) -> crate::Result<()> {
    let adapters = device::list_adapters();
    let (auto, why) = device::pick(DeviceChoice::Auto, &adapters);
    let (gpu, gpu_why) = device::pick(DeviceChoice::Gpu, &adapters);
    if args.json {
        let v = serde_json::json!({
            "adapters": adapters,
            "auto": auto.map(|i| adapters[i].name.clone()).unwrap_or_else(|| "cpu".into()),
            "auto_reason": why,
            "gpu": gpu.map(|i| adapters[i].name.clone()),
            "gpu_reason": gpu_why,
        });
        say!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return Ok(());
    }
    if adapters.is_empty() {
        say!("no GPU adapters found");
    } else {
        let w = adapters
            .iter()
            .map(|a| a.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        say!("  #  {:<w$}  {:<7}  {:<15}  driver", "name", "api", "type");
        for (i, a) in adapters.iter().enumerate() {
            say!(
                "  {i}  {:<w$}  {:<7}  {:<15}  {}",
                a.name,
                a.api,
                a.kind,
                a.driver
            );
        }
    }
    say!();
    say!("--device auto: {why}");
    say!("--device gpu:  {gpu_why}");
    say!("--device cpu:  the CPU (burn Flex)");
    Ok(())
}
