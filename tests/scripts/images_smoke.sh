#!/usr/bin/env bash
# images_smoke.sh: runs the images `make images` built, once, the way deploy/k8s/ runs
# them, with docker or podman. Not part of make check (CI has no container engine):
# run it by hand after make images (on a machine without Docker Hub, see
# scripts/podman-offline.sh).
#
#   - each image: its user is 10001, `kaiden-api version` / `kaiden-agent --version`
#     print the versions the tags come from, and every command the manifests run and
#     every file they or the README name is there (nginx's config and snippet, the
#     portal, the CA bundle a DSN's sslrootcert names);
#   - each container of deploy/k8s/server/{web,helperd}.yaml and the agent's DaemonSet
#     runs with its manifest's command, user, read-only root, no capabilities, no
#     privilege escalation and the emptyDirs it mounts (a directory per pod volume, shared
#     by that pod's containers, as an emptyDir is) and nothing else writable; settings
#     from the ConfigMaps of config.yaml and kaiden-agent.yaml, the Secrets' keys given
#     by hand. Host network (ports 8080, 8081 and 9091 must be free: they are the
#     manifests'), with a throwaway PostgreSQL (scripts/pg.sh) and the fake Kubernetes
#     API (tests/fakes/fake_k8s.py, TLS, its token and CA mounted where a pod has its
#     service account's):
#       the migrate init container applies the migrations; nginx answers /healthz from
#       kaiden-api and serves the portal; kaiden-api's liveness probe holds; helperd's
#       /healthz answers; the README's `kaiden-api token create` works in the container;
#       a cluster made through nginx gets the agent's node online (the agent reaching
#       helperd through nginx's /api/v1/ws/); each container stops on SIGTERM, exit 0.
#
#   bash tests/scripts/images_smoke.sh     ENGINE=docker|podman, IMAGE_PREFIX as make images
#   KEEP=1 leaves the containers (named kaiden-smoke-*), the work directory, PostgreSQL and
#   the fake API server running for a look (it says how to stop them).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/scripts/lib.sh

version_of() { sed -n "s/^#define $2 \"\\([^\"]*\\)\".*/\\1/p" "$1" | head -n 1; }
SERVER_VERSION=$(version_of fcgi-app/admin.h KAIDEN_VERSION)
AGENT_VERSION=$(version_of agent/sysinfo.h AGENT_VERSION)
PREFIX=${IMAGE_PREFIX:-}
SERVER=${PREFIX}kaiden-server:$SERVER_VERSION
AGENT=${PREFIX}kaiden-agent:$AGENT_VERSION

E=${ENGINE:-}
if [ -z "$E" ]; then
	for t in docker podman; do
		if command -v "$t" >/dev/null 2>&1 && "$t" info >/dev/null 2>&1; then E=$t; break; fi
	done
fi
[ -n "$E" ] || { echo "images_smoke: neither docker nor podman is usable here" >&2; exit 1; }
for i in "$SERVER" "$AGENT"; do
	"$E" image inspect "$i" >/dev/null 2>&1 || { echo "images_smoke: no image $i: make images first" >&2; exit 1; }
done
for p in 8080 8081 9091; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		echo "images_smoke: port $p is in use on this host (the manifests' ports, host network)" >&2
		exit 1
	fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-smoke.XXXXXX")
chmod 755 "$T"
FAKE_PID=
NAMES=()
cleanup() {
	if [ -n "${KEEP:-}" ]; then
		echo "images_smoke: KEEP: containers ${NAMES[*]}, work directory $T," \
			"PostgreSQL (sh scripts/pg.sh stop $T/pg), fake API server (pid ${FAKE_PID:-none})" >&2
		return
	fi
	for n in "${NAMES[@]}"; do "$E" rm -f "$n" >/dev/null 2>&1; done
	[ -z "$FAKE_PID" ] || kill "$FAKE_PID" 2>/dev/null
	[ ! -d "$T/pg" ] || sh scripts/pg.sh stop "$T/pg" >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT

# ---- the images themselves ------------------------------------------------------------------
for i in "$SERVER" "$AGENT"; do
	check "$i's user is 10001:10001" \
		bash -c "[ \"\$('$E' image inspect --format '{{.Config.User}}' '$i')\" = 10001:10001 ]"
	check "$i runs as uid 10001" bash -c "[ \"\$('$E' run --rm '$i' id -u)\" = 10001 ]"
done
out=$("$E" run --rm "$SERVER" kaiden-api version 2>&1)
check "kaiden-api version in $SERVER says $SERVER_VERSION ($out)" \
	bash -c "[ '$out' = 'kaiden-api $SERVER_VERSION' ]"
out=$("$E" run --rm "$AGENT" kaiden-agent --version 2>&1)
case $out in
"kaiden-agent $AGENT_VERSION "*) ok "kaiden-agent --version in $AGENT says $AGENT_VERSION" ;;
*) bad "kaiden-agent --version in $AGENT says $AGENT_VERSION" "$out" ;;
esac

