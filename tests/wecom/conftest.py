"""The `wecom_sandbox` fixture: a local WeCom on a random port, settings pointed at it.

tests/conftest.py re-exports it, so every test folder can ask for it. The token
cache lives in the test's cache (locmem), cleared here so no token outlives a test.
"""

import pytest
from django.core.cache import cache

from wecom.sandbox import Sandbox, SandboxState

CALLBACK_TOKEN = "sandboxCallbackToken"
CALLBACK_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture
def wecom_sandbox(settings, monkeypatch):
    """A running sandbox (`.state`, `.base_url`, `.api_base`); WECOM_* settings point at it.

    Callbacks are recorded, not POSTed (no live server); call
    `wecom_sandbox.set_callback(url=live_server.url + "/wecom/callback/", ...)` to POST them.
    """
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    state = SandboxState()
    sandbox = Sandbox(state).start()
    settings.WECOM_CORP_ID = state.corp_id
    settings.WECOM_AGENT_ID = state.agent_id
    settings.WECOM_AGENT_SECRET = state.secrets["agent"]
    settings.WECOM_CONTACT_SECRET = state.secrets["contact"]
    settings.WECOM_CALLBACK_TOKEN = CALLBACK_TOKEN
    settings.WECOM_CALLBACK_AES_KEY = CALLBACK_AES_KEY
    settings.WECOM_API_BASE = sandbox.api_base
    settings.OUTBOUND_HTTP_TIMEOUT = 5
    sandbox.set_callback(url="", token=CALLBACK_TOKEN, aes_key=CALLBACK_AES_KEY)
    cache.clear()
    try:
        yield sandbox
    finally:
        sandbox.stop()
        cache.clear()
