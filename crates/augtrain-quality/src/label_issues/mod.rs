//! Label issues: examples whose given label is probably wrong, found by confident learning
//! ([`confident`], cleanlab's definitions) on out-of-sample predicted probabilities, read from a
//! file ([`pred_probs`]) or computed; [`examples`] gathers the examples with their
//! probabilities from the sources `label-issues` and `agreement` take, and writes what is found
//! (a ranked CSV and a Label Studio review queue).

pub mod confident;
pub mod examples;
pub mod pred_probs;
