#!/bin/sh
# relay.sh: the built-in relay's costs (issue 9), with real components: one stack on
# SQLite (scripts/stack.sh: nginx, kaiden-api, kaiden-helperd with tunnel.provider auto and
# no Cloudflare settings, so relay), one real kaiden-agent through nginx, and a private
# OpenSSH server as the customer's SSH (tests/integration/sshd.sh). Three parts:
#
#   throughput   ssh 'head -c SIZE /dev/zero' > /dev/null (down: machine -> engineer) and
#                head -c SIZE /dev/zero | ssh 'cat > /dev/null' (up), straight to the sshd
#                and through kaiden-connect as ProxyCommand, in turn, ROUNDS rounds; the
#                median MB/s of each and the relay's share of direct (aim >= 50%). Each
#                time includes ssh's own connection set-up (the same both ways, about
#                0.1 s direct).
#   streams      STREAMS ssh connections held open at once through one session (each runs
#                `cat`, its stdin a FIFO nobody writes): helperd's and the agent's RSS per
#                stream over their RSS with none; then STREAMS concurrent transfers of
#                STREAM_MB each (down): aggregate MB/s, helperd's and the agent's CPU
#                seconds per GB relayed (utime + stime from /proc/PID/stat), and their peak
#                RSS during it (sampled every 100 ms).
#   active       N sessions one after another: POST /sessions until GET says "active"
#                (polled every 5 ms), then DELETE; p50/p95/max in ms.
#
#   B=build SIZE_MB=500 ROUNDS=3 STREAMS=100 STREAM_MB=20 N=50 sh tests/bench/relay.sh
#   DB=postgres PARTS=active sh tests/bench/relay.sh     (PARTS: any of throughput streams
#                                                        active; DB: sqlite or postgres)
#
# Prints Markdown for docs/benchmarks.md and the verdict for the throughput aim; exits 1
# only when something broke (a missed aim is reported, not failed, unless BENCH_STRICT=1).
set -eu
cd "$(dirname "$0")/../.."
B=${B:-build}
SIZE_MB=${SIZE_MB:-500}
ROUNDS=${ROUNDS:-3}
STREAMS=${STREAMS:-100}
STREAM_MB=${STREAM_MB:-20}
N=${N:-50}
DB=${DB:-sqlite}
PARTS=${PARTS:-throughput streams active}
part() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# shellcheck source=scripts/stack.sh
. scripts/stack.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh
# shellcheck source=tests/integration/sshd.sh
. tests/integration/sshd.sh
case $B in /*) BDIR=$B ;; *) BDIR=$(pwd -P)/$B ;; esac
for f in kaiden-api kaiden-helperd kaiden-agent kaiden-connect; do
	[ -x "$BDIR/bin/$f" ] || { echo "relay: $BDIR/bin/$f is missing: build first" >&2; exit 1; }
done
KC_BIN=$BDIR/bin/kaiden-connect

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-relay.XXXXXX")
AGENT_PID=
HOLD_PIDS=
finish() {
	trap - EXIT INT TERM
	for p in $HOLD_PIDS; do kill -KILL "$p" 2>/dev/null || :; done
	if [ -n "$AGENT_PID" ]; then
		kill -TERM "$AGENT_PID" 2>/dev/null || :
		wait "$AGENT_PID" 2>/dev/null || :
	fi
	stack_helperd_stop >/dev/null 2>&1 || :
	stack_stop
	sshd_stop
	web_stop
	if [ -n "${BENCH_KEEP:-}" ]; then echo "relay: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap finish EXIT
trap 'finish; exit 130' INT
trap 'finish; exit 143' TERM

die() {
	echo "relay: $*" >&2
	exit 1
}

# alive PID: true while PID runs (a zombie has exited).
alive() {
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}

for v in $(env | sed -n 's/^\(KAIDEN_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export KAIDEN_LOG_LEVEL=warn

sshd_start "$WORK/sshd" || die "the private sshd did not start"
web_start "$WORK" || die "the web target did not start"

# shellcheck disable=SC2034 # read by scripts/stack.sh
STACK_QUIET=1
stack_init "$WORK/stack" "$DB" auto
stack_db_start
stack_migrate
stack_token
stack_nginx_render
# Each stream is four connections at nginx (the engineer's and the agent's data socket,
# each with its upstream): the dev config's 512 per worker is too few for 100.
sed -i 's/worker_connections [0-9]*;/worker_connections 4096;/' "$STACK_NGINX_DIR/nginx.conf"
KAIDEN_SESSION_SSH_PORT=$SSHD_PORT KAIDEN_SESSION_WEB_PORT=$WEB_PORT stack_api_start
stack_nginx_up
stack_token_verify
KAIDEN_SESSION_SSH_PORT=$SSHD_PORT KAIDEN_SESSION_WEB_PORT=$WEB_PORT \
	KAIDEN_RELAY_SESSION_STREAMS=$((STREAMS + 16)) stack_helperd_start

dev=$(curl -sS --fail-with-body -H "Authorization: Bearer $STACK_TOKEN" \
	-H 'Content-Type: application/json' -d '{"name":"bench-relay"}' "$STACK_URL/api/v1/devices") ||
	die "POST /devices: $dev"
DEV_ID=$(printf '%s' "$dev" | jq -r .device_id)
(umask 077 && printf '%s' "$dev" | jq -r .secret >"$WORK/agent.secret")
KAIDEN_RELAY_PORTS=$SSHD_PORT,$WEB_PORT "$BDIR/bin/kaiden-agent" \
	--server "ws://127.0.0.1:$STACK_PORT/api/v1/ws/agent" --insecure \
	--device-id "$DEV_ID" --secret-file "$WORK/agent.secret" >>"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
i=0
until [ "$(curl -s -H "Authorization: Bearer $STACK_TOKEN" "$STACK_URL/api/v1/devices/$DEV_ID" | jq -r .status)" = online ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { tail "$WORK/agent.log" >&2; die "the agent did not come online"; }
	sleep 0.1
done

# session_active: a new session for the device, waited for (polled every 5 ms); prints
# "ID MS".
session_active() {
	t0=$(ms)
	sid=$(api POST /sessions "{\"device_id\":\"$DEV_ID\",\"engineer_name\":\"Bench\"}" | jq -r .id)
	[ -n "$sid" ] && [ "$sid" != null ] || die "POST /sessions failed"
	while :; do
		st=$(api GET "/sessions/$sid" | jq -r .status)
		[ "$st" != active ] || break
		[ "$st" = pending ] || die "session $sid went $st"
		[ $(($(ms) - t0)) -lt 30000 ] || die "session $sid not active after 30 s"
		sleep 0.005
	done
	echo "$sid $(($(ms) - t0))"
}

export KAIDEN_TOKEN=$STACK_TOKEN
# shellcheck disable=SC2046 # "ID MS"
set -- $(session_active)
[ $# -eq 2 ] || die "no relay session became active"
SID=$1
[ "$(ssh_relay "$STACK_URL" "$SID" 'echo ok')" = ok ] || die "ssh through the relay does not work"
[ "$(ssh_direct 'echo ok')" = ok ] || die "direct ssh does not work"

echo
echo "## relay (tests/bench/relay.sh): $DB, nginx + kaiden-helperd + kaiden-agent + OpenSSH $(ssh -V 2>&1 | sed 's/OpenSSH_\([^ ,]*\).*/\1/') on loopback, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- throughput -----------------------------------------------------------------------------
VERDICT=
if part throughput; then
BYTES=$((SIZE_MB * 1000000))
# one WAY HOW: the milliseconds of one SIZE_MB transfer.
one() {
	t0=$(ms)
	case $1-$2 in
	down-direct) ssh_direct "head -c $BYTES /dev/zero" >/dev/null ;;
	down-relay) ssh_relay "$STACK_URL" "$SID" "head -c $BYTES /dev/zero" >/dev/null ;;
	up-direct) head -c "$BYTES" /dev/zero | ssh_direct 'cat > /dev/null' ;;
	up-relay) head -c "$BYTES" /dev/zero | ssh_relay "$STACK_URL" "$SID" 'cat > /dev/null' ;;
	esac
	echo $(($(ms) - t0))
}
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for way in down up; do
		for how in direct relay; do
			echo "relay: round $r/$ROUNDS: $SIZE_MB MB $way, $how" >&2
			one "$way" "$how" >>"$WORK/$way-$how.ms"
		done
	done
	r=$((r + 1))
