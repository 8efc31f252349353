# Build image for `cross` (see Cross.toml): Debian bookworm with the aarch64 cross toolchain and
# qemu-user for `cross test`. The arm64 GStreamer -dev packages come from Cross.toml's pre-build.
FROM debian:bookworm
RUN apt-get update && apt-get install --assume-yes --no-install-recommends \
      ca-certificates gcc g++ libc6-dev pkg-config \
      gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user \
    && rm -rf /var/lib/apt/lists/*
ENV CROSS_TOOLCHAIN_PREFIX=aarch64-linux-gnu- \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
    CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++ \
    AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
    PKG_CONFIG_ALLOW_CROSS=1 \
    PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
