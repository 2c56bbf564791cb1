"""scripts/fuzz_summary.py: the figures of a fuzz run, and a failed run for any server error
or failed check."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_summary.py"


@pytest.fixture(scope="module")
def fuzz_summary():
    spec = importlib.util.spec_from_file_location("fuzz_summary", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scenario(phase: str, label: str, *cases: tuple[str, int, list[tuple[str, str]], bool]) -> dict:
    method, path = label.split(" ")
    return {
        "ScenarioFinished": {
            "phase": phase,
            "recorder": {
                "label": label,
                "cases": {
                    case_id: {"value": {"method": method, "path": path}, "is_transition_applied": linked}
                    for case_id, _status, _checks, linked in cases
                },
                "interactions": {
                    case_id: {"response": {"status_code": status}}
                    for case_id, status, _checks, _linked in cases
                },
                "checks": {
                    case_id: [{"name": name, "status": outcome} for name, outcome in checks]
                    for case_id, _status, checks, _linked in cases
                },
            },
        }
    }


def write(tmp_path: Path, *events: dict) -> Path:
    report = tmp_path / "run.ndjson"
    report.write_text("".join(json.dumps(event) + "\n" for event in [{"Initialize": {}}, *events]))
    return report


def test_a_clean_run_is_counted_and_passes(fuzz_summary, tmp_path, capsys):
    ok = [("not_a_server_error", "success"), ("response_schema_conformance", "success")]
    report = write(
        tmp_path,
        scenario("coverage", "POST /api/v1/customers/", ("a", 201, ok, False), ("b", 400, ok, False)),
        scenario("fuzzing", "POST /api/v1/customers/", ("c", 400, ok, False)),
        scenario("fuzzing", "GET /api/v1/customers/", ("d", 200, ok, False)),
        scenario("stateful", "POST /api/v1/customers/", ("e", 201, ok, False), ("f", 200, ok, True)),
    )

    figures, problems = fuzz_summary.summarise(report)

    assert problems == []
    assert figures["operations"] == 2
    assert figures["requests"] == 6
    assert figures["requests_by_phase"] == {"coverage": 2, "fuzzing": 2, "stateful": 2}
    assert figures["successful_writes"] == 3
    assert figures["stateful_link_steps"] == 1
    assert (figures["server_errors"], figures["schema_violations"]) == (0, 0)
    assert fuzz_summary.main(["fuzz_summary.py", str(report)]) == 0
    assert "server_errors: 0" in capsys.readouterr().out


def test_a_server_error_or_a_schema_violation_fails_the_run(fuzz_summary, tmp_path):
    report = write(
        tmp_path,
        scenario(
            "fuzzing",
            "POST /api/v1/visits/",
            ("a", 500, [("not_a_server_error", "failure")], False),
            ("b", 200, [("response_schema_conformance", "failure")], False),
        ),
    )

    figures, problems = fuzz_summary.summarise(report)

    assert (figures["server_errors"], figures["schema_violations"]) == (1, 1)
    assert problems
    assert fuzz_summary.main(["fuzz_summary.py", str(report)]) == 1
