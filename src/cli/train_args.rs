//! The flags of `augtrain train`, shared by the commands that train models (`cv`,
//! `label-issues`, `agreement`): the config file or run to start from, every config key's
//! flag, and where runs go.

use std::path::{Path, PathBuf};

use clap::Args;

use super::data_args::LoadArgs;
use super::key_flags::KeyFlags;
use crate::device;
use crate::{Error, augment};
use augtrain_run::config::DeviceChoice;
use augtrain_run::config::{AugmentConfig, TrainConfig};

/// Flags of `augtrain train`. Every flag overrides the config file (`--config`) or, with
/// `--resume`, the run's saved config.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain train                                   # built-in synthetic data, GPU if present
  augtrain train --data ../shared/data/mnist-10k --model cnn --epochs 5
  augtrain train --data DIR --augment pipeline.toml --device gpu
  augtrain train --data photos/ --model efficientnet-lite0 --pretrained efficientnet-lite0.pth --freeze backbone
  augtrain train --resume runs/mnist-10k-cnn-20261123-140509")]
pub struct TrainArgs {
    /// Dataset: IDX or CIFAR directory, image folder, CSV manifest or pack; omit for the
    /// built-in synthetic dataset.
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// A run config file (TOML); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Continue the run in this directory from its last checkpoint, on the images of the
    /// splits it recorded (any change to them is an error naming it). Settings of how it goes
    /// on (--epochs, --lr, --batch-size, --device, ...) may change; what it is (--model,
    /// --size, --pretrained, --classes, --seed, the split flags, ...) may not.
    #[arg(long, conflicts_with = "config")]
    pub(crate) resume: Option<PathBuf>,
    /// With --resume: images the data has gained since the run recorded its splits join the
    /// training split (without it they are an error; the validation and test splits never
    /// change).
    #[arg(long, requires = "resume")]
    pub(crate) allow_new_train_images: bool,
    /// Every flag that sets a config key (`--epochs`, `--lr`, `--model`, ...), from the
    /// config's key list.
    #[command(flatten)]
    keys: KeyFlags,
    /// Augmentation: default (for the data), none, or a pipeline file (.toml / .json).
    #[arg(long)]
    augment: Option<String>,
    #[command(flatten)]
    load: LoadArgs,
    /// Data-parallel training on several GPUs: all, or adapter numbers as `augtrain devices`
    /// lists them (0,1,...); the first is the main device.
    #[arg(long, value_parser = device::parse_device_list, conflicts_with = "device")]
    devices: Option<device::DeviceList>,
    /// Parent directory of run directories.
    #[arg(long, default_value = "runs")]
    pub(crate) runs_dir: PathBuf,
    /// Run name (directory under --runs-dir); default <data>-<model>-<time>.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Print nothing.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// If a batch does not fit in the GPU's memory, train on the CPU instead of failing
    /// (the run's config then records device = "cpu").
    #[arg(long)]
    pub(crate) cpu_fallback: bool,
}

impl TrainArgs {
    /// The config: the file's (or the resumed run's, or the defaults), with flags applied.
    pub(crate) fn config(&self) -> crate::Result<TrainConfig> {
        let base = match (&self.resume, &self.config) {
            (Some(dir), _) => augtrain_run::RunDir::open(dir)?.config()?,
            (None, Some(path)) => TrainConfig::read_file(path)?,
            (None, None) => TrainConfig::default(),
        };
        let c = self.with_flags(base.clone())?;
        if let (Some(dir), Some((flag, was, asked))) = (&self.resume, base.resume_conflict(&c)) {
            return Err(Error::Usage(format!(
                "--resume {}: the run was made with {flag} {was}, and a resumed run cannot change it (asked: {asked}); start a new run to change it",
                crate::util::escape::escape_path(dir)
            )));
        }
        Ok(c)
    }

    /// The whole dataset at `data` (every split), loaded as the config ([`Self::config`]) says.
    pub(crate) fn load_whole(&self, data: &Path) -> crate::Result<crate::data::Dataset> {
        let mut cfg = self.config()?;
        cfg.data.path = Some(data.to_path_buf());
        let source = cfg.data.source()?;
        Ok(crate::data::source::load_whole(&source, &cfg.data, cfg.seed)?.data)
    }

