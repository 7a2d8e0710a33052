# Multi-stage: build with the Rust toolchain, ship the binary alone on a slim Debian with CA
# certificates, as a non-root user.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
# gcc builds the vendored Lua; nothing else is needed (ring, not aws-lc).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev make \
    && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY scripts ./scripts
COPY stdlib ./stdlib
RUN cargo build --release --locked && strip target/release/perftest

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin perftest
COPY --from=build /src/target/release/perftest /usr/local/bin/perftest
USER perftest
ENTRYPOINT ["/usr/local/bin/perftest"]
CMD ["--help"]
