//! Generated Rust code for the public gRPC contract in `proto/`.
//!
//! The `.proto` files are the API for every language; this crate is only the Rust view of
//! them. Each package also exposes its encoded file descriptor set for server reflection.
#![forbid(unsafe_code)]
#![allow(missing_debug_implementations, clippy::all)]
#![warn(missing_docs)]

/// The key service's contract (`keyservice.v1`).
#[cfg(feature = "keyservice")]
pub mod keyservice {
    /// Version 1: key administration and data-key operations.
    // prost documents what the .proto comments; the clients and servers tonic generates
    // around them carry no docs of their own.
    #[allow(missing_docs)]
    pub mod v1 {
        tonic::include_proto!("keyservice.v1");

        /// Encoded `FileDescriptorSet` of `keyservice.v1`, for gRPC server reflection.
        pub const FILE_DESCRIPTOR_SET: &[u8] =
            include_bytes!(concat!(env!("OUT_DIR"), "/keyservice_descriptor.bin"));
    }
}

/// The integration service's contract (`webinar.v1`).
#[cfg(feature = "webinar")]
pub mod webinar {
    /// Version 1: webinars, registrations, metrics, the change feed and provider credentials.
    // prost documents what the .proto comments; the clients and servers tonic generates
    // around them carry no docs of their own.
    #[allow(missing_docs)]
    pub mod v1 {
        tonic::include_proto!("webinar.v1");

        /// Encoded `FileDescriptorSet` of `webinar.v1`, for gRPC server reflection.
        pub const FILE_DESCRIPTOR_SET: &[u8] =
            include_bytes!(concat!(env!("OUT_DIR"), "/webinar_descriptor.bin"));
    }
}
