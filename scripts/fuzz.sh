#!/usr/bin/env bash
# API fuzzing: schemathesis against /api/schema/ of a running server, every
# phase (examples, coverage, fuzzing, stateful) and every check but
# positive_data_acceptance (why: see below), as a supervisor of the demo
# prefecture. Uses a database of its own (FUZZ_DATABASE_URL), rebuilt each run
# so results do not depend on earlier runs.
#   FUZZ_TIME       time budget in seconds for schemathesis (default 360; the rebuild
#                   and seeding of the database take 2–3 minutes more on 2 busy cores)
#   FUZZ_EXAMPLES   examples per operation and phase (default 25)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
PORT=${FUZZ_PORT:-8765}
DB_NAME=${FUZZ_DB_NAME:-crm_fuzz}
export DATABASE_URL=${FUZZ_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/$DB_NAME}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/14}
# The fuzzer sends thousands of requests a minute; throttling is tested elsewhere.
export API_THROTTLE_USER_RATE=1000000/min API_THROTTLE_ANON_RATE=1000000/min
# The schema is behind login by default; the fuzzer reads it as a public one.
export API_DOCS_PUBLIC=1
REPORTS=bench/results/fuzz
mkdir -p "$REPORTS"

if [[ "$DATABASE_URL" == postgres* ]]; then
    dropdb -h 127.0.0.1 -U postgres --if-exists "$DB_NAME"
    createdb -h 127.0.0.1 -U postgres "$DB_NAME"
fi
"$PYTHON" manage.py migrate --noinput >/dev/null
"$PYTHON" manage.py seed_demo >/dev/null
"$PYTHON" manage.py seed_activity >/dev/null
# The demo has no outages or visits: a few in the supervisor's scope, through the services,
# so that the lists hand the stateful phase something to follow (an outage's steps, a visit).
TOKEN=$("$PYTHON" manage.py shell -c "
from datetime import timedelta
from django.utils import timezone
from rest_framework.authtoken.models import Token
from accounts.models import User
from customers.models import Customer, District, Line
from customers.visits.services import visit_schedule
from outages.services import outage_create
supervisor = User.objects.get(username='supervisor')
soon = timezone.now() + timedelta(days=3)
lines = list(Line.objects.visible_to(supervisor).order_by('pk')[:3])
districts = list(District.objects.visible_to(supervisor).order_by('pk')[:3])
for n, (line, district) in enumerate(zip(lines, districts)):
    outage_create(by=supervisor, kind='planned', reason='线路检修', lines=[line], districts=[district],
                  planned_start=soon + timedelta(hours=n), planned_end=soon + timedelta(hours=n + 4))
for n, customer in enumerate(Customer.objects.visible_to(supervisor).order_by('pk')[:3]):
    visit_schedule(customer=customer, staff=supervisor, purpose='routine', scheduled_at=soon + timedelta(hours=n))
print(Token.objects.get_or_create(user=supervisor)[0].key)
" 2>/dev/null | tail -n 1)

"$PYTHON" -m gunicorn crm.wsgi:application --bind "127.0.0.1:$PORT" --workers 2 --log-level warning &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.5
done

# Python 3.11's AST constructor is not thread-safe (CPython gh-106905): with two
# workers, Hypothesis describing the coverage phase's lambdas (ast.parse) at the
# same moment fails with "SystemError: AST constructor recursion depth mismatch",
# reported as a runtime error of whichever operations hit it. Those descriptions
# are cached after the first, so running them one at a time costs nothing.
SERIALISED_SCHEMATHESIS='
import sys
import threading

from hypothesis.internal import lambda_sources
from schemathesis.cli import schemathesis

describe, lock = lambda_sources._lambda_description, threading.Lock()


def serialised(*args, **kwargs):
    with lock:
        return describe(*args, **kwargs)


lambda_sources._lambda_description = serialised
sys.argv[0] = "schemathesis"
sys.exit(schemathesis())
'

# negative_data_rejection takes 412 as a refusal too: an If-Match that does not
# match is answered before the body is read (RFC 9110 §13.2.1: preconditions are
# evaluated before the request content is processed), so a malformed body sent
# with a stale If-Match gets 412, and nothing is applied either way.
config=$(mktemp --suffix=.toml)
trap 'rm -f "$config"; kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
# The stateful phase follows the links the schema declares (crm/schema_links.py: create ->
# read, change with the ETag, steps, delete, what hangs off it), with valid data only so
# that chains go deep (the coverage and fuzzing phases send the invalid data), 60 chains of
# up to 12 steps per round. Schemathesis' own dependency analysis is off: it guesses by field
# names and sent a member's id as its group's id.
cat >"$config" <<'TOML'
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "412", "414", "415", "422", "428", "429", "5xx"]

[phases.stateful]
max-steps = 12

[phases.stateful.generation]
mode = "positive"
max-examples = 60

[phases.stateful.inference]
algorithms = ["location-headers"]
TOML

# Every check but positive_data_acceptance (ST202, "schema-valid request
# rejected"). The schema says what a request must look like; it cannot say
# what the stored data and the business rules decide, so these schema-valid
# requests are refused, rightly, and would be reported:
#   - a key that names nothing (or nothing the user may see): a customer
#     number, unit code, username or contact id -> 400;
#   - a cursor the list did not hand out -> 400;
#   - an If-Match that is stale, names another object or is empty -> 412;
#   - an Idempotency-Key sent again with a different request -> 422;
#   - rules across fields or over the stored state: a 台区群 without its
#     district, a group without rules, an outage without lines or districts,
#     the owner leaving the group, a customer number changed after creation -> 400.
# Everything the schema can express (formats, patterns, blank strings, NUL
# characters, unknown properties, which of several fields to give) is in it.
stamp=$(date -u +%Y%m%dT%H%M%SZ)
ndjson="$REPORTS/ndjson-$stamp.ndjson"
status=0
"$PYTHON" -c "$SERIALISED_SCHEMATHESIS" --config-file "$config" run "http://127.0.0.1:$PORT/api/schema/?format=json" \
    --header "Authorization: Token $TOKEN" \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "${FUZZ_EXAMPLES:-25}" \
    --max-time "${FUZZ_TIME:-360}" \
    --workers 2 \
    --seed "${FUZZ_SEED:-20261122}" \
    --report junit,ndjson --report-dir "$REPORTS" \
    --report-junit-path "$REPORTS/junit-$stamp.xml" --report-ndjson-path "$ndjson" \
    --suppress-health-check all || status=$?

# The figures (requests per phase, statuses, link steps, server errors, schema violations);
# any server error or failed check fails the run as schemathesis' own exit status does.
"$PYTHON" scripts/fuzz_summary.py "$ndjson" || status=1
exit "$status"
