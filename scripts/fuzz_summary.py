"""The figures of a fuzz run, read from schemathesis' NDJSON report (scripts/fuzz.sh).

    python scripts/fuzz_summary.py bench/results/fuzz/ndjson-<time>.ndjson

Prints the operations tested, the requests sent and their statuses per phase, the
stateful phase's link-following, server errors and schema violations (responses
that break the schema: status code, content type, headers, body). Exits 1 when
there is any server error or failed check, so the script fails a run that
schemathesis' own summary might word as a warning.
"""

import json
import sys
from collections import Counter
from pathlib import Path

# Checks whose failure means the response does not keep to the schema.
SCHEMA_CHECKS = {
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
}


def summarise(path: Path) -> tuple[dict, list[str]]:
    operations: set[str] = set()
    requests: Counter = Counter()
    statuses: Counter = Counter()
    failed_checks: Counter = Counter()
    transitions = 0
    writes_ok = 0
    for line in path.open(encoding="utf-8"):
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if finished is None:
            continue
        phase, recorder = finished["phase"], finished["recorder"]
        if phase == "fuzzing":
            # The fuzzing phase runs each operation of the schema (the coverage phase
            # also tries methods the schema does not list).
            operations.add(recorder["label"])
        for case_id, interaction in recorder.get("interactions", {}).items():
            requests[phase] += 1
            response = interaction.get("response")
            status = response["status_code"] if response else None
            statuses[(phase, f"{status // 100}xx" if status else "no response")] += 1
            case = recorder.get("cases", {}).get(case_id, {})
            value = case.get("value", {})
            if phase == "stateful" and case.get("is_transition_applied"):
                transitions += 1
            if status and 200 <= status < 300 and value.get("method") in {"POST", "PUT", "PATCH", "DELETE"}:
                writes_ok += 1
        for checks in recorder.get("checks", {}).values():
            for check in checks:
                if check["status"] != "success":
                    failed_checks[check["name"]] += 1
    server_errors = sum(n for (_phase, cls), n in statuses.items() if cls == "5xx")
    figures = {
        "operations": len(operations),
        "requests": sum(requests.values()),
        "requests_by_phase": dict(requests),
        "statuses": {f"{phase} {cls}": n for (phase, cls), n in sorted(statuses.items())},
        "successful_writes": writes_ok,
        "stateful_link_steps": transitions,
        "server_errors": server_errors,
        "schema_violations": sum(n for name, n in failed_checks.items() if name in SCHEMA_CHECKS),
        "failed_checks": dict(failed_checks),
    }
    problems = [f"{n} server errors" for n in [server_errors] if n]
    problems += [f"{name}: {n}" for name, n in failed_checks.items()]
    return figures, problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    report = Path(argv[1])
    if not report.is_file():
        print(f"FAILED: no report at {report} (schemathesis did not run)")
        return 1
    figures, problems = summarise(report)
    print("Fuzz run figures")
    for name, value in figures.items():
        if isinstance(value, dict):
            print(f"  {name}:")
            for key, count in value.items():
                print(f"    {key}: {count}")
        else:
            print(f"  {name}: {value}")
    if problems:
        print("FAILED: " + "; ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