done
mbs() { awk -v b="$BYTES" -v t="$1" 'BEGIN { printf "%.0f", b / 1000 / t }'; }
echo
echo "### throughput: $SIZE_MB MB per transfer, one ssh at a time, median of $ROUNDS rounds (MB/s, 10^6 bytes)"
echo
echo "| direction | direct ssh | through the relay | relay / direct |"
echo "|---|---:|---:|---:|"
VERDICT=MET
worst=100
for way in down up; do
	d=$(median <"$WORK/$way-direct.ms")
	rl=$(median <"$WORK/$way-relay.ms")
	pct=$(awk -v d="$d" -v r="$rl" 'BEGIN { printf "%.0f", 100 * d / r }')
	[ "$pct" -ge "$worst" ] || worst=$pct
	label="down (machine -> engineer)"
	[ "$way" = down ] || label="up (engineer -> machine)"
	echo "| $label | $(mbs "$d") | $(mbs "$rl") | $pct% |"
done
[ "$worst" -ge 50 ] || VERDICT=MISSED
echo
echo "verdict (relay throughput): the slower direction at $worst% of direct ssh: $VERDICT (aim >= 50%)"
fi

# ---- streams ---------------------------------------------------------------------------------
if part streams; then
HD=$STACK_HELPERD_PID
hd0=$(rss "$HD")
ag0=$(rss "$AGENT_PID")
rm -f "$WORK/hold"
mkfifo "$WORK/hold"
# The FIFO's one writer is a process of its own (it opens it once the first ssh does),
# so that stopping it ends every ssh's stdin at once.
tail -f /dev/null >"$WORK/hold" &
HOLDER=$!
HOLD_PIDS=$HOLDER
mkdir -p "$WORK/held"
i=1
while [ "$i" -le "$STREAMS" ]; do
	ssh_relay "$STACK_URL" "$SID" 'echo up; exec cat' <"$WORK/hold" >"$WORK/held/$i" 2>&1 &
	HOLD_PIDS="$HOLD_PIDS $!"
	i=$((i + 1))
