#!/usr/bin/env bash
# Writes the fixture sysfs trees (testdata/<room>/sys/bus/usb/devices/...) the
# way Linux lays them out: one directory per device with its attributes, and
# one per interface (DEVICE:CONFIG.INTERFACE) with bInterfaceClass. Run from
# this directory; the trees are committed, this script documents them.
set -euo pipefail
cd "$(dirname "$0")"

dev() { # room path vid pid bcd manufacturer product serial speed class interface-classes...
  local room=$1 path=$2 vid=$3 pid=$4 bcd=$5 man=$6 prod=$7 ser=$8 speed=$9 class=${10}
  shift 10
  local d="$room/sys/bus/usb/devices/$path"
  mkdir -p "$d"
  echo "$vid" > "$d/idVendor"; echo "$pid" > "$d/idProduct"; echo "$bcd" > "$d/bcdDevice"
  [ -n "$man" ] && echo "$man" > "$d/manufacturer"
  [ -n "$prod" ] && echo "$prod" > "$d/product"
  [ -n "$ser" ] && echo "$ser" > "$d/serial"
  echo "$speed" > "$d/speed"; echo "$class" > "$d/bDeviceClass"
  local i=0
  for c in "$@"; do
    mkdir -p "$d/$path:1.$i"; echo "$c" > "$d/$path:1.$i/bInterfaceClass"; i=$((i+1))
  done
}
roothub() { dev "$1" usb1 1d6b 0002 0606 "Linux 6.1.0 xhci-hcd" "xHCI Host Controller" "0000:00:14.0" 480 09 09; }

rm -rf video-bar-room webcam-speakerphone-room unknown-device-room camera-unplugged-room known-bad-firmware-room

# A room with a USB video bar (camera, microphones and speaker in one) and a keyboard.
roothub video-bar-room
dev video-bar-room 1-1 2574 0960 0100 "AVer" "VB342" "5310400100123" 5000 ef 0e 0e 01 01 01 03
dev video-bar-room 1-2 046d c31c 6400 "Logitech" "USB Keyboard" "" 1.5 00 03 03

# A room with a webcam and a USB speakerphone.
roothub webcam-speakerphone-room
dev webcam-speakerphone-room 1-1 046d 082d 0011 "" "HD Pro Webcam C920" "A1B2C3D4" 480 ef 0e 0e 01 01
dev webcam-speakerphone-room 1-2 0b0e 0422 0118 "Jabra" "Jabra SPEAK 510 USB" "50C2ED123456" 12 00 01 01 01 03

# The same room where the speakerphone was swapped for a no-name one and a
# second, unknown camera appeared; plus a vendor usb.ids knows but not the product.
roothub unknown-device-room
dev unknown-device-room 1-1 046d 082d 0011 "" "HD Pro Webcam C920" "A1B2C3D4" 480 ef 0e 0e 01 01
dev unknown-device-room 1-2 3142 a001 0100 "USB Audio" "Conference Speaker" "" 12 00 01 01 01 03
dev unknown-device-room 1-3 1d6c 0103 0409 "Generic" "USB Camera" "" 480 ef 0e 0e
dev unknown-device-room 1-4 0c76 161f 0100 "" "" "" 12 00 01 01 03

# The webcam-and-speakerphone room with its camera unplugged.
roothub camera-unplugged-room
dev camera-unplugged-room 1-2 0b0e 0422 0118 "Jabra" "Jabra SPEAK 510 USB" "50C2ED123456" 12 00 01 01 01 03

# A room whose webcam runs a firmware version the test profiles list as known
# bad (testdata/profiles/), behind a hub.
roothub known-bad-firmware-room
dev known-bad-firmware-room 1-1 05e3 0610 9304 "GenesysLogic" "USB2.1 Hub" "" 480 09 09
dev known-bad-firmware-room 1-1.1 046d 082d 0011 "" "HD Pro Webcam C920" "A1B2C3D4" 480 ef 0e 0e 01 01
dev known-bad-firmware-room 1-1.2 0b0e 0422 0105 "Jabra" "Jabra SPEAK 510 USB" "50C2ED654321" 12 00 01 01 01 03
