"""Regenerate README's performance tables from bench/results/latest.json.

    python bench/report.py [--check] [--results bench/results/latest.json] [--readme README.md]

Each table sits between `<!-- bench:start -->` and `<!-- bench:end -->`; the
one under a Chinese heading gets Chinese labels, the other English ones.
With --check nothing is written and the exit status says whether README is
up to date (for CI).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = "<!-- bench:start -->"
END = "<!-- bench:end -->"
BLOCK = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
CJK = re.compile(r"[\u4e00-\u9fff]")

# Per benchmark: its name and the figures worth a reader's time, in order,
# as (key, Chinese label, English label). Keys may reach into nested
# figures with dots ("seconds.total").
BENCHES: dict[str, tuple[str, str, list[tuple[str, str, str]]]] = {
    "sla_scan": (
        "SLA 扫描",
        "SLA scan",
        [
            ("orders_due_for_a_reminder", "到期工单", "orders due"),
            ("scan_seconds", "扫描秒数", "scan s"),
            ("scan_sql_statements", "SQL 条数", "SQL statements"),
            ("notifications_written", "写入提醒", "reminders written"),
            ("rescan_new_notifications", "重扫新增", "rescan adds"),
            ("speedup_vs_naive_loop", "比逐单循环快（倍）", "× faster than a per-order loop"),
        ],
    ),
    "sync": (
        "档案同步",
        "archive sync",
        [
            ("sync_rows_per_second", "行/秒", "rows/s"),
            ("sync_vs_copy_ratio", "相对 COPY（目标 ≥ 0.3）", "share of COPY (goal ≥ 0.3)"),
            ("last_vs_first_page_ratio", "末页/首页（目标 ≤ 1.3）", "last/first page (goal ≤ 1.3)"),
            ("sync_vs_drf_baseline_speedup", "比 DRF 分页快（倍）", "× a plain DRF list"),
            ("fixed_page_ms", "每页固定开销（毫秒）", "fixed cost per page ms"),
            (
                "fixed_page_ms_compiling_each_request",
                "同次运行、每次重新编译查询时（毫秒）",
                "same run, compiling the query each request (ms)",
            ),
            ("fixed_share_of_full_page", "固定开销占整页", "fixed share of a full page"),
            ("ndjson_stream_vs_paged_speedup", "NDJSON 流式相对分页（倍）", "× NDJSON stream vs pages"),
            (
                "ndjson_stream_vs_paged_speedup_as_a_client_meets_them",
                "含认证与限流时（倍，目标 ≥ 1.3）",
                "× with token and throttle (goal ≥ 1.3)",
            ),
            ("load_average", "负载", "load average"),
        ],
    ),
    "import_bounds": (
        "导入文件行数检查",
        "import row-limit check",
        [
            ("file_mb", "文件 MB", "file MB"),
            ("refused_seconds", "超限拒收秒数", "refused in s"),
            ("baseline_seconds", "原打开整表秒数", "old sheet opening s"),
            ("refused_vs_baseline", "相对原做法（耗时比）", "time vs the old opening"),
            ("limit_file_seconds", "上限行数文件秒数", "limit-row file s"),
            ("limit_file_peak_rss_mb", "峰值内存 MB", "peak RSS MB"),
            ("load_average", "负载", "load average"),
        ],
    ),
    "archive_import": (
        "档案导入",
        "archive import",
        [
            ("import_rows_per_second", "行/秒", "rows/s"),
            ("import_vs_bulk_create_ratio", "相对 bulk_create", "share of bulk_create"),
            ("reimport_rows_per_second", "重复导入 行/秒", "re-import rows/s"),
        ],
    ),
    "wecom_posts": (
        "企业群发状态查询",
        "WeCom group-post polling",
        [
            ("groups", "客户群", "groups"),
            ("tasks", "群发任务", "tasks"),
            ("calls_per_cycle", "每轮调用", "calls per cycle"),
            ("naive_calls_per_cycle", "逐群调用", "per-group calls"),
            ("speedup_vs_naive_loop", "比逐群查询快（倍）", "× faster than a per-group loop"),
        ],
    ),
    "bulk_upsert": (
        "批量写入档案",
        "bulk upsert",
        [
            ("items", "项数", "items"),
            ("set_based_seconds", "集合写入秒数（目标 ≤ 2）", "set-based s (goal ≤ 2)"),
            ("one_by_one_seconds", "逐项写入秒数", "one-by-one s"),
            ("speedup_vs_one_by_one", "比逐项快（倍）", "× faster than one by one"),
            ("set_based_sql_statements", "SQL 条数", "SQL statements"),
            ("load_average_before", "负载", "load average"),
        ],
    ),
    "dashboard": (
        "监控看板",
        "supervisor dashboard",
        [
            ("cold_page_seconds", "冷启动秒数", "cold s"),
            ("cold_page_over_sql_replay", "冷启动/SQL（目标 ≤ 2）", "cold / its SQL (goal ≤ 2)"),
            ("warm_page_seconds", "缓存命中秒数", "warm s"),
        ],
    ),
    "dashboard_satisfaction": (
        "看板满意率与回访覆盖率",
        "dashboard satisfaction and visit coverage",
        [
            ("baseline_per_visit_seconds", "按次计秒数（原）", "per visit s (before)"),
            ("per_order_seconds", "按单计秒数", "per order s"),
            ("per_order_over_baseline", "按单/按次", "per order / per visit"),
            ("load_average_1m", "负载", "load average"),
        ],
    ),
    "outage_fanout": (
        "停电通知分发",
        "outage notice fan-out",
        [
            ("affected_customers", "受影响客户", "affected customers"),
            ("sensitive_customers", "敏感客户", "sensitive"),
            ("publish_to_all_rows_seconds", "发布到写完秒数", "publish to all rows s"),
            (
                "due_to_all_rows_seconds",
                "到期至记录和短信全部写完秒数",
                "due to all records and outbox rows s",
            ),
            ("reach_records_per_second", "触达记录/秒", "reach records/s"),
            ("sms_outbox_rows", "短信行", "SMS rows"),
            (
                "broker_messages_per_1000_customers",
                "每千户消息数（目标 ≤ 1）",
                "broker messages per 1,000 (goal ≤ 1)",
            ),
            ("broker_messages", "消息队列消息数", "broker messages"),
            ("rerun_rows_added", "重跑新增", "rerun adds"),
            ("speedup_vs_naive", "比逐户循环快（倍）", "× faster than a per-customer loop"),
            (
                "speedup_vs_naive_sensitive_only",
                "比只逐户通知敏感客户快（倍，各轮中位数，目标 ≥ 5）",
                "× vs a loop over the sensitive only (median of rounds, goal ≥ 5)",
            ),
            ("speedup_vs_naive_sensitive_only_by_round", "各轮倍数", "× by round"),
            (
                "fan_out_seconds_by_round",
                "各轮分发秒数（首轮含群发创建）",
                "fan-out s by round (the first making the group posts)",
            ),
            ("goal_budget_seconds", "目标允许秒数", "s the goal allows"),
            ("fan_out_threads", "同时写的批数（连接数）", "batches at once (connections)"),
            (
                "speedup_threads_vs_one_connection",
                "比单连接快（倍）",
                "× faster than on one connection",
            ),
            (
                "database_floor_reach_records_seconds",
                "数据库写触达记录下限秒数",
                "database floor for the records s",
            ),
            (
                "database_floor_seconds",
                "数据库写记录与发件箱行下限秒数",
                "database floor for records and outbox rows s",
            ),
            ("load_average_start", "开始负载", "load avg start"),
            ("load_average_end", "结束负载", "load avg end"),
        ],
    ),
    "seed_scale": (
        "数据生成",
        "data generator",
        [
            ("customers", "客户", "customers"),
            ("work_orders", "工单", "work orders"),
            ("group_messages", "群消息", "group messages"),
            ("seconds.total", "总秒数", "total s"),
        ],
    ),
    "group_list": (
        "客户群列表",
        "group list",
        [
            ("groups_visible", "可见群数", "groups in scope"),
            ("list_query_from_messages_ms", "按消息计算（毫秒）", "from messages ms"),
            ("list_query_kept_rows_ms", "按健康度汇总行（毫秒）", "from kept rows ms"),
            ("list_query_speedup", "快（倍）", "× faster"),
            ("page_ms", "整页毫秒", "page ms"),
            ("page_queries", "SQL 条数", "queries"),
            ("refresh_all_s", "全部重算秒数", "refresh all s"),
        ],
    ),
    "workbench_outages": (
        "工作台停电板块（未发布停电的影响户数）",
        "workbench outages (live counts of unpublished outages)",
        [
            ("section_or_of_ways_in_ms", "按各途径 OR 计数（毫秒）", "OR of the ways in ms"),
            ("section_ms", "按索引逐途径计数（毫秒）", "ways in by index ms"),
            ("section_speedup", "快（倍）", "× faster"),
            ("workbench_page_or_of_ways_in_ms", "整页，旧（毫秒）", "page before ms"),
            ("workbench_page_ms", "整页（毫秒）", "page ms"),
            ("workbench_page_queries", "SQL 条数", "queries"),
        ],
    ),
    "order_filters": (
        "地市主管工单列表的各筛选（已办结工单按编号走索引）",
        "prefecture supervisor's order list, every filter (closed orders walk the ids)",
        [
            ("units_in_scope", "范围内单位数", "units in scope"),
            ("filters", "筛选数", "filters"),
            ("worst_filter_ms", "最慢筛选（毫秒）", "worst filter ms"),
            (
                "worst_filter_unit_by_unit_ms",
                "逐单位读取时最慢（毫秒）",
                "worst filter, every part unit by unit ms",
            ),
            ("worst_filter_speedup", "快（倍）", "× faster"),
            ("sum_ms", "各筛选合计（毫秒）", "all filters ms"),
            ("sum_unit_by_unit_ms", "逐单位读取时合计（毫秒）", "all filters, unit by unit ms"),
        ],
    ),
    "order_search": (
        "工单列表的文字搜索（先按索引找出匹配）",
        "order list text search (matches found first through indexes)",
        [
            ("searches", "搜索次数（身份×词）", "searches (persona × term)"),
            ("worst_search_ms", "最慢（毫秒）", "worst ms"),
            ("worst_search_plain_ms", "整体 OR 时最慢（毫秒）", "worst, plain OR ms"),
            ("worst_search_speedup", "快（倍）", "× faster"),
            ("sum_ms", "合计（毫秒）", "all searches ms"),
            ("sum_plain_ms", "整体 OR 时合计（毫秒）", "all searches, plain OR ms"),
        ],
    ),
    "personas": (
        "各身份的页面（一次一个请求，压测数据）",
        "every persona's pages (one request at a time, the load test's data)",
        [
            (
                "prefecture group list",
                "地市主管客户群列表（毫秒，目标 ≤ 150）",
                "prefecture group list ms (goal ≤ 150)",
            ),
            (
                "prefecture customer list",
                "地市主管客户列表（毫秒，目标 ≤ 100）",
                "prefecture customer list ms (goal ≤ 100)",
            ),
            (
                "county dashboard, first look",
                "县主管看板首次打开（毫秒，目标 ≤ 300）",
                "county dashboard first look ms (goal ≤ 300)",
            ),
            (
                "prefecture dashboard, first look",
                "地市主管看板首次打开（毫秒，目标 ≤ 600）",
                "prefecture dashboard first look ms (goal ≤ 600)",
            ),
            ("goals met", "达标项（共 4 项）", "goals met (of 4)"),
            ("worst manager", "客户经理最慢页（毫秒）", "manager's slowest page ms"),
            ("worst station", "供电所主管最慢页（毫秒）", "station supervisor's slowest page ms"),
            ("worst county", "县主管最慢页（毫秒）", "county supervisor's slowest page ms"),
            ("worst prefecture", "地市主管最慢页（毫秒）", "prefecture supervisor's slowest page ms"),
            ("worst integration", "同步页（毫秒）", "sync page ms"),
            ("pages", "页面数", "pages"),
        ],
    ),
    "scope": (
        "县主管：县规模与地市规模（先按单位范围）",
        "county supervisor: county vs prefecture size (scope first)",
        [
            (
                "customers_sql_scope_first_prefecture_over_county",
                "客户列表 SQL 地市/县（目标 ≤ 1.5）",
                "customer list SQL prefecture/county (goal ≤ 1.5)",
            ),
            (
                "orders_signed_sql_scope_first_prefecture_over_county",
                "工单 SQL 地市/县",
                "orders SQL prefecture/county",
            ),
            (
                "groups_sql_scope_first_prefecture_over_county",
                "客户群 SQL 地市/县",
                "groups SQL prefecture/county",
            ),
            (
                "search_sql_scope_first_prefecture_over_county",
                "搜索 SQL 地市/县",
                "search SQL prefecture/county",
            ),
            (
                "dashboard_cold_sql_scope_first_prefecture_over_county",
                "看板 SQL 地市/县",
                "dashboard SQL prefecture/county",
            ),
            (
                "dashboard_cold_sql_path_join_prefecture_over_county",
                "看板 SQL 地市/县（原路径连接）",
                "dashboard SQL prefecture/county (path join)",
            ),
            (
                "dashboard_cold_sql_path_join_over_scope_first_at_prefecture",
                "看板 SQL 原/新（倍）",
                "dashboard SQL path join / scope first",
            ),
            ("dashboard_cold_scope_first_prefecture_ms", "看板冷启动整页毫秒", "dashboard cold page ms"),
            (
                "dashboard_cold_scope_first_prefecture_over_county",
                "看板整页 地市/县",
                "dashboard page prefecture/county",
            ),
            ("groups_scope_first_prefecture_ms", "客户群列表整页毫秒", "group list page ms"),
            ("customers_scope_first_prefecture_ms", "客户列表整页毫秒", "customer list page ms"),
        ],
    ),
    "search": (
        "客户搜索",
        "customer search",
        [
            ("customers", "客户", "customers"),
            ("worst_sql_ms", "最慢 SQL 毫秒", "worst SQL ms"),
            ("worst_page_ms", "最慢页面毫秒", "worst page ms"),
        ],
    ),
    "wecom_reconcile": (
        "企业微信客户群同步",
        "WeCom group reconcile",
        [
            ("groups", "群数", "groups"),
            ("members_per_group", "每群成员", "members per group"),
            ("first_reconcile_s", "首次同步秒数", "first reconcile s"),
            ("first_reconcile_wecom_calls", "首次调用次数", "first WeCom calls"),
            ("second_reconcile_s", "再次同步秒数", "second reconcile s"),
            ("second_reconcile_wecom_calls", "再次调用次数", "second WeCom calls"),
            ("full_reread_s", "全部重读秒数", "full re-read s"),
            ("naive_wecom_calls_per_pass_scaled", "逐群循环调用次数", "per-group loop WeCom calls"),
            ("speedup_first_vs_naive", "首次比逐群循环快（倍）", "first × faster than a per-group loop"),
            ("speedup_full_reread_vs_naive", "重读比逐群循环快（倍）", "re-read × faster than the loop"),
            ("wecom_calls_ratio_naive_over_second", "调用次数之比", "WeCom calls ratio loop / second"),
        ],
    ),
    "load": (
        "压力测试",
        "load test",
        [
            ("users", "并发用户", "users"),
            ("requests_per_second", "请求/秒", "requests/s"),
            ("failures", "错误", "errors"),
            ("pages_p95_ms_max", "页面 p95 最大（毫秒，目标 ≤ 300）", "worst page p95 ms (goal ≤ 300)"),
            ("sync_page_p95_ms", "同步页 p95（毫秒，目标 ≤ 100）", "sync page p95 ms (goal ≤ 100)"),
            ("bulk_upsert_p95_ms", "批量写入 p95（毫秒，目标 ≤ 300）", "bulk upsert p95 ms (goal ≤ 300)"),
        ],
    ),
}
HEADINGS = {
    "zh": ("基准", "规模", "日期", "结果", "命令"),
    "en": ("benchmark", "scale", "date", "figures", "command"),
}


def figure(figures: dict, key: str):
    value = figures
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def shown(value) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"


def scale_text(scale) -> str:
    if isinstance(scale, dict):
        return ", ".join(f"{key} {shown(value)}" for key, value in scale.items())
    return str(scale or "")


def cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(results: dict, lang: str = "en") -> str:
    """A Markdown table, one row per benchmark in the results, known ones first."""
    labels = 1 if lang == "zh" else 2
    rows = [
        "| " + " | ".join(HEADINGS[lang]) + " |",
        "|" + "---|" * len(HEADINGS[lang]),
    ]
    order = list(BENCHES)
    names = sorted(
        results, key=lambda name: (order.index(_kind(name)) if _kind(name) in BENCHES else len(order), name)
    )
    for name in names:
        entry = results[name]
        if not isinstance(entry, dict):
            continue
        figures = entry.get("figures", {})
        title, parts, kind = name, [], _kind(name)
        if kind in BENCHES:
            title = BENCHES[kind][0 if lang == "zh" else 1]
            if kind != name:
                title += f" ({name.split(':', 1)[1]})"
            for spec in BENCHES[kind][2]:
                value = figure(figures, spec[0])
                if value is not None:
                    parts.append(f"{spec[labels]} {shown(value)}")
        else:
            parts = [
                f"{key} {shown(value)}"
                for key, value in figures.items()
                if isinstance(value, int | float | str)
            ]
        command = entry.get("command", "")
        rows.append(
            "| "
            + " | ".join(
                [
                    cell(title),
                    cell(scale_text(entry.get("scale"))),
                    cell(str(entry.get("date", ""))[:10] + _load_text(entry.get("load_average"), lang)),
                    cell("; ".join(parts)),
                    f"`{cell(command)}`" if command else "",
                ]
            )
            + " |"
        )
    return "\n".join(rows)


def _load_text(load: dict | None, lang: str) -> str:
    """The one-minute load average at the benchmark's start and end, where it was recorded."""
    if not load:
        return ""
    start, end = load["start"][0], load["end"][0]
    return f"（负载 {start:.1f}→{end:.1f}）" if lang == "zh" else f" (load {start:.1f}→{end:.1f})"


def _kind(name: str) -> str:
    """A benchmark kept once per variant is named kind:variant (seed_scale:county)."""
    return name.split(":", 1)[0]


def _language_at(text: str, position: int) -> str:
    """The language of the section a marker sits in: its nearest heading's."""
    headings = [m for m in re.finditer(r"^#{1,6} .*$", text[:position], re.MULTILINE)]
    return "zh" if headings and CJK.search(headings[-1].group(0)) else "en"


def render(text: str, results: dict) -> str:
    """README with every marked block filled with the current table."""
    if START not in text or END not in text:
        raise ValueError(f"no {START} ... {END} block in the text")

    def replace(match: re.Match) -> str:
        return f"{START}\n{table(results, _language_at(text, match.start()))}\n{END}"

    return BLOCK.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--check", action="store_true", help="only say whether README is up to date")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    text = args.readme.read_text()
    fresh = render(text, results)
    if args.check:
        if fresh != text:
            print(f"{args.readme} is out of date: run python bench/report.py", file=sys.stderr)
            return 1
        return 0
    if fresh != text:
        args.readme.write_text(fresh)
        print(f"{args.readme}: performance tables regenerated from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
