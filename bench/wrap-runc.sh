#!/bin/sh
# Wrapper for hyperfine -N: runc needs a unique container id per run. The shell's own pid
# ($$) is unique among live containers; `runc run` deletes the container when it exits.
#   bench/wrap-runc.sh BUNDLE
exec runc run --bundle "$1" "crabbench-$$"