    /// `c` with the flags given applied, validated.
    fn with_flags(&self, c: TrainConfig) -> crate::Result<TrainConfig> {
        let usage = |e: augtrain_run::config::ConfigError| Error::Usage(e.to_string());
        let mut c = c
            .with_overrides(self.keys.0.iter().cloned())
            .map_err(usage)?;
        // Weights given here fine-tune with the pretrained recipe in the keys no flag sets
        // (a --config file's or a resumed run's values stand).
        if self.keys.has("model.pretrained") && self.resume.is_none() && self.config.is_none() {
            c = c.with_pretrained_recipe(|key| self.keys.has(key));
        }
        if let Some(p) = &self.data {
            c.data.path = Some(p.clone());
        }
        // The ImageNet evaluation crop: weights given here load at 256 for a 224 input,
        // unless told (or resuming, where the run's size stands).
        if let (true, None, None, Some(input)) = (
            self.keys.has("model.pretrained"),
            self.load.size,
            &self.resume,
            c.model.kind.imagenet_input(),
        ) {
            c.data.size = [input.load_size; 2];
        }
        if let Some(list) = &self.devices {
            c.devices = list.0.clone();
            c.device = DeviceChoice::Gpu;
        }
        self.load.apply(&mut c.data);
        if let Some(a) = &self.augment {
            c.augment = match a.as_str() {
                "default" => AugmentConfig::Default,
                "none" => AugmentConfig::None,
                path => AugmentConfig::Pipeline {
                    spec: augment::load_spec(std::path::Path::new(path))?,
                },
            };
        }
        c.validate().map_err(usage)?;
        Ok(c)
    }

    /// The config of the fold models of a cross-validation of `data`: these flags, with the
    /// data given once (positionally) and no run to resume or name.
    pub(crate) fn fold_config(&self, data: &Path) -> crate::Result<TrainConfig> {
        if self.resume.is_some() {
            return Err(Error::Usage(
                "--resume does not apply to cross-validation".into(),
            ));
        }
        if self.data.is_some() {
            return Err(Error::Usage(
                "give the dataset once, as the positional DATA".into(),
            ));
        }
        if self.name.is_some() {
            return Err(Error::Usage(
                "--name does not apply to cross-validation; choose the output with --out".into(),
            ));
        }
        let mut cfg = self.config()?;
        cfg.data.path = Some(data.to_path_buf());
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::data::balance::{Balance, SamplingStrategy};
    use crate::metrics::ZeroDivision;
    use augtrain_run::config::{Freeze, LossKind, ModelKind, OptimizerKind, ScheduleKind};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: TrainArgs,
    }

