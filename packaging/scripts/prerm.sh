#!/bin/sh
# prerm of siaprapat-agent and siaprapat-controller.
set -e
pkg="${DPKG_MAINTSCRIPT_PACKAGE:?run by dpkg}"   # siaprapat-agent or siaprapat-controller
root="${DPKG_ROOT:-}"
case "$1" in
remove|deconfigure)
	if [ -z "$root" ] && [ -d /run/systemd/system ]; then
		systemctl disable --now "$pkg.service" || true
	fi
	;;
esac
exit 0
