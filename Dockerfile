# Multi-stage Debian 12 build: the same install and build steps as the README.
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/
RUN ./scripts/install-deps.sh
COPY . .
RUN ./scripts/build-release.sh

FROM debian:12-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libsqlite3-0 libyaml-cpp0.7 libfmt9 libssl3 libpugixml1v5 libsimdjson14 libtomlplusplus3 libpq5 zlib1g ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/pkgtrust pkgtrust \
 && mkdir -p /var/lib/pkgtrust /etc/pkgtrust && chown pkgtrust /var/lib/pkgtrust
COPY --from=build /src/build/src/pkgtrust /usr/local/bin/pkgtrust
COPY config/pkgtrust.yaml config/topology.yaml /etc/pkgtrust/
COPY data/popular/ /usr/share/pkgtrust/popular/
# The database lives in the volume; listen on every interface inside the container.
RUN sed -i 's|^  path: pkgtrust.db|  path: /var/lib/pkgtrust/pkgtrust.db|; s|"127.0.0.1:8080"|"0.0.0.0:8080"|; s|\.\./data/popular/|/usr/share/pkgtrust/popular/|' \
      /etc/pkgtrust/pkgtrust.yaml
USER pkgtrust
VOLUME /var/lib/pkgtrust
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/pkgtrust"]
CMD ["serve", "--config", "/etc/pkgtrust/pkgtrust.yaml"]
