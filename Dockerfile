# Gatehouse in a container: built in one stage, shipped in a small non-root image.
#   docker build -t gatehouse .
#   docker run -p 8080:8080 -v gatehouse-data:/data -e GATEHOUSE_PUBLIC_URL=https://auth.example.com gatehouse
# The first key: docker run --rm -v gatehouse-data:/data gatehouse init --json
# deploy/image-run-test.sh runs the binary the way this image runs it (same user, paths and
# environment) where Docker is not available.

FROM rust:1.90-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p gatehouse \
 && install -d -o 65532 -g 65532 -m 0700 /data

# distroless/cc: glibc and CA certificates (for PostgreSQL over TLS and social login), no shell.
# aws-lc-rs links glibc, so a fully static musl binary is not the default build.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/gatehouse /usr/local/bin/gatehouse
COPY --from=build --chown=65532:65532 /data /data
ENV GATEHOUSE_DATA=/data \
    GATEHOUSE_LISTEN=0.0.0.0:8080
VOLUME /data
EXPOSE 8080
USER 65532:65532
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve"]
