"""Fixtures for the outbox tests: a local HTTP endpoint, a recorded kick, a dead broker."""

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.notifications.support import celery_broker


@pytest.fixture
def broker_down(real_kick):
    """A broker nobody listens on: publishing fails with a connection error."""
    with celery_broker("redis://127.0.0.1:1/0") as app:
        yield app


class HttpEndpoint:
    """What a local HTTP server received, and what it answers next."""

    def __init__(self):
        self.requests: list[dict] = []
        self.responses: deque[tuple[int, dict]] = deque()
        self.default_response: tuple[int, dict] = (200, {"errcode": 0, "errmsg": "ok"})
        self.base_url = ""

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}{path}"

    def answer(self, status: int, payload: dict) -> None:
        self.responses.append((status, payload))


@pytest.fixture
def http_endpoint(monkeypatch):
    """A real HTTP server on 127.0.0.1 in a thread, standing in for WeCom or an SMS gateway."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    endpoint = HttpEndpoint()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                endpoint.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(raw or b"null")}
                )
                status, payload = (
                    endpoint.responses.popleft() if endpoint.responses else endpoint.default_response
                )
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    endpoint.base_url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def local_only(monkeypatch) -> None:
    # The Tencent SDK matches NO_PROXY against host:port, so drop proxies outright.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def aliyun_sms(settings, monkeypatch):
    """SMS_PROVIDER=aliyun against a local server that checks the signature."""
    from tests.notifications.sms_fakes import ALIYUN_KEY_ID, ALIYUN_SECRET, AliyunSmsServer

    local_only(monkeypatch)
    server = AliyunSmsServer().start()
    settings.SMS_PROVIDER = "aliyun"
    settings.SMS_SIGN_NAME = "黔东南供电"
    settings.ALIYUN_SMS_ACCESS_KEY_ID = ALIYUN_KEY_ID
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = ALIYUN_SECRET
    settings.ALIYUN_SMS_ENDPOINT = server.base_url + "/"
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def tencent_sms(settings, monkeypatch):
    """SMS_PROVIDER=tencent against a local server that checks the TC3 signature."""
    from tests.notifications.sms_fakes import (
        TENCENT_APP_ID,
        TENCENT_SECRET_ID,
        TENCENT_SECRET_KEY,
        TencentSmsServer,
    )

    local_only(monkeypatch)
    server = TencentSmsServer().start()
    settings.SMS_PROVIDER = "tencent"
    settings.SMS_SIGN_NAME = "黔东南供电"
    settings.TENCENT_SMS_SECRET_ID = TENCENT_SECRET_ID
    settings.TENCENT_SMS_SECRET_KEY = TENCENT_SECRET_KEY
    settings.TENCENT_SMS_SDK_APP_ID = TENCENT_APP_ID
    settings.TENCENT_SMS_REGION = "ap-guangzhou"
    settings.TENCENT_SMS_ENDPOINT = server.base_url
    try:
        yield server
    finally:
        server.stop()
