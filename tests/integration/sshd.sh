# shellcheck shell=sh
# sshd.sh: the customer machine's services for the relay's tests and benchmark, real and
# private: Debian's OpenSSH server on a free loopback port with a throwaway host key and
# client key, a real `ssh` client that reaches it directly or through kaiden-connect as
# its ProxyCommand, and a small HTTP server as the web target. Sourced (POSIX sh) by
# tests/integration/case-95-relay.sh, tests/bench/relay.sh and tests/scripts/test_readme.sh,
# after scripts/stack.sh (for stack_free_port). Works as root and as an ordinary user
# (whose account is not locked: sshd without PAM refuses a `!` password field).
#
#   sshd_start DIR         sshd -D -e -f DIR/sshd_config on 127.0.0.1:$SSHD_PORT, logging
#                          to DIR/sshd.log; keys made in DIR. Sets SSHD_PORT, SSHD_PID,
#                          SSH_KEY (the client's private key), SSH_USER (who we are).
#   sshd_stop              stops it (TERM, then KILL); safe to call twice
#   ssh_direct ARGS...     ssh straight to the private sshd (the baseline)
#   ssh_relay URL SESSION ARGS...
#                          ssh through `kaiden-connect --server URL --insecure --session
#                          SESSION` as ProxyCommand; the token comes from KAIDEN_TOKEN in
#                          the environment, never argv. KC_BIN names kaiden-connect
#                          (default $B/bin/kaiden-connect).
#   web_start DIR          python3 -m http.server on 127.0.0.1:$WEB_PORT serving DIR/www
#                          (DIR/www/index.html holds $WEB_MARK); sets WEB_PORT, WEB_PID
#   web_stop
#
# The ssh options: no user or system config (-F /dev/null), a private known_hosts that
# learns the throwaway host key on first use, batch mode (never a prompt), only the given
# key (no agent, no ~/.ssh keys), and a short connect timeout. sshd runs with
# StrictModes off (its files are in a mktemp directory under /tmp, which sticky-bit
# /tmp would fail), no PAM, public keys only, and MaxStartups/MaxSessions high enough
# for the benchmark's 100 concurrent connections.

SSHD_PID=
SSHD_PORT=
WEB_PID=
WEB_PORT=

# sshd__bin: where sshd is (/usr/sbin is not on an ordinary user's PATH on Debian).
sshd__bin() {
	if [ -x /usr/sbin/sshd ]; then
		echo /usr/sbin/sshd
	elif command -v sshd >/dev/null 2>&1; then
		command -v sshd
	else
		echo "sshd.sh: sshd is not installed (apt-get install openssh-server)" >&2
		return 1
	fi
}

sshd_start() {
	SSHD_DIR=$1
	mkdir -p "$SSHD_DIR" || return 1
	SSHD_DIR=$(cd "$SSHD_DIR" && pwd -P) || return 1
	_bin=$(sshd__bin) || return 1
	command -v ssh >/dev/null 2>&1 ||
		{ echo "sshd.sh: ssh is not installed (apt-get install openssh-client)" >&2; return 1; }
	SSH_USER=$(id -un)
	SSH_KEY=$SSHD_DIR/client_key
	SSH_KNOWN=$SSHD_DIR/known_hosts
	rm -f "$SSHD_DIR/host_key" "$SSHD_DIR/host_key.pub" "$SSH_KEY" "$SSH_KEY.pub"
	if ! ssh-keygen -q -t ed25519 -N '' -C kaiden-test-host -f "$SSHD_DIR/host_key" >/dev/null ||
		! ssh-keygen -q -t ed25519 -N '' -C kaiden-test-client -f "$SSH_KEY" >/dev/null; then
		echo "sshd.sh: ssh-keygen failed" >&2
		return 1
	fi
	cp "$SSH_KEY.pub" "$SSHD_DIR/authorized_keys" && chmod 600 "$SSHD_DIR/authorized_keys"
	: >"$SSH_KNOWN"
	# As root sshd separates privileges into a chroot it expects at /run/sshd (the
	# Debian service makes it at boot; a container may lack it).
	if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd && chmod 0755 /run/sshd
	fi
	_tries=0
	while :; do
		SSHD_PORT=$(stack_free_port) || return 1
		cat >"$SSHD_DIR/sshd_config" <<EOF
# Written by tests/integration/sshd.sh: a private sshd for the relay's tests.
ListenAddress 127.0.0.1:$SSHD_PORT
HostKey $SSHD_DIR/host_key
PidFile none
AuthorizedKeysFile $SSHD_DIR/authorized_keys
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $SSH_USER
UsePAM no
StrictModes no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTunnel no
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 500
MaxSessions 50
LoginGraceTime 30
LogLevel INFO
EOF
		"$_bin" -t -f "$SSHD_DIR/sshd_config" >"$SSHD_DIR/sshd-t.log" 2>&1 || {
			echo "sshd.sh: sshd rejects its config: $(cat "$SSHD_DIR/sshd-t.log")" >&2
			return 1
		}
		"$_bin" -D -e -f "$SSHD_DIR/sshd_config" </dev/null >>"$SSHD_DIR/sshd.log" 2>&1 &
		SSHD_PID=$!
		_i=0
		while [ "$_i" -lt 100 ]; do
			kill -0 "$SSHD_PID" 2>/dev/null || break
			# Listening, and answering as sshd (its banner), not someone else on the port.
			if stack_port_busy "$SSHD_PORT" &&
				grep -q "Server listening on 127.0.0.1 port $SSHD_PORT" "$SSHD_DIR/sshd.log"; then
				return 0
			fi
			sleep 0.05
			_i=$((_i + 1))
		done
		sshd_stop
		_tries=$((_tries + 1))
		if [ "$_tries" -ge 5 ] || ! grep -q 'Address already in use' "$SSHD_DIR/sshd.log"; then
			echo "sshd.sh: sshd did not start: $(tail -n 5 "$SSHD_DIR/sshd.log")" >&2
			return 1
		fi
	done
}

