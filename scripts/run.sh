#!/usr/bin/env bash
# Starts the development web server, two Celery workers (the realtime queue: reminders,
# delivery, the SLA scan, WeCom callbacks; the bulk queue: imports, exports, fan-outs,
# reconciles) and the beat scheduler, each in its own process group; Ctrl-C (or any of
# them exiting) stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
CELERY=${CELERY:-.venv/bin/celery}
ADDRESS=${ADDRESS:-127.0.0.1:8000}

set -m  # job control: every background job gets its own process group
pids=()

stop_all() {
    trap - INT TERM EXIT
    echo
    echo "Stopping web server, workers and beat ..."
    # The main processes stop their own children (pool workers, the reloaded server).
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in $(seq 1 75); do
        alive=0
        for pid in "${pids[@]}"; do
            if kill -0 "$pid" 2>/dev/null; then alive=1; fi
        done
        [ "$alive" -eq 0 ] && break
        sleep 0.2
    done
    # Whatever is left after fifteen seconds goes, with its whole process group.
    for pid in "${pids[@]}"; do
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap stop_all INT TERM EXIT

"$PYTHON" manage.py runserver "$ADDRESS" &
pids+=($!)
# A large import on the bulk worker never delays a reminder on the realtime one.
"$CELERY" -A crm worker -Q realtime -n realtime@%h --concurrency=2 --loglevel=INFO &
pids+=($!)
"$CELERY" -A crm worker -Q bulk -n bulk@%h --concurrency=2 --loglevel=INFO &
pids+=($!)
"$CELERY" -A crm beat --loglevel=INFO &
pids+=($!)

echo "CRM running at http://$ADDRESS/ (Ctrl-C stops the web server, workers and beat)"
# Stop everything as soon as any one of them exits.
wait -n || true
