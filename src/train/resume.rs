//! Resuming a run: the data it trained on, split exactly as it recorded.

use augtrain_run::config::TrainConfig;

/// The data of a resumed run, split as the run recorded (`splits.csv`, by path and content).
/// A run from before splits were recorded is carved again from the seed, and must come out
/// with the class counts its `dataset.json` recorded.
pub fn recorded_splits(
    cfg: &TrainConfig,
    dir: &std::path::Path,
    allow_new: bool,
) -> crate::Result<crate::data::Splits> {
    let run = augtrain_run::RunDir::open(dir)?;
    if !run.has_checkpoint() {
        // The run's own error: nothing to resume from.
        run.checkpoint()?;
    }
    let summary = run.dataset()?;
    let refuse = |m: String| {
        crate::data::DataError::Invalid(format!(
            "cannot resume {}: {m}",
            crate::util::escape::escape_path(dir)
        ))
    };
    let source = cfg.data.source()?;
    let Some(recorded) = run.splits()? else {
        let splits = cfg.data.load(cfg.seed)?;
        let now = [
            splits.train.class_counts(),
            splits.val.class_counts(),
            splits.test.class_counts(),
        ];
        if now != summary.counts || splits.train.class_names != summary.classes {
            return Err(refuse(format!(
                "the run predates per-image split records, and its data now splits into other class counts (train/val/test {:?}, recorded {:?}); resume with the data as it was, or start a new run",
                now, summary.counts
            ))
            .into());
        }
        return Ok(splits);
    };
    let whole = crate::data::source::load_whole(&source, &cfg.data, cfg.seed)?;
    crate::data::membership::reapply(
        source.name(),
        whole,
        &recorded,
        &summary.classes,
        &summary.provenance,
        allow_new,
    )
    .map_err(|e| match e {
        crate::data::DataError::Invalid(m) => refuse(m).into(),
        e => e.into(),
    })
}
