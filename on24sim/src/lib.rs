//! A faithful simulator of ON24's REST API v2, for tests, benchmarks and the local demo.
#![forbid(unsafe_code)]
