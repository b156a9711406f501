#!/bin/sh
# debversion.sh VERSION: the Debian package version for a `git describe
# --tags --always --dirty` version, ordered as the releases are:
#   v1.2.3                   1.2.3
#   v1.2.3-rc.1              1.2.3~rc.1          (before 1.2.3)
#   v1.2.3-4-gabc1234        1.2.3+4.gabc1234    (after 1.2.3)
#   v1.2.3-4-gabc1234-dirty  1.2.3+4.gabc1234.dirty
#   abc1234[-dirty] (no tag) 0~gitYYYYMMDDHHMMSS.abc1234[.dirty]  (the commit's time; before any release)
set -eu
v="${1#v}"
dirty=""
case "$v" in *-dirty) v="${v%-dirty}"; dirty=dirty ;; esac
case "$v" in
[0-9]*)
	if printf '%s\n' "$v" | grep -Eq -- '-[0-9]+-g[0-9a-f]+$'; then
		v=$(printf '%s\n' "$v" | sed -E 's/-([0-9]+)-(g[0-9a-f]+)$/+\1.\2/')
	fi
	# what is left after the first '-' is a pre-release
	v=$(printf '%s\n' "$v" | sed -E 's/-/~/; s/-/./g')
	;;
*)
	when=$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S 2>/dev/null || echo 0)
	v="0~git$when.$(printf '%s' "$v" | tr -c 'A-Za-z0-9.+~\n' '.')"
	;;
esac
if [ -n "$dirty" ]; then
	case "$v" in *+*|0~git*) v="$v.dirty" ;; *) v="$v+dirty" ;; esac
fi
printf '%s\n' "$v"
