#!/usr/bin/env bash
# The Debian packages the tests need (make test runs this first; so does
# .ci/run, through make test). As root, what is missing is installed; as
# another user, the one command that installs it is printed and the tests
# run anyway (those needing a missing program skip and say so, outside CI;
# in CI they fail).
set -euo pipefail

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v promtool  >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v pulseaudio >/dev/null 2>&1 || need+=(pulseaudio)
command -v paplay    >/dev/null 2>&1 || need+=(pulseaudio-utils)
command -v iperf3    >/dev/null 2>&1 || need+=(iperf3)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v tc        >/dev/null 2>&1 || [ -x /usr/sbin/tc ] || [ -x /sbin/tc ] || need+=(iproute2)
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-x86-64)
command -v x86_64-w64-mingw32-g++ >/dev/null 2>&1 || need+=(g++-mingw-w64-x86-64)
command -v wine >/dev/null 2>&1 || need+=(wine wine64)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
command -v make >/dev/null 2>&1 || need+=(make)
# The board's browser test drives Debian's Chromium headless.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The guest test (make test-guest): QEMU, and what goes into its initramfs.
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v v4l2-ctl  >/dev/null 2>&1 || need+=(v4l-utils)
command -v aplay     >/dev/null 2>&1 || need+=(alsa-utils)
command -v ffmpeg    >/dev/null 2>&1 || need+=(ffmpeg)
[ -e /usr/share/hwdata/usb.ids ] || [ -e /usr/share/misc/usb.ids ] || [ -e /var/lib/usbutils/usb.ids ] || need+=(usb.ids)
# The calendar corpus's oracle (controller/sessions/testdata/corpus/oracle.py).
/usr/bin/python3 -c 'import icalendar, recurring_ical_events' >/dev/null 2>&1 || need+=(python3-icalendar python3-recurring-ical-events)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "make test: these Debian packages are missing; install them with:"
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}"
  exit 0
fi
{
  echo "make test: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends keeps it small; the packages' services are not
  # started here (no init system), the tests start their own processes.
  apt-get install -y -qq --no-install-recommends "${need[@]}"
}
