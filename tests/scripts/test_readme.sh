#!/usr/bin/env bash
# test_readme.sh: the README's quick start, as a new user follows it. Starts `make run`'s
# stack (scripts/run.sh; make run adds only deps.sh and the build, done by make check
# already) in a temporary VAR on a free port, in its own process group as a terminal
# would; waits for its banner; runs every block the README marks `<!-- readme-test -->`,
# in order, in one bash, from the top of the checkout, exactly as written (PORT and VAR
# come from the environment, as the README says to set them); compares what they print
# with the README's `#>` lines (`...` matches anything); then sends SIGINT to the process
# group, as Ctrl-C does, and checks that run.sh stopped and that nothing it or the
# blocks started is left (no sleep, nginx, kaiden-api, helperd, agent, ssh or
# kaiden-connect), and that no file appeared in the checkout.
#
# The quick start sshes into the machine's own sshd through the relay. Here that is a
# private one (tests/integration/sshd.sh) on a free port, reached the way the README says
# for another port: make run gets KAIDEN_SESSION_SSH_PORT, the blocks (the agent)
# KAIDEN_RELAY_PORTS; the README's ssh, run as written, finds the test's key in an
# ssh-agent of the test's own (SSH_AUTH_SOCK), as a user's would. The cloud services
# walkthrough runs against tests/fakes' helm, Kubernetes API and DNS server.
#
#   B=build bash tests/scripts/test_readme.sh      (KEEP=1 keeps the directory)
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
. tests/scripts/lib.sh

# A new user's shell has no KAIDEN_* settings.
kaiden_env_clear

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaiden-readme.XXXXXX")
VAR=$WORK/var
PORT=$(. scripts/stack.sh && stack_free_port) || {
	bad "a free port" "stack_free_port found none"
	summary
	exit 1
}
RUN_PID=
touch "$WORK/stamp"
SSH_AGENT_PID=

# The private sshd and an ssh-agent holding its client key.
# shellcheck source=tests/integration/sshd.sh
. scripts/stack.sh
. tests/integration/sshd.sh
stop_sshd() {
	sshd_stop
	[ -z "$SSH_AGENT_PID" ] || kill "$SSH_AGENT_PID" 2>/dev/null
	SSH_AGENT_PID=
}
if sshd_start "$WORK/sshd" && eval "$(ssh-agent -s -a "$WORK/ssh-agent.sock")" >/dev/null &&
	ssh-add -q "$SSH_KEY" 2>"$WORK/ssh-add.err"; then
	ok "a private sshd on 127.0.0.1:$SSHD_PORT, its key in an ssh-agent"
else
	bad "a private sshd on 127.0.0.1:$SSHD_PORT, its key in an ssh-agent" \
		"$(tail -n 3 "$WORK/sshd/sshd.log" "$WORK/ssh-add.err" 2>/dev/null)"
	stop_sshd
	rm -rf "$WORK"
	summary
	exit 1
fi

# The cloud services walkthrough runs against a fake Kubernetes API, the fake helm (its
# n8n chart's pods ready at once) and a fake DNS server that has the CNAME the
# README asks for: make run gets the services settings the README names.
FAKE_PIDS=
stop_fakes() {
	local p
	for p in $FAKE_PIDS; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	FAKE_PIDS=
}
mkdir -p "$WORK/svc"
printf 'k8s-token-%s\n' "$$" >"$WORK/svc/k8s.token"
head -c 32 /dev/urandom >"$WORK/svc/services.key"
chmod 600 "$WORK/svc/k8s.token" "$WORK/svc/services.key"
printf '{"cname": {"flows.shop.example.com": "shop-flows.apps.example.net"}}' >"$WORK/svc/dns.json"
cat >"$WORK/svc/charts.json" <<'EOF_CHARTS'
{"oci://8gears.container-registry.com/library/n8n": {"name": "n8n", "versions": {
  "1.1.0": {"app_version": "1.116.2",
   "pods": [{"name": "", "kind": "Deployment", "replicas": 1,
             "containers": [{"name": "n8n", "image": "docker.io/n8nio/n8n:1.116.2"}]}],
   "start": "ready"}}}}
