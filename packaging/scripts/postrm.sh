#!/bin/sh
# postrm of siaprapat-agent and siaprapat-controller. Remove keeps the
# configuration and the data; purge deletes both (dpkg deletes the conffile).
# The system user stays, as Debian does, so that its uid is never reused for
# files it may still own.
set -e
pkg="${DPKG_MAINTSCRIPT_PACKAGE:?run by dpkg}"   # siaprapat-agent or siaprapat-controller
root="${DPKG_ROOT:-}"
case "$1" in
purge)
	rm -rf "$root/var/lib/siaprapat/${pkg#siaprapat-}" "$root/var/lib/private/siaprapat/${pkg#siaprapat-}"
	rmdir "$root/var/lib/siaprapat" "$root/var/lib/private/siaprapat" 2>/dev/null || true
	rm -f "$root/etc/siaprapat/.${pkg#siaprapat-}.yaml."*   # an interrupted enrolment's temporary file
	rmdir "$root/etc/siaprapat" 2>/dev/null || true
	;;
esac
if [ -z "$root" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0
