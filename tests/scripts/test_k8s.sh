#!/usr/bin/env bash
# test_k8s.sh: what a cluster admin applies (deploy/k8s/) and builds (deploy/docker/,
# make images):
#   - every manifest validates against the strict Kubernetes schemas (1.30 and 1.35) with
#     shared/ref/k8s-schemas/validate.py (unknown fields fail), and a misspelt field in a
#     copy of one does fail; the kinds the shared set lacks (the ValidatingAdmissionPolicy
#     and its binding that fence helperd) are in tests/scripts/k8s-schemas/, made by the
#     shared generator from the same upstream files, and laid beside a copy of it here;
#   - each kustomization lists files that exist, and every manifest beside it;
#   - the project's own rules (tests/scripts/k8s_rules.py: probes, image tags, pod
#     security, resources, the agent's NODE_NAME and credentials, RBAC exactly get on
#     nodes, helperd's RBAC and admission policy, namespace, settings, WebSocket
#     timeouts, Secret keys), and that each rule
#     catches the breakages its self-test makes;
#   - the server image's nginx config (deploy/docker/nginx.conf with nginx/kaiden.conf as
#     deploy/docker/kaiden-conf.sh rewrites it) passes nginx -t, and with kaiden-api
#     behind it, both as one non-root user as in the web pod, answers /healthz, serves
#     the portal and sends /api/v1/ws/ to helperd's address;
#   - the images' runtime package lists (scripts/deps.sh image-server, image-agent) hold
#     every shared library the built programs link;
#   - make images says so when neither docker nor podman is usable, and builds both
#     images with the version tags deploy/k8s/ names when one is (a stub docker).
#
# The schemas are shared/, beside the checkout (CI lays a copy of it there): found at
# $K8S_SCHEMAS, else ../shared/ref/k8s-schemas, else ../../shared/ref/k8s-schemas (a git
# worktree one level deeper). Not finding them is a failure.
#
#   B=build bash tests/scripts/test_k8s.sh        VERBOSE=1 shows every check
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/scripts/lib.sh
B=${B:-build}

T=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-k8s.XXXXXX")
trap 'rm -rf "$T"' EXIT

# ---- the schemas --------------------------------------------------------------------------
SCHEMAS=
for d in ${K8S_SCHEMAS:-} ../shared/ref/k8s-schemas ../../shared/ref/k8s-schemas; do
	if [ -f "$d/validate.py" ]; then
		SCHEMAS=$d
		break
	fi
done
if [ -n "$SCHEMAS" ]; then
	ok "the Kubernetes schemas are at $SCHEMAS"
else
	bad "the Kubernetes schemas" "no validate.py in \$K8S_SCHEMAS, ../shared/ref/k8s-schemas or ../../shared/ref/k8s-schemas"
fi

# Every manifest (examples too); the kustomization files are kustomize's, not objects.
mapfile -t MANIFESTS < <(find deploy/k8s -name '*.yaml' ! -name kustomization.yaml | sort)
# What a cluster admin applies: the server and the agent; with the examples of the
# Secrets the admin makes, what the rules read.
mapfile -t APPLIED < <(find deploy/k8s/server deploy/k8s/agent -name '*.yaml' ! -name kustomization.yaml | sort)
check "deploy/k8s has the server's and the agent's manifests" [ "${#APPLIED[@]}" -ge 8 ]
RULED=("${APPLIED[@]}" deploy/k8s/examples/server-secret.yaml deploy/k8s/examples/agent-credentials.yaml)

