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

case "$1" in
configure)
	add_user
	# The configuration holds secrets: root only, also when an older copy was not.
	chmod 0600 "$root/etc/siaprapat/${pkg#siaprapat-}.yaml"
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
