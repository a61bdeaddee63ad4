#!/bin/sh
# Wrapper for hyperfine -N: crun needs a unique container id per run (see wrap-runc.sh).
#   bench/wrap-crun.sh BUNDLE
exec crun run --bundle "$1" "crabbench-$$"