# The shared set with this repository's extra kinds beside it (index.json merged; the
# shared entries win, should the shared set gain these kinds).
if [ -n "$SCHEMAS" ]; then
	mkdir -p "$T/schemas"
	cp "$SCHEMAS/validate.py" "$T/schemas/"
	for v in 1.30 1.35; do
		cp -r "$SCHEMAS/$v" "$T/schemas/$v"
		cp tests/scripts/k8s-schemas/"$v"/*.json "$T/schemas/$v/"
		cp "$SCHEMAS/$v/index.json" "$T/schemas/$v/index.json"
		"$PY" -c 'import json, sys
extra, merged = (json.load(open(f)) for f in sys.argv[1:3])
extra.update(merged)
json.dump(extra, open(sys.argv[2], "w"), indent=1, sort_keys=True)' \
			tests/scripts/k8s-schemas/"$v"/index.json "$T/schemas/$v/index.json"
	done
	check "the extra kinds' schemas are in the merged index" \
		grep -q '"admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding"' "$T/schemas/1.35/index.json"
	SCHEMAS=$T/schemas
fi

if [ -n "$SCHEMAS" ]; then
	for v in 1.30 1.35; do
		if "$PY" "$SCHEMAS/validate.py" --k8s-version "$v" "${MANIFESTS[@]}" >"$T/validate.out" 2>&1; then
			ok "every manifest validates against Kubernetes $v ($(tail -n 1 "$T/validate.out"))"
		else
			bad "every manifest validates against Kubernetes $v" "$(grep -v '^ok' "$T/validate.out")"
		fi
	done
	# The validator is wired for real: a misspelt field in a copy fails.
	sed 's/readOnlyRootFilesystem: true/readOnlyRootFileSystem: true/' deploy/k8s/server/web.yaml >"$T/typo.yaml"
	if ! cmp -s deploy/k8s/server/web.yaml "$T/typo.yaml" &&
		! "$PY" "$SCHEMAS/validate.py" "$T/typo.yaml" >"$T/typo.out" 2>&1 &&
		grep -q "unknown field 'readOnlyRootFileSystem'" "$T/typo.out"; then
		ok "a misspelt field fails validation"
	else
		bad "a misspelt field fails validation" "$(cat "$T/typo.out")"
	fi
	# ... and in the admission policy, whose schema is one of the extra ones.
	sed 's/failurePolicy: Fail/failurePolicies: Fail/' deploy/k8s/server/helperd-guard.yaml >"$T/typo-vap.yaml"
	if ! cmp -s deploy/k8s/server/helperd-guard.yaml "$T/typo-vap.yaml" &&
		! "$PY" "$SCHEMAS/validate.py" --k8s-version 1.30 "$T/typo-vap.yaml" >"$T/typo-vap.out" 2>&1 &&
		grep -q "unknown field 'failurePolicies'" "$T/typo-vap.out"; then
		ok "a misspelt field in the ValidatingAdmissionPolicy fails validation"
	else
		bad "a misspelt field in the ValidatingAdmissionPolicy fails validation" "$(cat "$T/typo-vap.out")"
	fi
fi

# ---- kustomizations ------------------------------------------------------------------------
if "$PY" - >"$T/kustomize.out" 2>&1 <<'EOF'; then
import os, sys, yaml
bad = []
for top, dirs, files in os.walk("deploy/k8s"):
    if "kustomization.yaml" not in files:
        continue
    with open(os.path.join(top, "kustomization.yaml")) as fh:
        k = yaml.safe_load(fh)
    listed = set()
    for r in k.get("resources", []):
        p = os.path.normpath(os.path.join(top, r))
        listed.add(p)
        if not (os.path.isfile(p) or os.path.isfile(os.path.join(p, "kustomization.yaml"))):
            bad.append("%s/kustomization.yaml lists %s, which is not there" % (top, r))
    for f in files:
        p = os.path.normpath(os.path.join(top, f))
        if f.endswith(".yaml") and f != "kustomization.yaml" and p not in listed:
            bad.append("%s/kustomization.yaml does not list %s" % (top, f))
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
	ok "each kustomization lists what is beside it, and nothing that is missing"
else
	bad "each kustomization lists what is beside it, and nothing that is missing" "$(cat "$T/kustomize.out")"
fi

# ---- the project's rules -------------------------------------------------------------------
if "$PY" tests/scripts/k8s_rules.py check "${RULED[@]}" >"$T/rules.out" 2>&1; then
	ok "the manifests keep the project's rules (k8s_rules.py)"
else
	bad "the manifests keep the project's rules (k8s_rules.py)" "$(cat "$T/rules.out")"
fi
if "$PY" tests/scripts/k8s_rules.py selftest "${RULED[@]}" >"$T/selftest.out" 2>&1; then
	ok "each rule catches its breakages ($(grep -c '^ok' "$T/selftest.out") of them)"
else
	bad "each rule catches its breakages" "$(grep -v '^ok' "$T/selftest.out")"
fi

# ---- the server image's nginx config -------------------------------------------------------
NG=$T/nginx
mkdir -p "$NG/tmp"
socks=$(grep -c 'proxy_pass http://unix:/run/kaiden/helperd.sock:;' nginx/kaiden.conf)
if sh deploy/docker/kaiden-conf.sh nginx/kaiden.conf kaiden-helperd:8081 >"$NG/kaiden.conf" 2>"$NG/err" &&
	[ "$(grep -c 'proxy_pass http://kaiden-helperd:8081;' "$NG/kaiden.conf")" -eq "$socks" ] &&
	[ "$socks" -gt 0 ]; then
	ok "kaiden-conf.sh sends all $socks of kaiden.conf's helperd locations to kaiden-helperd:8081"
else
	bad "kaiden-conf.sh rewrites kaiden.conf's helperd locations" "$(cat "$NG/err")"
fi
grep -v 'helperd.sock' nginx/kaiden.conf >"$T/nosock.conf"
check "kaiden-conf.sh refuses a snippet without helperd's socket" \
	bash -c "! sh deploy/docker/kaiden-conf.sh '$T/nosock.conf' x:1 >/dev/null 2>&1"
# nginx -t resolves proxy_pass hosts, and there is no Service here: loopback instead. The
# image's absolute paths (the snippet, /tmp) move into this test's directory.
sh deploy/docker/kaiden-conf.sh nginx/kaiden.conf 127.0.0.1:8081 >"$NG/kaiden.conf" 2>/dev/null
cp /etc/nginx/fastcgi_params "$NG/" 2>/dev/null
sed -e "s|/tmp/|$NG/tmp/|g" -e "s|/etc/nginx/snippets/kaiden.conf|$NG/kaiden.conf|" \
	deploy/docker/nginx.conf >"$NG/nginx.conf"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if "$NGINX" -t -q -p "$NG" -c "$NG/nginx.conf" -e "$NG/error.log" >"$NG/t.out" 2>&1; then
	ok "nginx -t accepts the server image's nginx.conf with the rewritten kaiden.conf"
else
	bad "nginx -t accepts the server image's nginx.conf" "$(cat "$NG/t.out")"
fi

# ---- the web pod's two containers, on loopback ---------------------------------------------
# kaiden-api on its socket and nginx with the image's nginx.conf, run as the pod runs them:
# one non-root user for both (here, as root: nobody, through setpriv), writing only to the
# socket's directory and /tmp (both this test's). The image's paths move into $W, port
# 8080 to a free one, helperd to a port where nothing listens; the database is SQLite.
W=$T/web
mkdir -p "$W/run" "$W/tmp" "$W/ngx"
AS=()
if [ "$(id -u)" -eq 0 ]; then
	AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
WEB_PORT=$(. scripts/stack.sh && stack_free_port)
cp "$B/bin/kaiden-api" "$W/" 2>/dev/null
sh scripts/www.sh www "$W/www" >/dev/null
cp /etc/nginx/fastcgi_params "$W/ngx/"
sh deploy/docker/kaiden-conf.sh nginx/kaiden.conf 127.0.0.1:1 |
	sed -e "s|/run/kaiden/api.sock|$W/run/api.sock|g" -e "s|/usr/share/kaiden/www|$W/www|g" >"$W/ngx/kaiden.conf"
sed -e "s|/tmp/|$W/tmp/|g" -e "s|/etc/nginx/snippets/kaiden.conf|$W/ngx/kaiden.conf|" \
	-e "s|listen 8080 default_server;|listen 127.0.0.1:$WEB_PORT default_server;|" \
	deploy/docker/nginx.conf >"$W/ngx/nginx.conf"
: >"$W/api.log"
: >"$W/nginx.log"
if [ "$(id -u)" -eq 0 ]; then
	chmod 755 "$T"
	chown -R 65534:65534 "$W"
fi
API_PID=
WEB_PID=
stop_web() {
	[ -z "$WEB_PID" ] || kill -QUIT "$WEB_PID" 2>/dev/null
	[ -z "$API_PID" ] || kill -TERM "$API_PID" 2>/dev/null
	[ -z "$WEB_PID$API_PID" ] || wait $WEB_PID $API_PID 2>/dev/null
	WEB_PID=
	API_PID=
}
trap 'stop_web; rm -rf "$T"' EXIT
web_env=(env KAIDEN_DATABASE_DRIVER=sqlite KAIDEN_DATABASE_PATH="$W/kaiden.db")
if "${web_env[@]}" "${AS[@]}" "$W/kaiden-api" migrate >>"$W/api.log" 2>&1; then
	"${web_env[@]}" "${AS[@]}" "$W/kaiden-api" serve --socket "$W/run/api.sock" \
		</dev/null >>"$W/api.log" 2>&1 &
	API_PID=$!
	"${AS[@]}" "$NGINX" -p "$W/ngx" -c "$W/ngx/nginx.conf" </dev/null >>"$W/nginx.log" 2>&1 &
	WEB_PID=$!
fi
code=000
for _ in $(seq 100); do
	code=$(curl -s -o "$W/healthz" -w '%{http_code}' --max-time 2 "http://127.0.0.1:$WEB_PORT/healthz") || code=000
	[ "$code" = 200 ] && break
	kill -0 "$WEB_PID" 2>/dev/null && kill -0 "$API_PID" 2>/dev/null || break
	sleep 0.1
done
if [ "$code" = 200 ] && grep -q '"status":"ok"' "$W/healthz"; then
	ok "the web pod's nginx, as a non-root user, answers /healthz from kaiden-api's socket"
else
	bad "the web pod's nginx answers /healthz" "$code: $(cat "$W/healthz" "$W/api.log" "$W/nginx.log" 2>/dev/null | tail -n 8)"
fi
check "the web pod's nginx serves the portal" \
	bash -c "curl -s --max-time 5 'http://127.0.0.1:$WEB_PORT/' | grep -qi '<html'"
# helperd is not there: the WebSocket location goes to it, and says so in the API's shape.
body=$(curl -s --max-time 5 -w ' %{http_code}' "http://127.0.0.1:$WEB_PORT/api/v1/ws/agent")
case $body in
*'"code":"unavailable"'*' 502') ok "/api/v1/ws/ goes to helperd's address (502 as JSON when it is down)" ;;
*) bad "/api/v1/ws/ goes to helperd's address" "$body" ;;
esac
check "nginx keeps its pid file under /tmp" [ -s "$W/tmp/nginx.pid" ]
stop_web

# ---- the images' runtime packages cover what the programs link -----------------------------
# NEEDED entries of each program, resolved by ldd, owned (dpkg -S) by a package of its
# image's list or by libc6 (in every Debian image).
for pair in kaiden-api:image-server kaiden-helperd:image-server kaiden-agent:image-agent; do
	prog=${pair%%:*}
	list=" libc6 $(sh scripts/deps.sh packages "${pair#*:}") "
	bin=$B/bin/$prog
	if [ ! -x "$bin" ]; then
		bad "$prog's libraries are in scripts/deps.sh ${pair#*:}" "$bin is missing: build first (make B=$B)"
		continue
	fi
	missing=
	for lib in $(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
		path=$(ldd "$bin" | awk -v l="$lib" '$1 == l { print $3 }')
		pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null || dpkg -S "${path#/usr}" 2>/dev/null)
		pkg=${pkg%%:*}
		case $list in *" $pkg "*) ;; *) missing="$missing $lib(${pkg:-no package})" ;; esac
	done
	if [ -z "$missing" ]; then
		ok "$prog's libraries are in scripts/deps.sh ${pair#*:}"
	else
		bad "$prog's libraries are in scripts/deps.sh ${pair#*:}" "not listed:$missing"
	fi
done
# The agent has no libcurl at all (issue 14: its Kubernetes reads use lws' HTTP client,
# agent/k8s_get.h): neither a NEEDED entry nor a name it could dlopen, and its image
# does not carry the package.
check "kaiden-agent neither links nor opens libcurl" \
	bash -c "[ -x '$B/bin/kaiden-agent' ] && ! readelf -d '$B/bin/kaiden-agent' | grep -q libcurl && ! grep -aq 'libcurl\.so' '$B/bin/kaiden-agent'"
check "scripts/deps.sh image-agent has no libcurl4" \
	bash -c "! sh scripts/deps.sh packages image-agent | tr ' ' '\\n' | grep -qx libcurl4"

# ---- the Dockerfiles -----------------------------------------------------------------------
for f in deploy/docker/server.Dockerfile deploy/docker/agent.Dockerfile; do
	check "$f builds on debian:12 and runs on debian:12-slim" \
		bash -c "grep -qx 'FROM debian:12 AS build' '$f' && grep -qx 'FROM debian:12-slim' '$f'"
	# The user the manifests run as (runAsUser/runAsGroup 10001).
	check "$f runs as the manifests' non-root user" grep -qx 'USER 10001:10001' "$f"
done
check "every pod runs as user 10001" \
	bash -c "! grep -h 'runAs\(User\|Group\):' ${APPLIED[*]} | grep -v ' 10001\$' | grep -q ."

# ---- make images ---------------------------------------------------------------------------
# A PATH with only what images.sh needs besides the stubs, so that a docker or podman
# installed on this machine is not found.
mkdir -p "$T/bin" "$T/nobin"
for tool in dirname sed head; do ln -s "$(command -v "$tool")" "$T/nobin/$tool"; done
if PATH=$T/nobin /bin/sh scripts/images.sh >"$T/img.out" 2>&1; then
	bad "make images fails without docker or podman" "it succeeded: $(cat "$T/img.out")"
else
	check "make images says that neither docker nor podman is usable" grep -q 'neither docker nor podman' "$T/img.out"
fi
# docker's client without its daemon: `docker info` fails.
# shellcheck disable=SC2016 # the stub's own $1 and $*, expanded when it runs
printf '#!/bin/sh\n[ "$1" != info ] || exit 1\necho "docker $*" >>"%s/calls"\n' "$T" >"$T/bin/docker"
chmod +x "$T/bin/docker"
for tool in dirname sed head; do ln -s "$(command -v "$tool")" "$T/bin/$tool"; done
if PATH=$T/bin /bin/sh scripts/images.sh >"$T/img.out" 2>&1; then
	bad "make images fails when docker's daemon is not running" "it succeeded"
else
	check "make images fails when docker's daemon is not running, and builds nothing" \
		bash -c "grep -q 'neither docker nor podman' '$T/img.out' && [ ! -e '$T/calls' ]"
fi
printf '#!/bin/sh\necho "docker $*" >>"%s/calls"\n' "$T" >"$T/bin/docker"
server_v=$(sed -n 's/^#define KAIDEN_VERSION "\(.*\)"/\1/p' fcgi-app/admin.h)
agent_v=$(sed -n 's/^#define AGENT_VERSION "\(.*\)"/\1/p' agent/sysinfo.h)
if PATH=$T/bin /bin/sh scripts/images.sh >"$T/img.out" 2>&1 &&
	grep -qx "docker build -f deploy/docker/server.Dockerfile -t kaiden-server:$server_v ." "$T/calls" &&
	grep -qx "docker build -f deploy/docker/agent.Dockerfile -t kaiden-agent:$agent_v ." "$T/calls"; then
	ok "make images builds kaiden-server:$server_v and kaiden-agent:$agent_v"
else
	bad "make images builds both images with the sources' versions" "$(cat "$T/img.out" "$T/calls" 2>/dev/null)"
fi
check "the manifests name those tags" \
	bash -c "grep -q 'image: kaiden-server:$server_v\$' deploy/k8s/server/web.yaml && grep -q 'image: kaiden-agent:$agent_v\$' deploy/k8s/agent/kaiden-agent.yaml"

summary
