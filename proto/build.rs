//! Compiles the .proto files with `protox` (pure Rust), so no system `protoc` is needed.
//! Each package is compiled only when its cargo feature is on, and its file descriptor
//! set is written to OUT_DIR for gRPC server reflection.

use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let packages = [
        ("keyservice", "CARGO_FEATURE_KEYSERVICE"),
        ("webinar", "CARGO_FEATURE_WEBINAR"),
    ];
    for (package, feature) in packages {
        if env::var_os(feature).is_none() {
            continue;
        }
        let dir = root.join(package).join("v1");
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
            .collect();
        files.sort();
        let descriptors = protox::compile(&files, [&root])?;
        fs::write(
            out_dir.join(format!("{package}_descriptor.bin")),
            descriptors.encode_to_vec(),
        )?;
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            .compile_fds(descriptors)?;
    }
    Ok(())
}