EOF_CHARTS
cat >"$WORK/svc/helm" <<EOF_HELM
#!/bin/sh
PYTHONDONTWRITEBYTECODE=1 FAKE_HELM_CHARTS='$WORK/svc/charts.json' exec /usr/bin/python3 '$PWD/tests/fakes/fake_helm' "\$@"
EOF_HELM
chmod 755 "$WORK/svc/helm"
PYTHONDONTWRITEBYTECODE=1 python3 tests/fakes/fake_k8s.py --port-file "$WORK/svc/k8s.port" \
	--token-file "$WORK/svc/k8s.token" </dev/null >"$WORK/svc/k8s.log" 2>&1 &
FAKE_PIDS="$FAKE_PIDS $!"
PYTHONDONTWRITEBYTECODE=1 python3 tests/fakes/fake_dns.py --port-file "$WORK/svc/dns.port" \
	--records "$WORK/svc/dns.json" </dev/null >"$WORK/svc/dns.log" 2>&1 &
FAKE_PIDS="$FAKE_PIDS $!"
for _ in $(seq 100); do
	[ -s "$WORK/svc/k8s.port" ] && [ -s "$WORK/svc/dns.port" ] && break
	sleep 0.1
done
if [ -s "$WORK/svc/k8s.port" ] && [ -s "$WORK/svc/dns.port" ]; then
	ok "a fake Kubernetes API and DNS server for the cloud services walkthrough"
else
	bad "a fake Kubernetes API and DNS server for the cloud services walkthrough" \
		"$(tail -n 3 "$WORK/svc/k8s.log" "$WORK/svc/dns.log")"
fi

