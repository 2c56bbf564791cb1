#!/usr/bin/env bash
# Starts the development web server, a Celery worker and the beat scheduler,
# each in its own process group; Ctrl-C (or any of them exiting) stops all three.
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
    echo "Stopping web server, worker and beat ..."
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
"$CELERY" -A crm worker --loglevel=INFO &
pids+=($!)
"$CELERY" -A crm beat --loglevel=INFO &
pids+=($!)

echo "CRM running at http://$ADDRESS/ (Ctrl-C stops the web server, worker and beat)"
# Stop everything as soon as any one of the three exits.
wait -n || true