done
t0=$(ms)
while [ "$(cat "$WORK"/held/* 2>/dev/null | grep -c '^up$')" -lt "$STREAMS" ]; do
	[ $(($(ms) - t0)) -lt 120000 ] || die "only $(cat "$WORK"/held/* | grep -c '^up$') of $STREAMS streams up after 120 s: $(grep -hv '^up$' "$WORK"/held/* | sort | uniq -c | head -5)"
	sleep 0.2
done
up_ms=$(($(ms) - t0))
hd1=$(rss "$HD")
ag1=$(rss "$AGENT_PID")
kill "$HOLDER"
for p in $HOLD_PIDS; do wait "$p" 2>/dev/null || :; done
HOLD_PIDS=

# STREAMS concurrent transfers.
SBYTES=$((STREAM_MB * 1000000))
hdc0=$(cpu "$HD")
agc0=$(cpu "$AGENT_PID")
t0=$(ms)
i=1
while [ "$i" -le "$STREAMS" ]; do
	ssh_relay "$STACK_URL" "$SID" "head -c $SBYTES /dev/zero" 2>>"$WORK/streams.err" | wc -c >"$WORK/held/n$i" &
	HOLD_PIDS="$HOLD_PIDS $!"
	i=$((i + 1))
done
hdpeak=0
agpeak=0
while :; do
	left=0
	for p in $HOLD_PIDS; do ! alive "$p" || left=$((left + 1)); done
	h=$(rss "$HD")
	a=$(rss "$AGENT_PID")
	[ "$h" -le "$hdpeak" ] || hdpeak=$h
	[ "$a" -le "$agpeak" ] || agpeak=$a
	[ "$left" -gt 0 ] || break
	sleep 0.1
