//! Generated Rust code for the public gRPC contract in `proto/`.
//!
//! The `.proto` files are the API for every language; this crate is only the Rust view of
//! them. Each package also exposes its encoded file descriptor set for server reflection.
#![forbid(unsafe_code)]
#![allow(missing_debug_implementations, clippy::all)]

#[cfg(feature = "keyservice")]
pub mod keyservice {
    pub mod v1 {
        tonic::include_proto!("keyservice.v1");

        /// Encoded `FileDescriptorSet` of `keyservice.v1`, for gRPC server reflection.
        pub const FILE_DESCRIPTOR_SET: &[u8] =
            include_bytes!(concat!(env!("OUT_DIR"), "/keyservice_descriptor.bin"));
    }
}

#[cfg(feature = "webinar")]
pub mod webinar {
    pub mod v1 {
        tonic::include_proto!("webinar.v1");

        /// Encoded `FileDescriptorSet` of `webinar.v1`, for gRPC server reflection.
        pub const FILE_DESCRIPTOR_SET: &[u8] =
            include_bytes!(concat!(env!("OUT_DIR"), "/webinar_descriptor.bin"));
    }
}