# The containers of the manifests, one line each: workload, container, image, command
# (JSON), runAsUser:runAsGroup, readOnlyRootFilesystem, emptyDir mounts (volume=path,...).
"$PY" - deploy/k8s/server/web.yaml deploy/k8s/server/helperd.yaml \
	deploy/k8s/agent/kaiden-agent.yaml >"$T/containers" <<'EOF' || { echo "images_smoke: reading the manifests failed" >&2; exit 1; }
import json, sys, yaml
for path in sys.argv[1:]:
    for doc in yaml.safe_load_all(open(path)):
        if not doc or doc.get("kind") not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue
        pod = doc["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        empty = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for c in pod.get("initContainers", []) + pod["containers"]:
            sc = c.get("securityContext", {})
            user = "%s:%s" % (sc.get("runAsUser", psc.get("runAsUser", "")),
                              sc.get("runAsGroup", psc.get("runAsGroup", "")))
            mounts = ",".join("%s=%s" % (m["name"], m["mountPath"])
                              for m in c.get("volumeMounts", []) if m["name"] in empty)
            print("\t".join([doc["metadata"]["name"], c["name"], c["image"],
                             json.dumps(c.get("command", []) + c.get("args", [])), user,
                             str(sc.get("readOnlyRootFilesystem", False)).lower(), mounts or "-"]))
EOF
# KEY=VALUE lines of a ConfigMap's data: configmap FILE NAME.
configmap() {
	"$PY" -c '
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "ConfigMap" and d["metadata"]["name"] == sys.argv[2]:
        for k, v in d["data"].items():
            print("%s=%s" % (k, v))' "$1" "$2"
}
configmap deploy/k8s/server/config.yaml kaiden-config >"$T/server.env"
configmap deploy/k8s/agent/kaiden-agent.yaml kaiden-agent >"$T/agent.env"
check "the ConfigMaps kaiden-config and kaiden-agent were read" \
	bash -c "grep -q '^KAIDEN_SERVER_SOCKET=' '$T/server.env' && grep -q '^KAIDEN_SERVER=' '$T/agent.env'"

# Every command the manifests run is on the image's PATH; the files they name are there.
while IFS=$'\t' read -r wl name image cmd _; do
	prog=$("$PY" -c 'import json,sys; c=json.loads(sys.argv[1]); print(c[0] if c else "")' "$cmd")
	img=$PREFIX$image
	[ -n "$prog" ] || { bad "$wl/$name names a command" "none: it would run the image's CMD"; continue; }
	check "$wl/$name: $prog is in $img" "$E" run --rm "$img" sh -c "command -v '$prog' >/dev/null"
done <"$T/containers"
for f in /etc/nginx/nginx.conf /etc/nginx/snippets/kaiden.conf /etc/nginx/mime.types \
	/usr/share/kaiden/www/index.html /etc/ssl/certs/ca-certificates.crt /usr/bin/test; do
	check "$SERVER has $f" "$E" run --rm "$SERVER" test -s "$f"
done
check "$AGENT has /etc/ssl/certs/ca-certificates.crt" \
	"$E" run --rm "$AGENT" test -s /etc/ssl/certs/ca-certificates.crt

# ---- run them as the manifests do -----------------------------------------------------------
if ! sh scripts/pg.sh start "$T/pg" >"$T/pg.out" 2>&1; then
	bad "a throwaway PostgreSQL starts (scripts/pg.sh)" "$(tail -n 5 "$T/pg.out")"
	summary
	exit
fi
PGPORT=$(cat "$T/pg/port")
DSN="host=127.0.0.1 port=$PGPORT user=kaiden_api dbname=kaiden"
OWNER_DSN="host=127.0.0.1 port=$PGPORT user=postgres dbname=kaiden"
JWT=$(head -c 36 /dev/urandom | base64)

# run_container WORKLOAD NAME DETACH ENVFILE [-e K=V ...]: WORKLOAD's container NAME as its
# manifest says, on the host's network; each emptyDir is $T/vol/WORKLOAD/VOLUME, mode 1777.
run_container() {
	local wl=$1 name=$2 detach=$3 envfile=$4
	shift 4
	local line image cmd user ro mounts args=()
	line=$(awk -F'\t' -v w="$wl" -v n="$name" '$1 == w && $2 == n' "$T/containers")
	[ -n "$line" ] || { echo "no container $wl/$name in the manifests" >&2; return 1; }
	IFS=$'\t' read -r _ _ image cmd user ro mounts <<<"$line"
	args=(--name "kaiden-smoke-$wl-$name" --network host --user "$user"
		--cap-drop ALL --security-opt no-new-privileges --env-file "$envfile"
		--add-host kaiden-helperd:127.0.0.1)
	if [ "$ro" = true ]; then
		args+=(--read-only)
		# podman's --read-only mounts tmpfs on /tmp, /var/tmp and /run unless told not to;
		# Kubernetes mounts only what the manifest says.
		[ "$E" = podman ] && args+=(--read-only-tmpfs=false)
	fi
	if [ "$mounts" != - ]; then
		local m
		for m in ${mounts//,/ }; do
			mkdir -p "$T/vol/$wl/${m%%=*}"
			chmod 1777 "$T/vol/$wl/${m%%=*}"
			args+=(-v "$T/vol/$wl/${m%%=*}:${m#*=}")
		done
	fi
	[ "$detach" = 1 ] && args+=(-d) || args+=(--rm)
	NAMES+=("kaiden-smoke-$wl-$name")
	"$E" rm -f "kaiden-smoke-$wl-$name" >/dev/null 2>&1
	local argv=()
	mapfile -t argv < <("$PY" -c 'import json,sys; print("\n".join(json.loads(sys.argv[1])))' "$cmd")
	"$E" run "${args[@]}" "$@" "$PREFIX$image" "${argv[@]}"
}
logs() { "$E" logs "kaiden-smoke-$1" 2>&1 | tail -n "${2:-8}"; }

if run_container kaiden-web migrate 0 "$T/server.env" -e KAIDEN_DATABASE_DSN="$DSN" \
	-e KAIDEN_DATABASE_OWNER_DSN="$OWNER_DSN" >"$T/migrate.log" 2>&1; then
	ok "kaiden-web's init container applies the migrations"
else
	bad "kaiden-web's init container applies the migrations" "$(tail -n 5 "$T/migrate.log")"
fi
run_container kaiden-web kaiden-api 1 "$T/server.env" -e KAIDEN_DATABASE_DSN="$DSN" \
	-e KAIDEN_AUTH_JWT_SECRET="$JWT" >/dev/null
: >"$T/none.env"
run_container kaiden-web nginx 1 "$T/none.env" >/dev/null
run_container kaiden-helperd kaiden-helperd 1 "$T/server.env" -e KAIDEN_DATABASE_DSN="$DSN" \
	-e KAIDEN_AUTH_JWT_SECRET="$JWT" >/dev/null

# wait_http URL PATTERN: up to 20 s for URL to answer 200 with PATTERN in its body.
wait_http() {
	local i
	for i in $(seq 100); do
		if curl -sf --max-time 2 "$1" 2>/dev/null | grep -q "$2"; then return 0; fi
		sleep 0.2
	done
	return 1
}
if wait_http http://127.0.0.1:8080/healthz '"status":"ok"'; then
	ok "the web pod's nginx answers /healthz from kaiden-api (database migrated)"
else
	bad "the web pod's nginx answers /healthz" "$(curl -s http://127.0.0.1:8080/healthz)
$(logs kaiden-web-kaiden-api) $(logs kaiden-web-nginx)"
fi
check "the web pod's nginx serves the portal" \
	bash -c "curl -s --max-time 5 http://127.0.0.1:8080/ | grep -qi '<html'"
check "kaiden-api's liveness probe (test -S /run/kaiden/api.sock) holds" \
	"$E" exec kaiden-smoke-kaiden-web-kaiden-api test -S /run/kaiden/api.sock
if wait_http http://127.0.0.1:9091/healthz ok; then
	ok "kaiden-helperd's /healthz on its metrics port answers"
else
	bad "kaiden-helperd's /healthz answers" "$(logs kaiden-helperd-kaiden-helperd)"
fi
TOKEN=$("$E" exec kaiden-smoke-kaiden-web-kaiden-api kaiden-api token create --name smoke 2>"$T/token.err" | tail -n 1)
case $TOKEN in
kdn_*) ok "kaiden-api token create works in the kaiden-api container (README)" ;;
*) bad "kaiden-api token create works in the kaiden-api container" "$TOKEN $(cat "$T/token.err")" ;;
esac
curl -s --max-time 5 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	-d '{"name":"smoke"}' http://127.0.0.1:8080/api/v1/clusters >"$T/cluster.json"
CLUSTER_ID=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/cluster.json" 2>/dev/null)
CLUSTER_SECRET=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$T/cluster.json" 2>/dev/null)
check "POST /api/v1/clusters through nginx makes a cluster" \
	bash -c "[ -n '$CLUSTER_ID' ] && [ -n '$CLUSTER_SECRET' ]"

