# The perftest image: the binary, the C libraries it links, CA certificates and nothing else
# (no shell, no package manager), run as user 10001. Configured from the environment as the
# Go image was: PERFTEST_URL, REP_LOCATION (or REP_CITY, REP_COUNTRY), AWS_REGION,
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; `docker run IMAGE` runs `perftest -c -v`.
#
#   make docker                                    # compiles inside the build stage
#   make docker BINARY=prebuilt                    # takes the binary built on the host
#   docker build --build-arg BASE=my-debian ...    # the Debian the runtime is taken from
#
# Build arguments:
#   BASE     a Debian bookworm (or later) image; the runtime's files are copied out of it
#   RUST     the toolchain image for the build stage
#   BINARY   build: compile in the build stage; prebuilt: target/docker/perftest from the
#            build context (make docker BINARY=prebuilt puts the release binary there,
#            stripped), built on a glibc no newer than BASE's (2.36 for bookworm)
# Internal CA certificates: put them (PEM, *.crt) in deploy/docker/ca-certificates/ before
# building; they join the system store every probe and the CloudWatch client trust.
ARG BASE=debian:bookworm-slim
ARG RUST=rust:1-slim-bookworm
ARG BINARY=build

FROM ${RUST} AS build
WORKDIR /src
# gcc builds the vendored Lua; nothing else is needed (ring, not aws-lc).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev make \
    && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY scripts ./scripts
COPY stdlib ./stdlib
# build.rs links by the startup order bench/order-startup writes (.dockerignore lets this one
# file of bench/ in); without it the binary costs a lone probe more memory, never the build.
COPY bench/startup.order ./bench/
COPY assets ./assets
# The symbol table (kept on the host for perf) is 4.6 MiB the image does without.
RUN cargo build --release --locked && install -D -s target/release/perftest /out/perftest

FROM scratch AS prebuilt
COPY target/docker/perftest /out/perftest

FROM ${BINARY} AS binary

# The runtime's files, gathered from a Debian root: the libraries the binary asks the loader
# for (ldd), the CA store, the name service configuration, a passwd entry for 10001.
FROM ${BASE} AS runtime-root
# deploy/check-image debootstraps the same packages (PACKAGES there): keep the lists equal.
RUN dpkg-query -W ca-certificates >/dev/null 2>&1 \
    || { apt-get update && apt-get install -y --no-install-recommends ca-certificates \
         && rm -rf /var/lib/apt/lists/*; }
COPY deploy/docker/ca-certificates/ /usr/local/share/ca-certificates/
COPY --from=binary /out/perftest /rootfs/usr/local/bin/perftest
RUN set -eu; \
    update-ca-certificates >/dev/null; \
    for f in $(ldd /rootfs/usr/local/bin/perftest | awk '/=> \// {print $3} /^\t\// {print $1}'); do \
      cp -L --parents "$f" /rootfs/; \
    done; \
    mkdir -p /rootfs/etc/ssl/certs /rootfs/tmp; \
    chmod 1777 /rootfs/tmp; \
    cp -L /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/; \
    printf 'hosts: files dns\n' >/rootfs/etc/nsswitch.conf; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nperftest:x:10001:10001:perftest:/tmp:/sbin/nologin\n' >/rootfs/etc/passwd; \
    printf 'root:x:0:\nperftest:x:10001:\n' >/rootfs/etc/group; \
    /rootfs/usr/local/bin/perftest --version

FROM scratch
COPY --from=runtime-root /rootfs/ /
# The web server's port: /metrics, /memstats and /healthz (a flag or the variable moves it).
ENV PERFTEST_LISTEN_PORT=9100
EXPOSE 9100
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/perftest", "healthcheck"]
# `container` adds -c -v to classic flags (or none), as the Go image's ENTRYPOINT did; a
# subcommand (run, repl, scripts, healthcheck) runs as given.
ENTRYPOINT ["/usr/local/bin/perftest", "container"]
