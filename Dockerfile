# syntax=docker/dockerfile:1.7
# One Dockerfile, three images: pick one with --target.
#
#   docker build --target keyservice         -t <registry>/keyservice:<tag> .
#   docker build --target integrationservice -t <registry>/integrationservice:<tag> .
#   docker build --target on24sim            -t <registry>/on24sim:<tag> .
#
# Images are built by `docker build` on a machine with a Docker engine (none here); CI runs
# the same `cargo build --release --bins` and lints this file with hadolint.
#
# Runtime: distroless "cc" (glibc, libgcc, CA certificates; no shell, no package manager),
# running as the numeric non-root user 65532. No HEALTHCHECK: Kubernetes probes the gRPC
# health port (7080 / 8080) instead.

ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm

# ---- build: one release build of the three service binaries --------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# libpq-dev: diesel's PostgreSQL backend links libpq; the runtime libraries it needs are
# copied into the final image below. Versions come from the pinned Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev libssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The cache mounts keep crates and the target dir between builds on the same builder; the
# binaries are copied out of the cache in the same step. The shared libraries the binaries
# need beyond what distroless/cc ships (libpq and its dependencies) go to /out/lib.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins -p keyservice -p integrationservice -p on24sim \
 && mkdir -p /out/bin /out/lib \
 && cp target/release/keyservice target/release/integrationservice target/release/on24sim /out/bin/ \
 && ldd /out/bin/* | awk '$3 ~ /^\// { print $3 }' | sort -u \
    | grep -vE '/(libc|libm|libgcc_s|libpthread|libdl|librt|ld-linux[^/]*)\.so' \
    | xargs -r cp -L --parents -t /out/lib

# ---- runtime base ------------------------------------------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
# glibc malloc: two arenas and a fixed mmap threshold keep peak memory down (xtask/src/allocator.rs
# explains the values; `cargo xtask lint` checks this line against it).
ENV GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072
COPY --from=build /out/lib/ /
USER 65532:65532
WORKDIR /home/nonroot

# ---- keyservice: mTLS 7443, health 7080 -----------------------------------------------------
FROM runtime AS keyservice
COPY --from=build /out/bin/keyservice /usr/local/bin/keyservice
EXPOSE 7443 7080
ENTRYPOINT ["/usr/local/bin/keyservice"]
CMD ["serve"]

# ---- on24sim (staging/demo only): HTTP 9080 -------------------------------------------------
FROM runtime AS on24sim
COPY --from=build /out/bin/on24sim /usr/local/bin/on24sim
EXPOSE 9080
ENTRYPOINT ["/usr/local/bin/on24sim"]

# ---- integrationservice: gRPC 8443, health 8080 (last, so a plain `docker build` gives it) --
FROM runtime AS integrationservice
COPY --from=build /out/bin/integrationservice /usr/local/bin/integrationservice
EXPOSE 8443 8080
ENTRYPOINT ["/usr/local/bin/integrationservice"]
CMD ["serve"]
