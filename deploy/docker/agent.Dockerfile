# agent.Dockerfile: kaiden-agent for the DaemonSet of deploy/k8s/agent/. Built from the
# repository root:
#     make images        (or: docker build -f deploy/docker/agent.Dockerfile -t kaiden-agent:VERSION .)
# Only Debian's package archive is reached (scripts/deps.sh's build and image-agent
# lists). cloudflared is not in Debian: the image has none, so its agents offer the
# relay only; for Cloudflare tunnels build an image FROM this one that adds cloudflared
# on PATH (or set KAIDEN_CLOUDFLARED to where it is).

FROM debian:12 AS build
COPY scripts/deps.sh /tmp/deps.sh
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        $(sh /tmp/deps.sh packages build) \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j"$(nproc)" build/bin/kaiden-agent

FROM debian:12-slim
COPY scripts/deps.sh /tmp/deps.sh
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        $(sh /tmp/deps.sh packages image-agent) \
 && rm -rf /var/lib/apt/lists/* /tmp/deps.sh \
 && groupadd --system --gid 10001 kaiden \
 && useradd --system --uid 10001 --gid kaiden --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin kaiden
COPY --from=build /src/build/bin/kaiden-agent /usr/local/bin/
USER 10001:10001
CMD ["kaiden-agent"]
