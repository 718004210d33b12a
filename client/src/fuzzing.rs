//! What the fuzz targets in `xtask/fuzz` reach: the import file reader. Not an API.

pub use crate::import::{Refusal, Row, normalise, read_csv};
