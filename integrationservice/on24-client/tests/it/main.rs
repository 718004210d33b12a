//! The ON24 client's integration tests: one binary, one module per area.

mod contract;
mod simulator;
