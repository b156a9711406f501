#!/bin/sh
# Makes Mosquitto's password file for siaprapat (see docs/install.md): a user
# for the controller and one per room, named SITE/ROOM, so that the ACL's %u
# patterns give each room its own topics. The secrets come on standard input,
# one USER:SECRET line each, never on a command line (ps would show them):
#
#   printf '%s\n' "siaprapat-controller:$CONTROLLER_SECRET" \
#       "kalbar/pontianak-r1:$PONTIANAK_R1_SECRET" | sh make-passwd.sh /etc/mosquitto/passwd
#
# The file is made anew, its secrets hashed by mosquitto_passwd -U, readable
# only by the user Mosquitto drops to after start (mosquitto on Debian; set
# MOSQUITTO_USER for another), which is when it reads the file. Mosquitto
# reads it again on SIGHUP.
set -eu
file=${1:?usage: make-passwd.sh PASSWORD_FILE < USER:SECRET lines}
umask 077
tmp=$(mktemp "$file.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat >"$tmp"
mosquitto_passwd -U "$tmp"
chown "${MOSQUITTO_USER:-mosquitto}" "$tmp"
mv "$tmp" "$file"
trap - EXIT
