//! The ON24 REST client against the simulator and against ON24's own OpenAPI contract.

mod client;
mod contract;
