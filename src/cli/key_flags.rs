//! The `augtrain train` flags that set a run-config key, built from the config's own key list
//! (`augtrain_run::config::keys::KEYS`): each key with a flag becomes `--flag VALUE` with
//! the key's description, config path and default as help. Adding a key there adds its flag
//! here, with nothing to write in the CLI.

use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches};

use augtrain_run::config::TrainConfig;
use augtrain_run::config::keys::{Flag, KEYS, Key};

/// The config keys given on the command line, in [`KEYS`] order, with their values as
/// the key's TOML would hold them.
#[derive(Debug, Clone, Default)]
pub struct KeyFlags(pub Vec<(&'static str, toml::Value)>);

impl KeyFlags {
    /// Whether the flag of `path` was given.
    pub fn has(&self, path: &str) -> bool {
        self.0.iter().any(|(p, _)| *p == path)
    }
}

/// The key's value in the default config, as TOML text (`None` for keys absent by default).
fn default_text(defaults: &toml::Table, path: &str) -> Option<String> {
    let mut at = defaults.get(path.split('.').next()?)?;
    for part in path.split('.').skip(1) {
        at = at.get(part)?;
    }
    Some(at.to_string())
}

/// The flag's argument: help from the key's description, config path and default.
fn arg(key: &Key, flag: Flag, defaults: &toml::Table) -> Arg {
    let default = default_text(defaults, key.path)
        .map(|d| format!(" = {d}"))
        .unwrap_or_default();
    let arg = Arg::new(key.path)
        .long(flag.long())
        .help(format!("{} [config: {}{default}]", key.doc, key.path));
    match flag {
        Flag::Value { long, parse } => arg
            .value_name(long.to_uppercase().replace('-', "_"))
            .value_parser(parse)
            .action(ArgAction::Set),
        Flag::Switch { .. } => arg.action(ArgAction::SetTrue),
    }
}

impl clap::Args for KeyFlags {
    fn augment_args(cmd: Command) -> Command {
        let defaults =
            toml::Table::try_from(TrainConfig::default()).expect("the default config serializes");
        KEYS.iter().fold(cmd, |cmd, key| match key.flag {
            Some(flag) => cmd.arg(arg(key, flag, &defaults)),
            None => cmd,
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for KeyFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let given = KEYS.iter().filter_map(|key| match key.flag? {
            Flag::Value { .. } => matches
                .get_one::<toml::Value>(key.path)
                .map(|v| (key.path, v.clone())),
            Flag::Switch { .. } => matches
                .get_flag(key.path)
                .then_some((key.path, toml::Value::Boolean(true))),
        });
        Ok(KeyFlags(given.collect()))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}
