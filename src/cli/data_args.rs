//! Flags shared by every command that reads a dataset.

use std::path::PathBuf;

use clap::Args;

use crate::data::LoadOptions;
use crate::data::decode::ResizePolicy;
use crate::data::files::OnError;

/// Parse `WxH` (or one number for a square).
pub fn parse_size(s: &str) -> Result<[u32; 2], String> {
    let parts: Vec<&str> = s.split(['x', 'X']).collect();
    let num = |p: &str| {
        p.trim()
            .parse::<u32>()
            .map_err(|_| format!("'{s}': expected WIDTHxHEIGHT, e.g. 64x64"))
    };
    match parts.as_slice() {
        [one] => {
            let v = num(one)?;
            Ok([v, v])
        }
        [w, h] => Ok([num(w)?, num(h)?]),
        _ => Err(format!("'{s}': expected WIDTHxHEIGHT, e.g. 64x64")),
    }
}

/// How image files are loaded (size, channels, resize policy, bad files) and split.
#[derive(Args, Debug, Clone, Default)]
pub struct LoadArgs {
    /// Size image files are brought to at load time, WIDTHxHEIGHT (default 64x64; for
    /// train --pretrained with an ImageNet model, 256x256, centre-cropped to its 224x224 input).
    #[arg(long, value_parser = parse_size)]
    pub size: Option<[u32; 2]>,
    /// Channels image files are converted to: 1 (gray) or 3 (RGB, the default).
    #[arg(long)]
    pub channels: Option<usize>,
    /// How image files reach the size: center-crop (default), stretch, letterbox.
    #[arg(long)]
    pub resize: Option<ResizePolicy>,
    /// Unusable files: skip (report them, the default) or fail.
    #[arg(long)]
    pub on_error: Option<OnError>,
    /// Largest image accepted, in pixels (width x height; default 100,000,000).
    #[arg(long)]
    pub max_pixels: Option<u64>,
    /// A split file written by `augtrain split`, overriding the source's splits.
    #[arg(long = "split")]
    pub split_file: Option<PathBuf>,
    /// The class list, comma-separated; files labelled otherwise are reported as unknown.
    #[arg(long, value_delimiter = ',')]
    pub classes: Option<Vec<String>>,
}

impl LoadArgs {
    /// Apply the flags given onto `cfg`.
    pub fn apply(&self, cfg: &mut LoadOptions) {
        if let Some(v) = self.size {
            cfg.size = v;
        }
        if let Some(v) = self.channels {
            cfg.channels = v;
        }
        if let Some(v) = self.resize {
            cfg.resize = v;
        }
        if let Some(v) = self.on_error {
            cfg.on_error = v;
        }
        if let Some(v) = self.max_pixels {
            cfg.max_pixels = v;
        }
        if let Some(v) = &self.split_file {
            cfg.split_file = Some(v.clone());
        }
        if let Some(v) = &self.classes {
            cfg.classes = Some(v.iter().map(|s| s.trim().to_string()).collect());
        }
    }

    /// A data config for `path` with these flags.
    pub fn config(&self, path: Option<PathBuf>) -> crate::Result<LoadOptions> {
        let mut cfg = LoadOptions {
            path,
            ..LoadOptions::default()
        };
        self.apply(&mut cfg);
        if let Some(classes) = &cfg.classes {
            crate::data::class_list::check_names(classes).map_err(|p| {
                crate::Error::Usage(format!("--classes {}: {p}", classes.join(",")))
            })?;
        }
        if !(cfg.channels == 1 || cfg.channels == 3) {
            return Err(crate::Error::Usage(format!(
                "--channels {}: use 1 or 3",
                cfg.channels
            )));
        }
        if cfg.size[0] == 0 || cfg.size[1] == 0 || cfg.size[0] > 4096 || cfg.size[1] > 4096 {
            return Err(crate::Error::Usage(format!(
                "--size {}x{}: each side must be 1..=4096",
                cfg.size[0], cfg.size[1]
            )));
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64x48").unwrap(), [64, 48]);
        assert_eq!(parse_size("32").unwrap(), [32, 32]);
        assert!(parse_size("64x").is_err());
    }
}
