#!/bin/sh
# Install the Debian packages that crstep's build and tests need; a no-op when
# they are all present.
pkgs="gcc make pkg-config binutils protobuf-c-compiler libprotobuf-c-dev libedit-dev
libncurses-dev libcap-dev tmux python3 man-db groff-base"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "setup: installing$missing"
if [ "$(id -u)" != 0 ]; then
	echo "setup: need root to install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq $missing >/dev/null
