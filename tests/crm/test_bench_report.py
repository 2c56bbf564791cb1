"""README's performance tables are generated from bench/results/latest.json."""

import json

import pytest

from bench import report

SAMPLE = {
    "outage_fanout": {
        "scale": {"customers": 100000, "naive_sample": 5000},
        "date": "2026-11-22T10:00:00+00:00",
        "command": "python bench/outage_fanout.py",
        "figures": {
            "affected_customers": 100000,
            "publish_to_all_rows_seconds": 12.3456,
            "broker_messages": 1,
            "rerun_rows_added": 0,
            "speedup_vs_naive": 41.5,
        },
    },
    "sla_scan": {
        "scale": {"orders": 20000},
        "date": "2026-11-21T09:00:00+00:00",
        "command": "python bench/sla_scan.py --orders 20000",
        "figures": {"scan_seconds": 1.5, "scan_sql_statements": 250, "rescan_new_notifications": 0},
    },
    "seed_scale:small": {
        "scale": {"scale": "small"},
        "date": "2026-11-22T10:05:00+00:00",
        "command": "python manage.py seed_scale --scale small",
        "figures": {"customers": 20000, "seconds": {"total": 41.25, "customers_and_contacts": 9.5}},
    },
    "new_bench": {
        "scale": "tiny",
        "date": "2026-11-22T11:00:00+00:00",
        "figures": {"rows": 12, "mode": "a|b", "nested": {"ignored": 1}},
    },
}

README = """# Title

## 中文

### 性能

`make bench`

<!-- bench:start -->
old table
<!-- bench:end -->

### 部署

## English

### Performance

<!-- bench:start -->
| stale |
<!-- bench:end -->

### Deployment
"""


def test_the_table_has_one_row_per_benchmark_known_ones_first():
    lines = report.table(SAMPLE, "en").splitlines()

    assert lines[0] == "| benchmark | scale | date | figures | command |"
    assert [line.split(" | ")[0] for line in lines[2:]] == [
        "| SLA scan",
        "| outage notice fan-out",
        "| data generator (small)",
        "| new_bench",
    ]


def test_a_row_shows_scale_date_figures_and_command():
    row = report.table(SAMPLE, "en").splitlines()[3]

    assert "customers 100,000, naive_sample 5,000" in row
    assert "| 2026-11-22 |" in row
    assert "affected customers 100,000" in row
    assert "publish to all rows s 12.346" in row
    assert "broker messages 1" in row
    assert "rerun adds 0" in row
    assert "× faster than a per-customer loop 41.5" in row
    assert "`python bench/outage_fanout.py`" in row


def test_nested_figures_and_unknown_benchmarks_are_shown():
    rows = report.table(SAMPLE, "en").splitlines()

    assert "total s 41.25" in rows[4]
    assert "customers_and_contacts" not in rows[4]
    # An unknown benchmark lists its plain figures, with table characters escaped.
    assert "rows 12; mode a\\|b" in rows[5]
    assert "ignored" not in rows[5]


def test_each_variant_of_a_benchmark_keeps_its_own_row():
    results = {
        **SAMPLE,
        "seed_scale:county": {
            "scale": {"scale": "county"},
            "date": "2026-11-22T10:15:00+00:00",
            "figures": {"customers": 100000, "seconds": {"total": 79.3}},
        },
    }

    rows = report.table(results, "en").splitlines()[2:]

    assert [row.split(" | ")[0] for row in rows][2:4] == [
        "| data generator (county)",
        "| data generator (small)",
    ]
    assert "customers 100,000; total s 79.3" in rows[2]


def test_chinese_labels_in_the_chinese_table():
    text = report.table(SAMPLE, "zh")

    assert text.splitlines()[0] == "| 基准 | 规模 | 日期 | 结果 | 命令 |"
    assert "停电通知分发" in text
    assert "消息队列消息数 1" in text


def test_render_fills_each_block_in_its_sections_language_and_keeps_the_rest():
    rendered = report.render(README, SAMPLE)

    chinese, english = rendered.split("## English")
    assert "| 基准 | 规模 |" in chinese and "| benchmark |" not in chinese
    assert "| benchmark | scale |" in english and "| 基准 |" not in english
    assert "old table" not in rendered and "| stale |" not in rendered
    assert "`make bench`" in rendered and "### Deployment" in rendered
    assert rendered.count(report.START) == 2 and rendered.count(report.END) == 2
    assert report.render(rendered, SAMPLE) == rendered


def test_empty_results_give_an_empty_table():
    assert report.table({}, "en").splitlines() == [
        "| benchmark | scale | date | figures | command |",
        "|---|---|---|---|---|",
    ]


def test_a_readme_without_markers_is_refused():
    with pytest.raises(ValueError, match="bench:start"):
        report.render("# README\n\nno table here\n", SAMPLE)


def test_check_fails_on_a_stale_readme_and_passes_once_regenerated(tmp_path, capsys):
    results = tmp_path / "latest.json"
    results.write_text(json.dumps(SAMPLE))
    readme = tmp_path / "README.md"
    readme.write_text(README)
    arguments = ["--results", str(results), "--readme", str(readme)]

    assert report.main([*arguments, "--check"]) == 1
    assert readme.read_text() == README

    assert report.main(arguments) == 0
    assert "Performance" in readme.read_text() and "41.5" in readme.read_text()
    assert report.main([*arguments, "--check"]) == 0


def test_a_benchmark_replaces_only_its_own_entry(tmp_path):
    from bench.common import merge_result

    path = tmp_path / "latest.json"
    merge_result("sla_scan", {"figures": {"scan_seconds": 2.0}}, path)
    merge_result("outage_fanout", {"figures": {"broker_messages": 1}}, path)
    merge_result("sla_scan", {"figures": {"scan_seconds": 1.5}}, path)

    assert json.loads(path.read_text()) == {
        "outage_fanout": {"figures": {"broker_messages": 1}},
        "sla_scan": {"figures": {"scan_seconds": 1.5}},
    }


def test_every_benchmark_in_the_results_has_its_labels():
    results = json.loads((report.ROOT / "bench" / "results" / "latest.json").read_text())

    unlabelled = sorted({name.split(":", 1)[0] for name in results} - set(report.BENCHES))
    assert unlabelled == []
    assert "bulk_upsert" in results