done
for p in $HOLD_PIDS; do wait "$p" 2>/dev/null || :; done
HOLD_PIDS=
all_ms=$(($(ms) - t0))
hdc1=$(cpu "$HD")
agc1=$(cpu "$AGENT_PID")
got=$(cat "$WORK"/held/n* | awk '{ s += $1 } END { print s }')
# The same transfers straight to the sshd, for scale: on a small machine the ssh clients
# and sshd's sessions take most of the CPU either way.
t0=$(ms)
i=1
while [ "$i" -le "$STREAMS" ]; do
	ssh_direct "head -c $SBYTES /dev/zero" 2>>"$WORK/streams.err" | wc -c >"$WORK/held/d$i" &
	HOLD_PIDS="$HOLD_PIDS $!"
	i=$((i + 1))
done
for p in $HOLD_PIDS; do wait "$p" 2>/dev/null || :; done
HOLD_PIDS=
direct_ms=$(($(ms) - t0))
dgot=$(cat "$WORK"/held/d* | awk '{ s += $1 } END { print s }')
want=$((STREAMS * SBYTES))
[ "$got" -eq "$want" ] || echo "relay: $STREAMS transfers brought $got bytes, not $want ($(sort "$WORK/streams.err" | uniq -c | head -3))" >&2
gb=$(awk -v b="$got" 'BEGIN { print b / 1e9 }')
echo
echo "### $STREAMS concurrent streams through one session"
echo
echo "| measure | kaiden-helperd | kaiden-agent |"
echo "|---|---:|---:|"
echo "| RSS with no stream (KiB) | $hd0 | $ag0 |"
echo "| RSS with $STREAMS idle streams open (KiB) | $hd1 | $ag1 |"
echo "| per stream (KiB) | $(((hd1 - hd0) / STREAMS)) | $(((ag1 - ag0) / STREAMS)) |"
echo "| peak RSS during $STREAMS transfers of $STREAM_MB MB (KiB) | $hdpeak | $agpeak |"
echo "| CPU seconds per GB relayed | $(awk -v c=$((hdc1 - hdc0)) -v t="$TICKS" -v g="$gb" 'BEGIN { printf "%.2f", c / t / g }') | $(awk -v c=$((agc1 - agc0)) -v t="$TICKS" -v g="$gb" 'BEGIN { printf "%.2f", c / t / g }') |"
echo
echo "$STREAMS streams opened (ssh set-up included) in $up_ms ms; the $STREAMS transfers moved $(awk -v b="$got" 'BEGIN { printf "%.0f", b / 1e6 }') MB in $all_ms ms ($(awk -v b="$got" -v t="$all_ms" 'BEGIN { printf "%.0f", b / 1000 / t }') MB/s in all); the same $STREAMS transfers straight to the sshd: $(awk -v b="$dgot" 'BEGIN { printf "%.0f", b / 1e6 }') MB in $direct_ms ms ($(awk -v b="$dgot" -v t="$direct_ms" 'BEGIN { printf "%.0f", b / 1000 / t }') MB/s)."

fi

# ---- time to active ----------------------------------------------------------------------------
api DELETE "/sessions/$SID" >/dev/null
if part active; then
: >"$WORK/active.ms"
i=1
while [ "$i" -le "$N" ]; do
	# shellcheck disable=SC2046 # "ID MS"
	set -- $(session_active)
	[ $# -eq 2 ] || die "session $i did not become active"
	echo "$2" >>"$WORK/active.ms"
	api DELETE "/sessions/$1" >/dev/null
	i=$((i + 1))
done
sort -n "$WORK/active.ms" >"$WORK/active.sorted"
pctl() { awk -v p="$1" '{ v[NR] = $1 } END { k = int(p / 100 * NR + 0.9999); if (k < 1) k = 1; print v[k] }' "$WORK/active.sorted"; }
echo
echo "### time to active: $N relay sessions one after another (POST until GET says active, polled every 5 ms)"
echo
echo "| p50 ms | p95 ms | max ms |"
echo "|---:|---:|---:|"
echo "| $(pctl 50) | $(pctl 95) | $(pctl 100) |"
fi
if [ "$VERDICT" = MISSED ] && [ -n "${BENCH_STRICT:-}" ]; then exit 1; fi
exit 0
