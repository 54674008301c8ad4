//! `augtrain config --default`: print the default run config, commented.

use clap::Args;

use augtrain_run::config::TrainConfig;

/// Flags of `augtrain config`.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  augtrain config --default > run.toml && augtrain train --config run.toml --epochs 3"
)]
pub struct ConfigArgs {
    /// Print the default config with a comment above every key.
    #[arg(long)]
    default: bool,
}

pub fn run(args: ConfigArgs) -> crate::Result<()> {
    if !args.default {
        return Err(crate::Error::Usage(
            "nothing to do: use augtrain config --default".into(),
        ));
    }
    say_raw!("{}", TrainConfig::commented_default());
    Ok(())
}