    fn parse(flags: &[&str]) -> Result<TrainArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("train").chain(flags.iter().copied())).map(|c| c.args)
    }

    /// Every flag that sets a config key sets the same key to the same value as the
    /// hand-written `TrainArgs` fields did before the flags were built from the key list.
    #[test]
    fn every_key_flag_sets_its_key_as_before() {
        let flags = "--device cpu --model Resnet-Small --hidden 7 --dropout 0.3 --freeze none \
            --backbone-lr-scale 0.5 --loss MSE --optimizer adamw --lr 0.003 --momentum 0.8 \
            --weight-decay 0.01 --decay-biases-and-norms false --clip-grad-norm 1.5 \
            --label-smoothing 0.1 --warmup-epochs 1 --tta-flip --schedule none --step-size 2 \
            --gamma 0.5 --min-lr 0.001 --batch-size 16 --epochs 3 --seed 9 --val-fraction 0.2 \
            --test-fraction 0.3 --balance oversample --sampling-strategy a=1,b=2 \
            --resident-fraction 0.5 --resident-budget 4096 --sync-every 4 --synthetic-train 100 --synthetic-test 50 \
            --synthetic-size 16 --zero-division nan";
        let flags: Vec<&str> = flags.split_whitespace().collect();
        let got = parse(&flags).unwrap().config().unwrap();
        let mut want = TrainConfig {
            device: DeviceChoice::Cpu,
            ..TrainConfig::default()
        };
        want.model.kind = ModelKind::ResnetSmall;
        want.model.hidden = 7;
        want.model.dropout = 0.3;
        want.model.freeze = Freeze::None;
        want.optimizer.backbone_lr_scale = 0.5;
        want.loss = LossKind::Mse;
        want.optimizer.kind = OptimizerKind::Adamw;
        want.optimizer.lr = Some(0.003);
        want.optimizer.momentum = 0.8;
        want.optimizer.weight_decay = 0.01;
        want.optimizer.decay_biases_and_norms = false;
        want.optimizer.clip_grad_norm = 1.5;
        want.label_smoothing = 0.1;
        want.schedule.warmup_epochs = 1;
        want.tta_flip = true;
        want.schedule.kind = ScheduleKind::Constant;
        want.schedule.step_size = 2;
        want.schedule.gamma = 0.5;
        want.schedule.min_lr = 0.001;
        want.batch_size = 16;
        want.epochs = 3;
        want.seed = 9;
        want.data.val_fraction = 0.2;
        want.data.test_fraction = 0.3;
        want.balance = Balance::Oversample;
        want.sampling_strategy =
            SamplingStrategy::Counts([("a".into(), 1), ("b".into(), 2)].into());
        want.resident_fraction = 0.5;
        want.resident_budget = 4096;
        want.sync_every = 4;
        want.data.synthetic_train = 100;
        want.data.synthetic_test = 50;
        want.data.synthetic_size = 16;
        want.zero_division = ZeroDivision::Nan;
        assert_eq!(got, want);
        // Nothing given: the defaults.
        assert_eq!(
            parse(&[]).unwrap().config().unwrap(),
            TrainConfig::default()
        );
    }

    #[test]
    fn flags_with_a_meaning_of_their_own_keep_it() {
        // Pretrained ImageNet weights load at 256 for the 224 input, unless --size says.
        let args = ["--model", "resnet18", "--pretrained", "w.pth"];
        let c = parse(&args).unwrap().config().unwrap();
        assert_eq!(c.model.pretrained, Some("w.pth".into()));
        assert_eq!(c.data.size, [256, 256]);
        let sized = [&args[..], &["--size", "32"]].concat();
        assert_eq!(parse(&sized).unwrap().config().unwrap().data.size, [32, 32]);
        let c = parse(&["--devices", "0,1"]).unwrap().config().unwrap();
        assert_eq!((c.devices, c.device), (vec![0, 1], DeviceChoice::Gpu));
        assert!(parse(&["--devices", "0,1", "--device", "cpu"]).is_err());
    }

    #[test]
    fn pretrained_weights_bring_the_fine_tuning_recipe_where_no_flag_sets_it() {
        use augtrain_run::config::PretrainedRecipe;
        let r = PretrainedRecipe::DEFAULT;
        let c = parse(&["--model", "efficientnet-lite0", "--pretrained", "w.pth"])
            .unwrap()
            .config()
            .unwrap();
        assert_eq!((c.epochs, c.batch_size), (r.epochs, r.batch_size));
        assert_eq!(c.lr(), r.sgd_lr);
        assert_eq!(c.optimizer.backbone_lr_scale, r.backbone_lr_scale);
        assert_eq!(c.schedule.kind, ScheduleKind::Cosine);
        // Each flag given wins over the recipe; the others stay the recipe's.
        let c = parse(&[
            "--pretrained",
            "w.pth",
            "--epochs",
            "3",
            "--lr",
            "0.02",
            "--backbone-lr-scale",
            "0.5",
        ])
        .unwrap()
        .config()
        .unwrap();
        assert_eq!((c.epochs, c.batch_size, c.lr()), (3, r.batch_size, 0.02));
        assert_eq!(c.optimizer.backbone_lr_scale, 0.5);
        // Adam keeps its own default rate; without weights nothing changes.
        let c = parse(&["--pretrained", "w.pth", "--optimizer", "adam"])
            .unwrap()
            .config()
            .unwrap();
        assert_eq!((c.lr(), c.epochs), (0.001, r.epochs));
        let plain = parse(&["--model", "efficientnet-lite0"])
            .unwrap()
            .config()
            .unwrap();
        assert_eq!((plain.epochs, plain.batch_size), (10, 64));
    }

    #[test]
    fn bad_values_are_usage_errors_naming_the_flag() {
        for (flags, expect) in [
            (&["--momentum", "abc"][..], "--momentum"),
            (&["--model", "rnn"][..], "`mlp`"),
            (&["--zero-division", "2"][..], "nan"),
            (&["--sampling-strategy", "a=x"][..], "whole number"),
            (&["--epochs", "-1"][..], "-1"),
            (&["--epochs", "x"][..], "--epochs"),
            (&["--tta-flip", "true"][..], "true"),
        ] {
            let e = parse(flags).err().unwrap_or_else(|| panic!("{flags:?}"));
            assert_eq!(e.exit_code(), 2, "{flags:?}");
            assert!(e.to_string().contains(expect), "{flags:?}: {e}");
        }
        let e = parse(&["--momentum", "1.5"]).unwrap().config().unwrap_err();
        assert!(
            matches!(&e, Error::Usage(m) if m.contains("momentum 1.5")),
            "{e}"
        );
    }
}
