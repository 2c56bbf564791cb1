"""Default SLA policies, seeded by a data migration and editable in the admin.

Plain data (no imports of models), so the migration and the tests can share it.
Columns: name, kind, category, urgency, sensitive_only, sign minutes,
resolve minutes, return-visit hours.
"""

DEFAULT_SLA_POLICIES = [
    ("报修（普通）", "repair", "", None, False, 10, 240, 24),
    ("报修（紧急/特急）", "repair", "", 1, False, 5, 120, 24),
    ("报修（特急）", "repair", "", 2, False, 5, 90, 24),
    ("投诉", "complaint", "", None, False, 120, 4320, 24),
    ("投诉（敏感/VIP客户）", "complaint", "", None, True, 30, 2880, 24),
    ("投诉（停电）", "complaint", "outage", None, False, 30, 1440, 24),
    ("咨询", "inquiry", "", None, False, 30, 1440, 24),
    ("业扩报装", "expansion", "", None, False, 60, 7200, 48),
    ("意见建议", "suggestion", "", None, False, 120, 7200, 48),
    ("表扬", "praise", "", None, False, 240, 4320, 72),
]


def seed_default_policies(policy_model) -> None:
    """Create the default policies that are missing (by name); `policy_model`
    is SlaPolicy or its historical version inside a migration."""
    for name, kind, category, urgency, sensitive, sign, resolve, visit in DEFAULT_SLA_POLICIES:
        policy_model.objects.get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "category": category,
                "urgency": urgency,
                "sensitive_only": sensitive,
                "sign_minutes": sign,
                "resolve_minutes": resolve,
                "return_visit_hours": visit,
            },
        )
