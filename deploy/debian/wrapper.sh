#!/bin/sh
# @NAME@ (Debian package srv6-agent): the CLI installed in /opt/srv6-agent, run by the system's
# Node.js. The tree is found relative to this file, so an unpacked package (dpkg -x) runs too.
here=$(dirname "$(readlink -f "$0")")
exec /usr/bin/node "$here/../../opt/srv6-agent/dist/src/cli/@NAME@.js" "$@"
