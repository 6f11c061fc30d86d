# server.Dockerfile: the Kaiden server image (kaiden-api, kaiden-helperd, nginx with
# nginx/kaiden.conf, the portal), one image for the three containers of
# deploy/k8s/server/: each runs its own command. Built from the repository root:
#     make images        (or: docker build -f deploy/docker/server.Dockerfile -t kaiden-server:VERSION .)
# Only Debian's package archive is reached; the package lists are scripts/deps.sh's
# (build, image-server), so the image builds with what `make` builds with.

FROM debian:12 AS build
COPY scripts/deps.sh /tmp/deps.sh
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        $(sh /tmp/deps.sh packages build) \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Only the two programs and the portal (make's default target also builds the tests).
RUN make -j"$(nproc)" build/bin/kaiden-api build/bin/kaiden-helperd \
 && sh scripts/www.sh www /out/www \
 && sh deploy/docker/kaiden-conf.sh nginx/kaiden.conf kaiden-helperd:8081 >/out/kaiden.conf

FROM debian:12-slim
COPY scripts/deps.sh /tmp/deps.sh
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        $(sh /tmp/deps.sh packages image-server) \
 && rm -rf /var/lib/apt/lists/* /tmp/deps.sh \
 && rm -f /etc/nginx/sites-enabled/* \
 && groupadd --system --gid 10001 kaiden \
 && useradd --system --uid 10001 --gid kaiden --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin kaiden
COPY --from=build /src/build/bin/kaiden-api /src/build/bin/kaiden-helperd /usr/local/bin/
COPY --from=build /out/www /usr/share/kaiden/www
COPY --from=build /out/kaiden.conf /etc/nginx/snippets/kaiden.conf
COPY deploy/docker/nginx.conf /etc/nginx/nginx.conf
# The Kubernetes manifests run each container with this user and a read-only root;
# /run/kaiden (kaiden-api's socket) and /tmp are emptyDirs there.
USER 10001:10001
EXPOSE 8080 8081 9091
CMD ["kaiden-api", "serve"]
