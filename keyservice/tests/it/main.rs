//! Integration tests of the key service (one test binary).

mod domain;
