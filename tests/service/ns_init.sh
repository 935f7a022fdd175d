#!/bin/bash
# PID 1 of the private PID + mount namespace of tests/service/usermanager.py.
#
# Makes this namespace look booted with systemd, without touching the host: tmpfs on
# /run/systemd (with /run/systemd/system, what sd_booted() checks) and /run/log,
# a throw-away journal directory, /dev/null over /dev/console (a user manager that
# cannot start logs there, silently), and - when the test user cannot reach the
# Python interpreter (pyenv under a 0700 /root) - a 0755 tmpfs over that directory
# with only the interpreter's folder bound back. Then a standalone systemd-journald,
# and PID 1 reaps orphans until the namespace is killed. The user manager itself is
# started (and restarted) by the harness through nsenter.
# Environment (from the harness): WORK, CG_J, PY, HIDE_DIR, HIDE_CHILD.
set -eu
mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mkdir -p /run/systemd/system /run/systemd/journal /run/systemd/journald.conf.d
mount -t tmpfs -o mode=0755 tmpfs /run/log
if [ -d /var/log/journal ]; then mount --bind "$WORK/journal" /var/log/journal
else mount -t tmpfs tmpfs /var/log && mkdir -p /var/log/journal; fi
mount --bind /dev/null /dev/console
if [ -n "${HIDE_DIR:-}" ]; then
  mkdir -p "$WORK/hidden"
  mount --bind "$HIDE_DIR" "$WORK/hidden"
  mount -t tmpfs -o mode=0755 tmpfs "$HIDE_DIR"
  mkdir -p "$HIDE_DIR/$HIDE_CHILD"
  mount --bind "$WORK/hidden/$HIDE_CHILD" "$HIDE_DIR/$HIDE_CHILD"
fi
cat > /run/systemd/journald.conf.d/lore-tests.conf <<'CONF'
[Journal]
Storage=persistent
SplitMode=uid
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
CONF
touch /run/systemd/journal/flushed
( echo $BASHPID > "$CG_J/cgroup.procs"; exec /lib/systemd/systemd-journald ) \
  > "$WORK/journald.log" 2>&1 &
for _ in $(seq 100); do [ -S /run/systemd/journal/stdout ] && break; sleep 0.05; done
[ -S /run/systemd/journal/stdout ] || { echo "journald did not start" >&2; exit 1; }
touch "$WORK/ns-ready"
# PID 1 duty: reap whatever is re-parented here (the manager after nsenter exits)
exec "$PY" -c '
import os, time
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.2)
'
