"""Local stand-ins for Alibaba Cloud SMS and Tencent Cloud SMS that check what a real one checks.

Each server recomputes the request's signature from the provider's documented
algorithm (written here on its own, not borrowed from the product code) and
answers a bad one as the provider does; otherwise it answers what the test
queued, in the provider's format.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote_plus

ALIYUN_KEY_ID, ALIYUN_SECRET = "LTAI-test-key", "aliyun-test-secret"
TENCENT_SECRET_ID, TENCENT_SECRET_KEY = "AKID-test-id", "tencent-test-key"
TENCENT_APP_ID = "1400000001"


def aliyun_expected_signature(params: dict[str, str], secret: str) -> str:
    """Signature mechanism, RPC style: the documented percentEncode (URLEncoder, then + → %20,
    * → %2A, %7E → ~), sorted pairs, StringToSign = POST&%2F&encode(query), key secret + "&"."""

    def percent_encode(value: str) -> str:
        return quote_plus(value, encoding="utf-8").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")

    query = "&".join(f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params))
    string_to_sign = "POST&" + percent_encode("/") + "&" + percent_encode(query)
    mac = hmac.new((secret + "&").encode(), string_to_sign.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def tencent_expected_signature(*, headers: dict[str, str], body: bytes, secret_key: str) -> str:
    """TC3-HMAC-SHA256 as documented: canonical request over the signed headers (lower-cased
    names, trimmed values) and the body's SHA-256, string to sign with the credential scope,
    key derived TC3+key → date → service → tc3_request."""
    authorization = headers["authorization"]
    assert authorization.startswith("TC3-HMAC-SHA256 ")
    parts = dict(item.strip().split("=", 1) for item in authorization[len("TC3-HMAC-SHA256 ") :].split(","))
    _secret_id, date, service, terminator = parts["Credential"].split("/")
    assert terminator == "tc3_request"
    signed = parts["SignedHeaders"].split(";")
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    canonical_request = "\n".join(
        ["POST", "/", "", canonical_headers, parts["SignedHeaders"], hashlib.sha256(body).hexdigest()]
    )
    string_to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            headers["x-tc-timestamp"],
            f"{date}/{service}/tc3_request",
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )

    def sign(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode(), hashlib.sha256).digest()

    key = sign(sign(sign(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


class ProviderServer:
    """A threaded HTTP server on 127.0.0.1; `requests` holds what arrived (signature checked)."""

    content_type = "application/json;charset=utf-8"

    def __init__(self):
        self.requests: list[dict] = []
        self.responses: deque[tuple[int, dict]] = deque()
        self.lock = threading.Lock()
        self.base_url = ""
        self._server: ThreadingHTTPServer | None = None

    def answer(self, status: int, payload: dict) -> None:
        self.responses.append((status, payload))

    def next_answer(self, default: dict) -> tuple[int, dict]:
        return self.responses.popleft() if self.responses else (200, default)

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        raise NotImplementedError

    def start(self) -> ProviderServer:
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with server_self.lock:
                    status, payload = server_self.handle(headers, body)
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", server_self.content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()


class AliyunSmsServer(ProviderServer):
    """dysmsapi SendSms: a form POST; answers {"Code": "OK", "BizId": ...} or an error Code."""

    def __init__(self):
        super().__init__()
        self.sent = 0

    def handle(self, headers, body):
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        signature = params.pop("Signature", "")
        verified = hmac.compare_digest(signature, aliyun_expected_signature(params, ALIYUN_SECRET))
        self.requests.append({"params": params, "verified": verified, "headers": headers})
        if not verified:
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched."}
        self.sent += 1
        return self.next_answer(
            {"Code": "OK", "Message": "OK", "BizId": f"90061974693649844{self.sent}^0", "RequestId": "req"}
        )


class TencentSmsServer(ProviderServer):
    """sms 2021-01-11 SendSms: a JSON POST signed TC3; answers SendStatusSet or Response.Error."""

    content_type = "application/json"

    def __init__(self):
        super().__init__()
        self.sent = 0

    def handle(self, headers, body):
        verified = hmac.compare_digest(
            tencent_expected_signature(headers=headers, body=body, secret_key=TENCENT_SECRET_KEY),
            headers["authorization"].rsplit("Signature=", 1)[1],
        )
        payload = json.loads(body or b"{}")
        self.requests.append({"json": payload, "verified": verified, "headers": headers})
        if not verified:
            return 200, {
                "Response": {
                    "Error": {"Code": "AuthFailure.SignatureFailure", "Message": "signature"},
                    "RequestId": "r",
                }
            }
        self.sent += 1
        phone = (payload.get("PhoneNumberSet") or [""])[0]
        return self.next_answer(
            {
                "Response": {
                    "SendStatusSet": [
                        {
                            "SerialNo": f"2028:{self.sent}f825e6b16e23f73f4123",
                            "PhoneNumber": phone,
                            "Fee": 1,
                            "SessionContext": payload.get("SessionContext", ""),
                            "Code": "Ok",
                            "Message": "send success",
                            "IsoCode": "CN",
                        }
                    ],
                    "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
                }
            }
        )

    @staticmethod
    def status(code: str) -> dict:
        """A send status that is not Ok (the request itself succeeded)."""
        return {
            "Response": {
                "SendStatusSet": [
                    {
                        "SerialNo": "",
                        "PhoneNumber": "",
                        "Fee": 0,
                        "SessionContext": "",
                        "Code": code,
                        "Message": code,
                    }
                ],
                "RequestId": "r",
            }
        }

    @staticmethod
    def error(code: str) -> dict:
        return {"Response": {"Error": {"Code": code, "Message": code}, "RequestId": "r"}}
