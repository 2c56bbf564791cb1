import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_variable_settings_reads():
    settings_source = (BASE_DIR / "crm" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r"env_(?:str|bool|int|list)\(\s*\"([A-Z][A-Z0-9_]*)\"", settings_source))
    example = (BASE_DIR / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))

    assert read, "no env_* calls found in crm/settings.py"
    assert sorted(read - listed) == []