# The agent: the fake API server stands for the cluster's; its token and CA are mounted
# where the kubelet puts a pod's service account.
mkdir -p "$T/k8s/sa"
echo "smoke-sa-token" >"$T/k8s/token"
"$PY" tests/fakes/fake_k8s.py --port-file "$T/k8s/port" --token-file "$T/k8s/token" \
	--tls-dir "$T/k8s/tls" --node smoke-node-1 >"$T/k8s/fake.log" 2>&1 &
FAKE_PID=$!
for _ in $(seq 100); do [ -s "$T/k8s/port" ] && break; sleep 0.1; done
cp "$T/k8s/token" "$T/k8s/sa/token"
cp "$T/k8s/tls/ca.crt" "$T/k8s/sa/ca.crt" 2>/dev/null
echo kaiden-system >"$T/k8s/sa/namespace"
chmod 644 "$T"/k8s/sa/*
run_container kaiden-agent kaiden-agent 1 "$T/agent.env" \
	-v "$T/k8s/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" \
	-e KUBERNETES_SERVICE_HOST=127.0.0.1 -e KUBERNETES_SERVICE_PORT="$(cat "$T/k8s/port")" \
	-e NODE_NAME=smoke-node-1 -e KAIDEN_CLUSTER_ID="$CLUSTER_ID" -e KAIDEN_SECRET="$CLUSTER_SECRET" \
	-e KAIDEN_SERVER=ws://127.0.0.1:8080/api/v1/ws/agent -e KAIDEN_INSECURE=1 >/dev/null
online=
for _ in $(seq 100); do
	curl -s --max-time 2 -H "Authorization: Bearer $TOKEN" \
		"http://127.0.0.1:8080/api/v1/clusters/$CLUSTER_ID/nodes" >"$T/nodes.json"
	if "$PY" -c '
import json, sys
n = json.load(open(sys.argv[1]))["items"]
sys.exit(0 if n and n[0]["node_name"] == "smoke-node-1" and n[0]["status"] == "online"
         and n[0].get("node_status") == "Ready" else 1)' "$T/nodes.json" 2>/dev/null; then
		online=1
		break
	fi
	sleep 0.2
done
if [ -n "$online" ]; then
	ok "the agent's node is online and Ready (agent -> nginx -> helperd, node read from the API)"
else
	bad "the agent's node comes online" "$(cat "$T/nodes.json") $(logs kaiden-agent-kaiden-agent)"
fi

# Each stops on SIGTERM (the kubelet's), promptly and with status 0.
for c in kaiden-agent-kaiden-agent kaiden-helperd-kaiden-helperd kaiden-web-nginx kaiden-web-kaiden-api; do
	start=$(date +%s)
	"$E" stop -t 20 "kaiden-smoke-$c" >/dev/null 2>&1
	took=$(($(date +%s) - start))
	code=$("$E" inspect --format '{{.State.ExitCode}}' "kaiden-smoke-$c" 2>/dev/null)
	if [ "$code" = 0 ] && [ "$took" -lt 10 ]; then
		ok "$c stops on SIGTERM with status 0 (${took} s)"
	else
		bad "$c stops on SIGTERM with status 0" "status $code after ${took} s: $(logs "$c" 3)"
	fi
done
summary
