# Build stage: the browser app (wasm) and the release server binary.
FROM rust:1-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-unknown-unknown
COPY . .
RUN cargo xtask build-frontend --release \
    && cargo build --release -p rekey-server --bin rekey

# Runtime stage: the binary, the built app and nothing else.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /data rekey \
    && mkdir /data && chown rekey /data
COPY --from=build /src/target/release/rekey /usr/local/bin/rekey
COPY --from=build /src/target/site /usr/share/rekey/site
USER rekey
WORKDIR /data
ENV REKEY_LISTEN=0.0.0.0:8080 \
    REKEY_DATA_DIR=/data \
    REKEY_SITE_DIR=/usr/share/rekey/site
EXPOSE 8080
VOLUME ["/data"]
CMD ["rekey", "serve"]
