//! Integration tests of the key service (one test binary).

mod domain;
mod edge;
mod rpc;
mod support;
mod transport;
