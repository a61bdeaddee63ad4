#!/bin/sh
# The wrappers' own cost: the same /bin/sh start and one exec, of /bin/true.
# (this row minus the bare /bin/true row = what wrap-runc.sh / wrap-crun.sh add)
#   bench/wrap-noop.sh BUNDLE
exec /bin/true
