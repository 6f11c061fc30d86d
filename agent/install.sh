#!/bin/sh
# install.sh: installs kaiden-agent as a systemd service. Run as root; safe to run again
# (it updates the binary, the settings and the unit, and keeps the secret unless given a
# new one).
#
#   sudo sh install.sh --server wss://kaiden.example.com/api/v1/ws/agent \
#        --device-id 01a206ac-b263-75e9-ba89-f90625dcd8b3 --secret-file /path/to/secret
#   # or pipe the secret in:  printf '%s\n' "$SECRET" | sudo sh install.sh ... --secret-stdin
#   # or be asked for it (not echoed) when neither is given and no secret is installed yet.
#
# Options: --server URL, --device-id ID (required); --secret-file F | --secret-stdin;
# --ca-file F (a CA bundle for the server's certificate; copied to /etc/kaiden/ca.pem);
# --cloudflared PATH (default: cloudflared on PATH); --binary F (default: the
# kaiden-agent next to this script, else build/bin/kaiden-agent); --no-start.
#
# What it writes:
#   /usr/local/bin/kaiden-agent                   the binary (0755)
#   /etc/kaiden/agent.conf                        settings (YAML, 0640 root:kaiden-agent)
#   /etc/kaiden/agent.secret                      the device secret (0600 kaiden-agent)
#   /etc/systemd/system/kaiden-agent.service      the unit (Restart=always, hardened)
# and a system user kaiden-agent that the service runs as.
#
# The secret is never put on a command line and never printed.
set -eu

# DESTDIR (tests, packaging) puts every file under another root; systemd is then left alone.
DESTDIR=${DESTDIR:-}
PREFIX_BIN=$DESTDIR/usr/local/bin
ETC=$DESTDIR/etc/kaiden
UNIT_DIR=$DESTDIR/etc/systemd/system
USER_NAME=kaiden-agent

die() {
	echo "install.sh: $*" >&2
	exit 1
}

here=$(cd "$(dirname "$0")" && pwd)
server='' device_id='' secret_file='' secret_stdin='' ca_file='' cloudflared='' binary='' start=1
while [ $# -gt 0 ]; do
	case $1 in
	--server) server=${2-}; shift 2 ;;
	--server=*) server=${1#*=}; shift ;;
	--device-id) device_id=${2-}; shift 2 ;;
	--device-id=*) device_id=${1#*=}; shift ;;
	--secret-file) secret_file=${2-}; shift 2 ;;
	--secret-file=*) secret_file=${1#*=}; shift ;;
	--secret-stdin) secret_stdin=1; shift ;;
	--ca-file) ca_file=${2-}; shift 2 ;;
	--ca-file=*) ca_file=${1#*=}; shift ;;
	--cloudflared) cloudflared=${2-}; shift 2 ;;
	--cloudflared=*) cloudflared=${1#*=}; shift ;;
	--binary) binary=${2-}; shift 2 ;;
	--binary=*) binary=${1#*=}; shift ;;
	--no-start) start=; shift ;;
	--secret | --secret=*) die "--secret is not accepted (the command line is visible to every user); use --secret-file or --secret-stdin" ;;
	-h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option: $1 (see --help)" ;;
	esac
done

