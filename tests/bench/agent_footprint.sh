#!/bin/sh
# agent_footprint.sh: what one idle, connected kaiden-agent costs the machine it runs on
# (issue 14: under 4 MiB resident and under 0.1% of a core). Real components: one stack on
# SQLite (scripts/stack.sh: nginx, kaiden-api, kaiden-helperd at its default 20 s
# heartbeat), nginx also serving TLS on a second loopback port with a test CA's
# certificate, as a customer's agent meets it: wss://, the certificate verified against
# the system's CAs with the test CA added. TRUST says how:
#
#   default   no --ca-file: the agent's default trust, the system's CAs, given as
#             SSL_CERT_DIR, a copy of /etc/ssl/certs's hash links plus the test CA's
#   bundle    --ca-file: the system's bundle (/etc/ssl/certs/ca-certificates.crt) with the
#             test CA appended (an agent that parses the whole bundle, as every agent
#             did before issue 14 by default: use it to compare with an older binary)
#
# Two agents:
#
#   device    --device-id, over wss://
#   cluster   --cluster-id and --node-name, over wss://, reading its node from
#             tests/fakes/fake_k8s.py over https (--k8s-ca-file) every 60 s (the default)
#
# Each is waited for until the API shows it online (the cluster's node with its reading),
# then both idle IDLE seconds (default 60: three heartbeats). Printed per agent: VmRSS
# sampled once a second while idle (the median, the aim's figure, and the maximum) and at
# the end, VmHWM (/proc/PID/status), Pss, Pss_Anon and Pss_File (/proc/PID/smaps_rollup), the
# threads, the CPU used over the idle interval (utime + stime from /proc/PID/stat, as a
# percentage of one core), its wake-ups (context switches, voluntary and not, per minute)
# and the verdict against the aims; then, per agent, the mappings with the most resident
# memory (/proc/PID/smaps) so that a change shows where it went.
#
#   B=build IDLE=60 TRUST=default sh tests/bench/agent_footprint.sh
#   AGENT=/path/to/kaiden-agent TRUST=bundle ...   another agent binary (an older build)
#
# Prints Markdown for docs/benchmarks.md; exits 1 only when something broke (a missed aim is
# reported, not failed, unless BENCH_STRICT=1). BENCH_KEEP=1 keeps the temp directory.
set -eu
cd "$(dirname "$0")/../.."
B=${B:-build}
IDLE=${IDLE:-60}
TRUST=${TRUST:-default}
TOP=${TOP:-8}
AIM_RSS_KIB=4096
AIM_CPU_PCT=0.1

