#!/bin/sh
# images.sh: `make images`: the container images of deploy/docker/, tagged with the
# version the programs report (kaiden-server: KAIDEN_VERSION in fcgi-app/admin.h;
# kaiden-agent: AGENT_VERSION in agent/sysinfo.h), which is the tag deploy/k8s/ names.
# Uses docker, else podman, whichever answers; with neither it says so and fails.
# Not part of make check (CI has neither).
#
#   sh scripts/images.sh            IMAGE_PREFIX=registry.example.com/kaiden/ to name a registry
set -eu
cd "$(dirname "$0")/.."

version_of() { # FILE MACRO
	sed -n "s/^#define $2 \"\\([^\"]*\\)\".*/\\1/p" "$1" | head -n 1
}
server_version=$(version_of fcgi-app/admin.h KAIDEN_VERSION)
agent_version=$(version_of agent/sysinfo.h AGENT_VERSION)
if [ -z "$server_version" ] || [ -z "$agent_version" ]; then
	echo "images.sh: no KAIDEN_VERSION in fcgi-app/admin.h or AGENT_VERSION in agent/sysinfo.h" >&2
	exit 1
fi

tool=
for t in docker podman; do
	# The client alone is not enough: docker also needs its daemon.
	if command -v "$t" >/dev/null 2>&1 && "$t" info >/dev/null 2>&1; then
		tool=$t
		break
	fi
done
if [ -z "$tool" ]; then
	echo "make images: neither docker nor podman is usable here (not installed, or docker's daemon is not running); install one (apt-get install podman) and run make images again" >&2
	exit 1
fi

prefix=${IMAGE_PREFIX:-}
echo "images.sh: $tool build ${prefix}kaiden-server:$server_version, ${prefix}kaiden-agent:$agent_version" >&2
"$tool" build -f deploy/docker/server.Dockerfile -t "${prefix}kaiden-server:$server_version" .
"$tool" build -f deploy/docker/agent.Dockerfile -t "${prefix}kaiden-agent:$agent_version" .
