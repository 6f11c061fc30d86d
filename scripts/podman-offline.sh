#!/bin/sh
# podman-offline.sh DIR: a private podman for `make images` on a machine that reaches
# Debian's package archive but not Docker Hub, and has no Docker engine (a development
# sandbox, a CI runner). Root only. Everything goes under DIR, nothing global:
#   - DIR/storage.conf: images and containers in DIR/root, DIR/runroot;
#   - DIR/containers.conf: the runc runtime when it is installed (crun refuses a
#     host with cgroups v1 and v2 mounted side by side, "cgroups in hybrid mode not
#     supported"), and explicit nofile/nproc limits (podman's defaults are above what
#     a process without CAP_SYS_RESOURCE may set: "setrlimit RLIMIT_NOFILE: Operation
#     not permitted");
#   - debian:12 and debian:12-slim made by debootstrap (minbase bookworm, with the
#     updates and security suites and the official images' apt settings: no package
#     caches, no translations; the slim one without docs, man pages and locales as the
#     official slim image) and imported as docker.io/library/debian:12 and :12-slim,
#     unless they are there already.
# Then, in the same shell:
#     eval "$(sh scripts/podman-offline.sh /tmp/kaiden-podman)"
#     make images && bash tests/scripts/images_smoke.sh
# Needs: apt-get install podman debootstrap runc (uidmap, fuse-overlayfs come with podman).
# Remove it all with: rm -rf DIR (after `podman rm -a` in that shell, or a reboot).
set -eu
[ $# -eq 1 ] || { echo "usage: podman-offline.sh DIR" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "podman-offline.sh: run as root (debootstrap, rootful podman)" >&2; exit 1; }
for t in podman debootstrap; do
	command -v "$t" >/dev/null 2>&1 || { echo "podman-offline.sh: no $t (apt-get install podman debootstrap runc)" >&2; exit 1; }
done
mkdir -p "$1"
dir=$(cd "$1" && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

cat >"$dir/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$dir/root"
runroot = "$dir/runroot"
EOF
# shellcheck disable=SC3045 # dash and bash both have ulimit -H
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
{
	echo '[containers]'
	echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=4096:4096\"]"
	if command -v runc >/dev/null 2>&1; then
		printf '[engine]\nruntime = "runc"\n'
	fi
} >"$dir/containers.conf"
export CONTAINERS_STORAGE_CONF="$dir/storage.conf" CONTAINERS_CONF="$dir/containers.conf"

# bootstrap TAG SLIM: debian:TAG from debootstrap, unless podman has it.
bootstrap() {
	if podman image exists "docker.io/library/debian:$1"; then
		return 0
	fi
	fs=$dir/fs-$1
	rm -rf "$fs"
	echo "podman-offline.sh: debootstrap bookworm for debian:$1" >&2
	debootstrap --variant=minbase bookworm "$fs" "$mirror" >"$dir/debootstrap-$1.log" 2>&1 ||
		{ tail -n 20 "$dir/debootstrap-$1.log" >&2; exit 1; }
	cat >"$fs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOF
	# The official images' apt settings (docker-clean and friends).
	cat >"$fs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
	echo 'Acquire::Languages "none";' >"$fs/etc/apt/apt.conf.d/docker-no-languages"
	echo 'Acquire::GzipIndexes "true";' >"$fs/etc/apt/apt.conf.d/docker-gzip-indexes"
	echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$fs/etc/apt/apt.conf.d/docker-autoremove-suggests"
	rm -rf "$fs"/var/cache/apt/*.bin "$fs"/var/cache/apt/archives/*.deb "$fs"/var/lib/apt/lists/* "$fs"/var/log/*.log
	if [ "$2" = slim ]; then
		mkdir -p "$fs/etc/dpkg/dpkg.cfg.d"
		cat >"$fs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
		find "$fs/usr/share/doc" -type f ! -name copyright -delete
		rm -rf "$fs"/usr/share/man/* "$fs"/usr/share/info/* "$fs"/usr/share/lintian/*
		find "$fs/usr/share/locale" -mindepth 1 ! -name locale.alias -delete 2>/dev/null || true
	fi
	tar -C "$fs" -c . | podman import -q - "docker.io/library/debian:$1" >/dev/null
	rm -rf "$fs"
}
bootstrap 12 full
bootstrap 12-slim slim

if ! podman run --rm docker.io/library/debian:12-slim true >"$dir/run-check.log" 2>&1; then
	echo "podman-offline.sh: podman cannot run a container here:" >&2
	cat "$dir/run-check.log" >&2
	exit 1
fi
echo "export CONTAINERS_STORAGE_CONF='$dir/storage.conf' CONTAINERS_CONF='$dir/containers.conf'"