# alive and leftovers: tests/scripts/lib.sh.
finish() {
	stop_sshd
	stop_fakes
	# Whatever a failed run left: the stack's group, then anything naming WORK.
	group_end "$RUN_PID" "$WORK"
	if [ -n "${KEEP:-}" ]; then echo "  kept $WORK"; else rm -rf "$WORK"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

# ---- make run, in the background, in its own process group --------------------------
# With Ctrl-C's SIGINT at its default, as in a terminal: a test started in the background
# by a shell without job control inherits it ignored, and a shell cannot trap a signal
# ignored when it started (run.sh would then not see the Ctrl-C below, and exit 1).
set -m
PORT=$PORT VAR=$VAR DB=sqlite B=$B KAIDEN_SESSION_SSH_PORT=$SSHD_PORT \
	KAIDEN_SERVICES_DOMAIN=apps.example.net KAIDEN_SERVICES_KEY_FILE="$WORK/svc/services.key" \
	KAIDEN_K8S_API="http://127.0.0.1:$(cat "$WORK/svc/k8s.port" 2>/dev/null)" \
	KAIDEN_K8S_TOKEN_FILE="$WORK/svc/k8s.token" KAIDEN_K8S_INSECURE=1 \
	KAIDEN_SERVICES_HELM="$WORK/svc/helm" KAIDEN_SERVICES_HELM_HOME="$WORK/svc/helm-home" \
	KAIDEN_SERVICES_DNS_SERVER="127.0.0.1:$(cat "$WORK/svc/dns.port" 2>/dev/null)" \
	env --default-signal=INT sh scripts/run.sh >"$WORK/run.out" 2>&1 </dev/null &
RUN_PID=$!
set +m
if ! output_wait "make run prints its banner" "$WORK/run.out" 'Kaiden is running' "$RUN_PID" 300; then
	summary
	exit 1
fi

banner() { sed -n "s/^  $1 *//p" "$WORK/run.out" | head -n 1; }
check "the banner's Portal is on PORT" [ "$(banner Portal)" = "http://127.0.0.1:$PORT/" ]
check "the banner names the settings file" [ "$(banner Settings | cut -d' ' -f1)" = "$VAR/kaiden.yaml" ]
metrics=$(banner Metrics | cut -d' ' -f1)
if [[ $metrics == http://127.0.0.1:*/metrics ]] && curl -sf -o /dev/null --max-time 5 "$metrics"; then
	ok "the banner's Metrics URL serves /metrics"
else
	bad "the banner's Metrics URL serves /metrics" "'$metrics'"
fi
for f in kaiden.db kaiden.db-wal kaiden.db-shm kaiden.yaml admin.token admin.password jwt.secret; do
	mode=$(stat -c %a "$VAR/$f" 2>/dev/null) || mode=missing
	check "VAR/$f is mode 600" [ "$mode" = 600 ]
done

# ---- the README's blocks ---------------------------------------------------------------
awk '
	/^<!-- readme-test -->$/ { armed = 1; next }
	armed && /^```sh$/ { inblock = 1; armed = 0; next }
	inblock && /^```$/ { inblock = 0; next }
	inblock { print }
' README.md >"$WORK/blocks.sh"
nblocks=$(grep -c '^<!-- readme-test -->$' README.md)
check "the README has tested blocks" [ "$nblocks" -ge 4 ]
# make check SAN=1 builds into another directory: the same programs.
if [ "$B" != build ]; then
	sed -i "s|build/bin/|$B/bin/|g" "$WORK/blocks.sh"
fi
{
	echo 'set -eu -o pipefail'
	cat "$WORK/blocks.sh"
} >"$WORK/readme.sh"
if PORT=$PORT VAR=$VAR KAIDEN_RELAY_PORTS=$SSHD_PORT,8080 \
	timeout 180 bash "$WORK/readme.sh" >"$WORK/readme.out" 2>"$WORK/readme.err"; then
	ok "the README's blocks run without an error"
else
	bad "the README's blocks run without an error" "status $?: $(tail -n 5 "$WORK/readme.err")"
fi

mapfile -t want < <(sed -n 's/^#> //p' "$WORK/blocks.sh")
mapfile -t got <"$WORK/readme.out"
if [ "${#want[@]}" -ne "${#got[@]}" ]; then
	bad "the blocks print as many lines as the README shows" "${#got[@]} lines, README: ${#want[@]}"
fi
for i in "${!want[@]}"; do
	pat=${want[$i]}
	pat=${pat//\\/\\\\}
	pat=${pat//\*/\\*}
	pat=${pat//\?/\\?}
	pat=${pat//\[/\\[}
	pat=${pat//.../*}
	# shellcheck disable=SC2053 # the README line is a pattern on purpose
	if [[ ${got[$i]-} == $pat ]]; then
		ok "README line '#> ${want[$i]}'"
	else
		bad "README line '#> ${want[$i]}'" "the block printed '${got[$i]-(nothing)}'"
	fi
done
mode=$(stat -c %a "$VAR/device.secret" 2>/dev/null) || mode=missing
check "the device secret is in VAR, mode 600" [ "$mode" = 600 ]

# ---- Ctrl-C ----------------------------------------------------------------------------
kill -INT -- "-$RUN_PID"
for _ in $(seq 150); do alive "$RUN_PID" || break; sleep 0.2; done
if alive "$RUN_PID"; then
	bad "make run stops on Ctrl-C" "still running after 30 s"
else
	wait "$RUN_PID"
	rc=$?
	check "make run exits 130 on Ctrl-C" [ "$rc" -eq 130 ]
fi
# The private sshd, ssh-agent and fakes are the test's own, not the README's.
stop_sshd
stop_fakes
left=$(leftovers "$RUN_PID" "$WORK")
if [ -z "$left" ]; then
	ok "nothing make run or the blocks started is left running"
else
	bad "nothing make run or the blocks started is left running" "$left"
fi
check "the data stays in VAR" [ -s "$VAR/kaiden.db" ]
# ./var is a make run of the developer's own, which may be running beside this test.
new=$(find . -mindepth 1 \( -path ./.git -o -path './build*' -o -path ./var \) -prune -o \
	-newer "$WORK/stamp" -print)
if [ -z "$new" ]; then
	ok "no file appeared or changed in the checkout"
else
	bad "no file appeared or changed in the checkout" "$(echo "$new" | tr '\n' ' ')"
fi
# The portal page says what var/admin.token is: a service token, not an administrator's.
page=$(tr -s ' \n' '  ' <www/help.html)
if [[ $page == *"first administrator's token"* || $page != *"writes a service token to <code>var/admin.token</code>"* ]]; then
	bad "www/help.html calls var/admin.token a service token" "it calls it the first administrator's token"
else
	ok "www/help.html calls var/admin.token a service token"
fi
summary