# shellcheck source=scripts/stack.sh
. scripts/stack.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh
case $B in /*) BDIR=$B ;; *) BDIR=$(pwd -P)/$B ;; esac
AGENT=${AGENT:-$BDIR/bin/kaiden-agent}
for f in "$BDIR/bin/kaiden-api" "$BDIR/bin/kaiden-helperd" "$AGENT"; do
	[ -x "$f" ] || { echo "footprint: $f is missing: build first" >&2; exit 1; }
done
SYSTEM_CAS=/etc/ssl/certs/ca-certificates.crt
[ -r "$SYSTEM_CAS" ] || { echo "footprint: $SYSTEM_CAS is missing (ca-certificates)" >&2; exit 1; }
for p in jq openssl python3 curl; do
	command -v "$p" >/dev/null 2>&1 || { echo "footprint: $p is not installed" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-footprint.XXXXXX")
DEV_PID=
CL_PID=
K8S_PID=
finish() {
	trap - EXIT INT TERM
	for p in $DEV_PID $CL_PID; do
		kill -TERM "$p" 2>/dev/null || :
		wait "$p" 2>/dev/null || :
	done
	if [ -n "$K8S_PID" ]; then
		kill -TERM "$K8S_PID" 2>/dev/null || :
		wait "$K8S_PID" 2>/dev/null || :
	fi
	stack_helperd_stop >/dev/null 2>&1 || :
	stack_stop
	if [ -n "${BENCH_KEEP:-}" ]; then echo "footprint: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap finish EXIT
trap 'finish; exit 130' INT
trap 'finish; exit 143' TERM

die() {
	echo "footprint: $*" >&2
	exit 1
}

# status_kib PID FIELD: a "FIELD: N kB" line of /proc/PID/status.
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# rollup_kib PID FIELD: the same from /proc/PID/smaps_rollup.
rollup_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/smaps_rollup"; }
# median_kib AGENT: the median of its VmRSS samples (the lower one of an even count).
median_kib() { sort -n "$WORK/rss.$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# switches PID: its context switches so far (each wake-up from poll() is one).
switches() { awk '/ctxt_switches:/ { n += $2 } END { print n }' "/proc/$1/status"; }

for v in $(env | sed -n 's/^\(KAIDEN_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
unset NODE_NAME KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
export KAIDEN_LOG_LEVEL=warn

# The fake Kubernetes API over https; its test CA also signs nginx's certificate (for IP
# 127.0.0.1), so one --ca-file serves both of the agents' TLS peers.
K8S_TOKEN="footprint-k8s-token-$$"
(umask 077 && printf '%s\n' "$K8S_TOKEN" >"$WORK/k8s.token")
python3 tests/fakes/fake_k8s.py --port-file "$WORK/k8s.port" --token-file "$WORK/k8s.token" \
	--tls-dir "$WORK/tls" --node worker-1 >/dev/null 2>"$WORK/fake_k8s.err" &
K8S_PID=$!
i=0
until [ -s "$WORK/k8s.port" ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] && kill -0 "$K8S_PID" 2>/dev/null || die "fake_k8s.py did not start: $(cat "$WORK/fake_k8s.err")"
	sleep 0.1
done
K8S_PORT=$(cat "$WORK/k8s.port")
case $TRUST in
default)
	mkdir "$WORK/certs"
	for f in /etc/ssl/certs/*.[0-9]; do ln -s "$f" "$WORK/certs/"; done
	cp "$WORK/tls/ca.crt" "$WORK/certs/$(openssl x509 -hash -noout -in "$WORK/tls/ca.crt").0"
	CERT_DIR=$WORK/certs
	set --
	;;
bundle)
	cat "$SYSTEM_CAS" "$WORK/tls/ca.crt" >"$WORK/bundle.crt"
	CERT_DIR=
	set -- --ca-file "$WORK/bundle.crt"
	;;
*) die "TRUST is default or bundle, not $TRUST" ;;
esac

# shellcheck disable=SC2034 # read by scripts/stack.sh
STACK_QUIET=1
stack_init "$WORK/stack" sqlite auto
stack_db_start
stack_migrate
stack_token
stack_nginx_render
TLS_PORT=$(stack_free_port)
# A second server {}: the same locations over TLS, as kaiden-example.conf sets one up.
awk -v port="$TLS_PORT" -v crt="$WORK/tls/server.crt" -v key="$WORK/tls/server.key" '
	{ lines[NR] = $0 }
	END {
		for (n = NR; n > 0 && lines[n] !~ /^}/; n--) ;
		for (i = 1; i < n; i++) print lines[i]
		print "    server {"
		print "        listen 127.0.0.1:" port " ssl;"
		print "        server_name localhost;"
		print "        ssl_certificate " crt ";"
		print "        ssl_certificate_key " key ";"
		print "        include kaiden.conf;"
		print "    }"
		for (i = n; i <= NR; i++) print lines[i]
	}' "$STACK_NGINX_DIR/nginx.conf" >"$STACK_NGINX_DIR/nginx.conf.tls"
mv "$STACK_NGINX_DIR/nginx.conf.tls" "$STACK_NGINX_DIR/nginx.conf"
stack_api_start
stack_nginx_up
stack_token_verify
stack_helperd_start
SERVER=wss://127.0.0.1:$TLS_PORT/api/v1/ws/agent

dev=$(api POST /devices '{"name":"footprint"}')
DEV_ID=$(printf '%s' "$dev" | jq -r .device_id)
[ -n "$DEV_ID" ] && [ "$DEV_ID" != null ] || die "POST /devices: $dev"
(umask 077 && printf '%s' "$dev" | jq -r .secret >"$WORK/device.secret")
cl=$(api POST /clusters '{"name":"footprint"}')
CL_ID=$(printf '%s' "$cl" | jq -r .id)
[ -n "$CL_ID" ] && [ "$CL_ID" != null ] || die "POST /clusters: $cl"
(umask 077 && printf '%s' "$cl" | jq -r .secret >"$WORK/cluster.secret")

env ${CERT_DIR:+SSL_CERT_DIR="$CERT_DIR"} "$AGENT" --server "$SERVER" "$@" \
	--device-id "$DEV_ID" --secret-file "$WORK/device.secret" </dev/null >>"$WORK/device.log" 2>&1 &
DEV_PID=$!
env ${CERT_DIR:+SSL_CERT_DIR="$CERT_DIR"} "$AGENT" --server "$SERVER" "$@" \
	--cluster-id "$CL_ID" --node-name worker-1 --secret-file "$WORK/cluster.secret" \
	--k8s-api "https://127.0.0.1:$K8S_PORT" --k8s-ca-file "$WORK/tls/ca.crt" \
	--k8s-token-file "$WORK/k8s.token" </dev/null >>"$WORK/cluster.log" 2>&1 &
CL_PID=$!

# Online, and for the node its first reading (its kubelet version comes from the fake).
i=0
until [ "$(api GET "/devices/$DEV_ID" | jq -r .status)" = online ] &&
	[ "$(api GET "/clusters/$CL_ID/nodes?status=online" | jq -r '.items | length')" = 1 ] &&
	[ "$(api GET "/clusters/$CL_ID/nodes" | jq -r '.items[0].versions.kubelet // empty')" != "" ]; do
	i=$((i + 1))
	if [ "$i" -ge 300 ]; then
		tail -5 "$WORK/device.log" "$WORK/cluster.log" >&2
		die "the agents did not come online with the node's reading"
	fi
	sleep 0.1
done

echo
echo "## agent footprint (tests/bench/agent_footprint.sh): $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -srm), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "One device agent and one cluster-mode agent ($AGENT, TRUST=$TRUST), each over wss:// through nginx to kaiden-helperd (20 s heartbeat), idle ${IDLE} s after coming online."
echo
c0_dev=$(cpu "$DEV_PID")
c0_cl=$(cpu "$CL_PID")
s0_dev=$(switches "$DEV_PID")
s0_cl=$(switches "$CL_PID")
t0=$(date +%s%N)
# VmRSS once a second while idle: a node's agent reads its Node every 60 s (a TLS
# handshake, then about 3 s until it gives the pages back: agent/release.h), so one
# sample at the end may fall on a read; the median is the idle figure, the maximum shows
# the reads.
: >"$WORK/rss.device"
: >"$WORK/rss.cluster"
end=$(($(date +%s) + IDLE))
mkdir "$WORK/smaps"
while [ "$(date +%s)" -lt "$end" ]; do
	for a in device cluster; do
		[ "$a" = device ] && pid=$DEV_PID || pid=$CL_PID
		kib=$(status_kib "$pid" VmRSS)
		echo "$kib" >>"$WORK/rss.$a"
		# kept per figure: the mappings table below shows a sample at the median
		cat "/proc/$pid/smaps" >"$WORK/smaps/$a.$kib"
	done
	sleep 1
done
c1_dev=$(cpu "$DEV_PID")
c1_cl=$(cpu "$CL_PID")
s1_dev=$(switches "$DEV_PID")
s1_cl=$(switches "$CL_PID")
t1=$(date +%s%N)
for p in "$DEV_PID" "$CL_PID"; do
	kill -0 "$p" 2>/dev/null || die "an agent exited while idle: $(tail -5 "$WORK/device.log" "$WORK/cluster.log")"
done
[ "$(api GET "/devices/$DEV_ID" | jq -r .status)" = online ] || die "the device agent went offline while idle"

echo "| agent | VmRSS KiB, median of 1 s samples | max | at the end | VmHWM KiB | Pss KiB | Pss_Anon KiB | Pss_File KiB | threads | CPU % over ${IDLE} s | wake-ups/min | verdict (< 4 MiB RSS, < 0.1% CPU) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
MISSED=0
row() {
	name=$1 pid=$2 c0=$3 c1=$4 s0=$5 s1=$6
	wakeups=$(awk -v n="$((s1 - s0))" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.1f", n * 60e9 / (t1 - t0) }')
	rss=$(median_kib "$name")
	rss_max=$(sort -n "$WORK/rss.$name" | tail -1)
	pct=$(awk -v c="$((c1 - c0))" -v hz="$TICKS" -v t0="$t0" -v t1="$t1" \
		'BEGIN { printf "%.3f", 100 * c / hz / ((t1 - t0) / 1e9) }')
	v=MET
	if [ "$rss" -ge "$AIM_RSS_KIB" ] || awk -v p="$pct" -v a="$AIM_CPU_PCT" 'BEGIN { exit !(p >= a) }'; then
		v=MISSED
		MISSED=1
	fi
	echo "| $name | $rss | $rss_max | $(status_kib "$pid" VmRSS) | $(status_kib "$pid" VmHWM) | $(rollup_kib "$pid" Pss) | $(rollup_kib "$pid" Pss_Anon) | $(rollup_kib "$pid" Pss_File) | $(status_kib "$pid" Threads) | $pct | $wakeups | $v |"
}
row device "$DEV_PID" "$c0_dev" "$c1_dev" "$s0_dev" "$s1_dev"
row cluster "$CL_PID" "$c0_cl" "$c1_cl" "$s0_cl" "$s1_cl"

# top SMAPS: the TOP mappings of a copy of /proc/PID/smaps by resident KiB (a file's mappings summed per file; anonymous
# ones by what the kernel names them: [heap], [stack], or an unnamed region).
top() {
	awk '
		/^[0-9a-f]+-[0-9a-f]+ / {
			name = NF >= 6 ? $6 : "[anon]"
			if (name ~ /^\/.*\//) { n = split(name, parts, "/"); name = parts[n] }
			next
		}
		$1 == "Rss:" { rss[name] += $2 }
		$1 == "Anonymous:" { anon[name] += $2 }
		END { for (n in rss) if (rss[n] > 0) printf "%d %d %s\n", rss[n], anon[n], n }
	' "$1" | sort -rn | head -n "$TOP" |
		awk '{ printf "| %s | %d | %d |\n", $3, $1, $2 }'
}
for a in device cluster; do
	median=$(median_kib "$a")
	echo
	echo "### $a agent: the $TOP mappings with the most resident memory (/proc/PID/smaps, a sample at the median, $median KiB)"
	echo
	echo "| mapping | Rss KiB | of it anonymous KiB |"
	echo "|---|---:|---:|"
	top "$WORK/smaps/$a.$median"
done
echo
if [ "$MISSED" -eq 0 ]; then
	echo "verdict (agent footprint): MET (aim < 4 MiB RSS and < 0.1% of a core, idle)"
else
	echo "verdict (agent footprint): MISSED (aim < 4 MiB RSS and < 0.1% of a core, idle)"
	[ -z "${BENCH_STRICT:-}" ] || exit 1
fi
