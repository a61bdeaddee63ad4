#!/bin/sh
# Wrapper for hyperfine -N: an OCI runtime's command line on a bundle, with a unique
# container id per run (the shell's pid, unique among live containers).
#   bench/wrap-oci.sh run  RUNTIME ROOT BUNDLE   # RUNTIME --root ROOT run -b BUNDLE ID
#   bench/wrap-oci.sh life RUNTIME ROOT BUNDLE   # create, start, poll `state` until the
#                                                # container (/bin/true) has stopped, delete
# `life` polls with `state` because a shell cannot wait for a process that is not its
# child; bench/pairs.py does the same lifecycle with waitpid as a subreaper (as containerd's
# shim and conmon do), which is the fairer number.
mode=$1 rt=$2 root=$3 bundle=$4 id="crabbench-$$"
case $mode in
  run) exec "$rt" --root "$root" run -b "$bundle" "$id" ;;
  life)
    "$rt" --root "$root" create -b "$bundle" "$id" || exit 1
    "$rt" --root "$root" start "$id" || { "$rt" --root "$root" delete --force "$id"; exit 1; }
    n=0
    while :; do
      case $("$rt" --root "$root" state "$id") in *'"stopped"'*) break ;; esac
      n=$((n + 1))
      if [ $n -ge 5000 ]; then "$rt" --root "$root" delete --force "$id"; exit 1; fi
    done
    exec "$rt" --root "$root" delete "$id"
    ;;
  *) echo "wrap-oci.sh: unknown mode $mode" >&2; exit 2 ;;
esac
