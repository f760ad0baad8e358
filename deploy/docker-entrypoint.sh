#!/bin/sh
# The image's entrypoint: `run` (the default command) first brings the database schema up to
# date, then replaces this shell with the coach, so the coach is PID 1 and gets SIGTERM itself
# (a shell in between would swallow it). Any other command — `doctor`, `db current`,
# `console` — runs as it is, without migrating.
#
# Set HABIT_COACH_MIGRATE=0 where something else migrates first (the Kubernetes manifests run
# `habit-coach db upgrade` in an init container and start `habit-coach run` directly).
set -eu

if [ "$#" -eq 0 ]; then
    set -- run
fi

if [ "$1" = "run" ] && [ "${HABIT_COACH_MIGRATE:-1}" != "0" ]; then
    habit-coach db upgrade
fi

exec habit-coach "$@"