sshd_stop() {
	[ -n "$SSHD_PID" ] || return 0
	kill -TERM "$SSHD_PID" 2>/dev/null || :
	_i=0
	while kill -0 "$SSHD_PID" 2>/dev/null && [ "$_i" -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -KILL "$SSHD_PID" 2>/dev/null || :
	wait "$SSHD_PID" 2>/dev/null || :
	SSHD_PID=
}

# ssh_direct ARGS...: straight to the private sshd.
ssh_direct() {
	ssh -F /dev/null -o UserKnownHostsFile="$SSH_KNOWN" -o StrictHostKeyChecking=accept-new \
		-o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$SSH_KEY" \
		-o ConnectTimeout=20 -o LogLevel=ERROR -p "$SSHD_PORT" "$SSH_USER@127.0.0.1" "$@"
}

# ssh_relay URL SESSION ARGS...: the host name is a label (kaiden-connect reaches the
# session's machine whatever it is); the known_hosts entry is the label's, so direct
# and relayed connections to the same sshd do not clash.
ssh_relay() {
	_url=$1
	_sess=$2
	shift 2
	_kc=${KC_BIN:-}
	if [ -z "$_kc" ]; then
		case ${B:-build} in /*) _kc=$B/bin/kaiden-connect ;; *) _kc=$(pwd -P)/${B:-build}/bin/kaiden-connect ;; esac
	fi
	ssh -F /dev/null -o UserKnownHostsFile="$SSH_KNOWN" -o StrictHostKeyChecking=accept-new \
		-o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$SSH_KEY" \
		-o ConnectTimeout=20 -o LogLevel=ERROR -o HostKeyAlias=kaiden-relay-target \
		-o ProxyCommand="$_kc --server $_url --insecure --session $_sess" \
		"$SSH_USER@relay.invalid" "$@"
}

# web_start DIR: a small HTTP server; GET / answers DIR/www/index.html.
web_start() {
	mkdir -p "$1/www" || return 1
	WEB_MARK="kaiden relay web target $$"
	printf '<!doctype html><title>%s</title><p>%s</p>\n' "$WEB_MARK" "$WEB_MARK" >"$1/www/index.html"
	_py=python3
	[ ! -x /usr/bin/python3 ] || _py=/usr/bin/python3
	_tries=0
	while :; do
		WEB_PORT=$(stack_free_port) || return 1
		"$_py" -m http.server --bind 127.0.0.1 --directory "$1/www" "$WEB_PORT" \
			</dev/null >>"$1/web.log" 2>&1 &
		WEB_PID=$!
		_i=0
		while [ "$_i" -lt 100 ] && kill -0 "$WEB_PID" 2>/dev/null; do
			if curl -sf --max-time 2 "http://127.0.0.1:$WEB_PORT/" 2>/dev/null | grep -qF "$WEB_MARK"; then
				return 0
			fi
			sleep 0.05
			_i=$((_i + 1))
		done
		web_stop
		_tries=$((_tries + 1))
		[ "$_tries" -lt 5 ] || { echo "sshd.sh: the web target did not start: $(tail -n 3 "$1/web.log")" >&2; return 1; }
	done
}

web_stop() {
	[ -n "$WEB_PID" ] || return 0
	kill -TERM "$WEB_PID" 2>/dev/null || :
	wait "$WEB_PID" 2>/dev/null || :
	WEB_PID=
}
