#!/bin/bash
# Runs the system test named by a .privsep file (its first line) with every tr7ntpd it
# starts privilege-separated (lib.sh TR7_PRIVSEP=1): helper + sandboxed worker.
set -u
test_name=$(head -n1 "$1")
export TR7_PRIVSEP=1
exec "${BASH:-bash}" "$(dirname "$1")/$test_name"
