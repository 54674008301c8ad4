//! What a run shows: PNG charts ([`plot`]), pictures and contact sheets ([`images`]) and the
//! self-contained HTML report ([`html`]), all drawn from the run directory's files.

pub mod html;
pub mod images;
pub mod plot;
