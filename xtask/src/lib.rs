//! Developer tasks for this workspace, as a library the tests share and as the `xtask`
//! binary (`cargo xtask ...`): the development PKI, test databases, and the local stack.
#![forbid(unsafe_code)]

pub mod allocator;
pub mod pki;
pub mod ports;
pub mod testdb;
