#!/bin/sh
# kaiden-conf.sh SNIPPET HELPERD: nginx/kaiden.conf (SNIPPET) as the server image
# installs it, on stdout: every proxy_pass to helperd's Unix socket goes to HELPERD
# (host:port) instead, since helperd runs in its own pod (deploy/k8s/server/helperd.yaml).
# Fails when the snippet no longer has that socket, or still has it afterwards, so that
# a change to nginx/kaiden.conf cannot silently leave the image half-rewritten. Used by
# server.Dockerfile and tests/scripts/test_k8s.sh.
set -eu
[ $# -eq 2 ] || { echo "usage: kaiden-conf.sh SNIPPET HOST:PORT" >&2; exit 2; }
sock='http://unix:/run/kaiden/helperd.sock:'
grep -qF "proxy_pass $sock;" "$1" || { echo "kaiden-conf.sh: no proxy_pass to $sock in $1" >&2; exit 1; }
out=$(sed "s|proxy_pass $sock;|proxy_pass http://$2;|" "$1")
if printf '%s\n' "$out" | grep -v '^[[:space:]]*#' | grep -q 'helperd\.sock'; then
	echo "kaiden-conf.sh: $1 names helperd.sock in a form this script does not rewrite" >&2
	exit 1
fi
printf '%s\n' "$out"
