"""Helpers of the WeCom group sync tests: a sandbox with the manager as staff, and its control API."""

import pytest
import requests


class Control:
    """The sandbox's control API (wecom/sandbox/__init__.py), as a test speaks it."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.state = sandbox.state

    def post(self, path: str, payload: dict | None = None) -> dict:
        response = requests.post(f"{self.sandbox.base_url}/sandbox/{path}", json=payload or {}, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, path: str) -> dict:
        return requests.get(f"{self.sandbox.base_url}/sandbox/{path}", timeout=5).json()

    def staff(self, userid: str) -> None:
        self.post("staff", {"userid": userid})

    def contact(self, external_userid: str, name: str, follow_user: list[dict]) -> dict:
        return self.post(
            "contacts", {"name": name, "external_userid": external_userid, "follow_user": follow_user}
        )

    def group(self, name: str, owner: str, members: list, notice: str = "", chat_id: str = "") -> str:
        data = {"name": name, "owner": owner, "members": members, "notice": notice}
        if chat_id:
            data["chat_id"] = chat_id
        return self.post("groups", data)["chat_id"]

    def calls(self) -> list[str]:
        return self.get("calls")["calls"]


@pytest.fixture
def corp(wecom_sandbox, manager, colleague):
    """The sandbox, with the manager (zhangsan) and the colleague (lisi) as staff with WeCom userids."""
    manager.wecom_userid = "zhangsan"
    manager.save(update_fields=["wecom_userid"])
    colleague.wecom_userid = "lisi"
    colleague.save(update_fields=["wecom_userid"])
    control = Control(wecom_sandbox)
    for userid in ("zhangsan", "lisi", "stranger"):
        control.staff(userid)
    return control
