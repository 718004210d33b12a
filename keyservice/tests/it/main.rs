//! Integration tests of the key service (one test binary).

mod cli;
mod domain;
mod edge;
mod identity;
mod rpc;
mod support;
mod transport;