[ "$(id -u)" -eq 0 ] || die "run as root (sudo sh $0 ...)"
[ -n "$server" ] || die "--server is required (wss://HOST/api/v1/ws/agent)"
case $server in
wss://*) ;;
*) die "--server must be a wss:// URL" ;;
esac
[ -n "$device_id" ] || die "--device-id is required"
case $device_id in
*[!0-9A-Za-z-]*) die "--device-id: not a device id: $device_id" ;;
esac
case $server$cloudflared in
*[\"\\\$\`]* | *"
"*) die "--server/--cloudflared: quotes, backslashes, \$ and newlines are not allowed" ;;
esac
if [ -n "$secret_file" ] && [ -n "$secret_stdin" ]; then
	die "give --secret-file or --secret-stdin, not both"
fi
[ -z "$secret_file" ] || [ -r "$secret_file" ] || die "--secret-file: cannot read $secret_file"
[ -z "$ca_file" ] || [ -r "$ca_file" ] || die "--ca-file: cannot read $ca_file"

if [ -z "$binary" ]; then
	for b in "$here/kaiden-agent" "$here/../build/bin/kaiden-agent"; do
		if [ -x "$b" ]; then
			binary=$b
			break
		fi
	done
fi
if [ -z "$binary" ] || [ ! -x "$binary" ]; then
	die "no kaiden-agent binary found; give --binary PATH"
fi
unit_src=$here/kaiden-agent.service
[ -r "$unit_src" ] || die "missing $unit_src"

if [ -z "$cloudflared" ]; then
	cloudflared=$(command -v cloudflared 2>/dev/null || true)
	[ -n "$cloudflared" ] || echo "install.sh: warning: cloudflared is not on PATH; install it" \
		"(https://pkg.cloudflare.com) before the first session" >&2
	[ -n "$cloudflared" ] || cloudflared=/usr/bin/cloudflared
fi

# The user the service runs as.
if ! id "$USER_NAME" >/dev/null 2>&1; then
	nologin=$(command -v nologin 2>/dev/null || echo /usr/sbin/nologin)
	useradd --system --no-create-home --home-dir /nonexistent --shell "$nologin" \
		--user-group "$USER_NAME" || die "cannot create user $USER_NAME"
fi

umask 022
mkdir -p "$PREFIX_BIN" "$UNIT_DIR"
umask 077
mkdir -p "$ETC"
chown root:"$USER_NAME" "$ETC"
chmod 0750 "$ETC"

# The secret: a new one replaces the old; none keeps the old; a first install asks.
tmp_secret=$ETC/.agent.secret.$$
trap 'rm -f "$tmp_secret" "$ETC/.agent.conf.$$"' EXIT
if [ -n "$secret_file" ]; then
	head -n 1 "$secret_file" >"$tmp_secret"
elif [ -n "$secret_stdin" ]; then
	head -n 1 >"$tmp_secret"
elif [ ! -s "$ETC/agent.secret" ]; then
	[ -t 0 ] || die "no secret: give --secret-file F or --secret-stdin"
	printf 'Device secret (not shown): ' >&2
	trap 'stty echo 2>/dev/null; rm -f "$tmp_secret" "$ETC/.agent.conf.$$"' EXIT
	stty -echo
	IFS= read -r s || true
	stty echo
	printf '\n' >&2
	printf '%s\n' "$s" >"$tmp_secret"
	s=
fi
if [ -f "$tmp_secret" ]; then
	[ -n "$(tr -d ' \t\r\n' <"$tmp_secret")" ] || die "the secret is empty"
	chown "$USER_NAME":"$USER_NAME" "$tmp_secret"
	chmod 0600 "$tmp_secret"
	mv -f "$tmp_secret" "$ETC/agent.secret"
fi
chown "$USER_NAME":"$USER_NAME" "$ETC/agent.secret"
chmod 0600 "$ETC/agent.secret"

ca_line=
if [ -n "$ca_file" ]; then
	install -m 0644 -o root -g root "$ca_file" "$ETC/ca.pem"
	ca_line="  ca_file: ${ETC#"$DESTDIR"}/ca.pem"
fi

cat >"$ETC/.agent.conf.$$" <<CONF
# kaiden-agent settings, written by install.sh (run it again to change them).
agent:
  server: "$server"
  device_id: "$device_id"
  secret_file: ${ETC#"$DESTDIR"}/agent.secret
  cloudflared: "$cloudflared"
$ca_line
CONF
chown root:"$USER_NAME" "$ETC/.agent.conf.$$"
chmod 0640 "$ETC/.agent.conf.$$"
mv -f "$ETC/.agent.conf.$$" "$ETC/agent.conf"

umask 022
install -m 0755 -o root -g root "$binary" "$PREFIX_BIN/kaiden-agent.new"
mv -f "$PREFIX_BIN/kaiden-agent.new" "$PREFIX_BIN/kaiden-agent"
install -m 0644 -o root -g root "$unit_src" "$UNIT_DIR/kaiden-agent.service"

if [ -z "$DESTDIR" ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	if [ -n "$start" ]; then
		systemctl enable kaiden-agent.service >/dev/null 2>&1
		# restart: picks up a new binary, settings or secret on a second run
		systemctl restart kaiden-agent.service
		echo "install.sh: kaiden-agent installed and running (journalctl -u kaiden-agent -f)"
	else
		echo "install.sh: kaiden-agent installed; start it with: systemctl enable --now kaiden-agent"
	fi
else
	echo "install.sh: kaiden-agent installed; systemd is not running here, so start it yourself:"
	echo "  $PREFIX_BIN/kaiden-agent --config $ETC/agent.conf"
fi
