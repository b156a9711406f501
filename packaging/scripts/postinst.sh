#!/bin/sh
# postinst of siaprapat-agent and siaprapat-controller.
set -e
pkg="${DPKG_MAINTSCRIPT_PACKAGE:?run by dpkg}"   # siaprapat-agent or siaprapat-controller
# DPKG_ROOT is set when dpkg installs into another root (dpkg --root with
# --force-script-chrootless): touch only that tree, and no running system.
root="${DPKG_ROOT:-}"

add_user() {
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers ${root:+--root="$root"} "$pkg.conf"
		return
	fi
	# No systemd-sysusers: the same with useradd (package passwd).
	if ! grep -q "^$pkg:" "$root/etc/passwd" 2>/dev/null; then
		useradd ${root:+--prefix "$root"} --system --user-group --no-create-home \
			--home-dir "/var/lib/siaprapat/${pkg#siaprapat-}" --shell /usr/sbin/nologin --comment "siaprapat ${pkg#siaprapat-}" "$pkg"
	fi
	if [ "$pkg" = siaprapat-agent ]; then
		usermod ${root:+--prefix "$root"} --append --groups video,audio "$pkg"
	fi
}

# make_tokens gives the controller an admin and a read API token, once: a
# controller that listens beyond loopback is then never open to writes by
# anyone who reaches it. They go into its configuration (mode 0600) and are
# shown this once.
make_tokens() {
	cfg="$root/etc/siaprapat/controller.yaml"
	if grep -Eq '^[[:space:]]*api-token:' "$cfg"; then
		return
	fi
	admin=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	read=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	cat >>"$cfg" <<EOF

# Made at install: the admin token (the API's writing requests, enrolling
# agents from other machines) and the read token (reading the API; /metrics
# stays open unless metrics-auth is set). Send one as
# 'Authorization: Bearer TOKEN'. On this machine, as root,
# 'siaprapat-controller check' and 'agent' read the admin token from here.
api-token: $admin
api-read-token: $read
EOF
	echo "siaprapat-controller: made API tokens in /etc/siaprapat/controller.yaml (shown this once):"
	echo "  admin token: $admin"
	echo "  read token:  $read"
}

case "$1" in
configure)
	add_user
	# The configuration holds secrets: root only, also when an older copy was not.
	chmod 0600 "$root/etc/siaprapat/${pkg#siaprapat-}.yaml"
	if [ "$pkg" = siaprapat-controller ]; then
		make_tokens
	fi

	if [ -z "$root" ] && [ -d /run/systemd/system ]; then
		systemctl daemon-reload
		if [ -n "$2" ]; then
			# An upgrade: restart what ran.
			systemctl try-restart "$pkg.service"
		elif [ "$pkg" = siaprapat-controller ]; then
			systemctl enable --now "$pkg.service"
		else
			echo "siaprapat-agent: enrol this room, then start the agent:"
			echo "  siaprapat-agent enroll --env ROOM.env   (the file 'siaprapat-controller agent add --out' wrote)"
			echo "  systemctl enable siaprapat-agent && systemctl restart siaprapat-agent"
		fi
	fi
	;;
esac
exit 0
