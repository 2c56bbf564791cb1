"""The sandbox posts signed, encrypted callbacks to a running CRM, as WeCom does."""

import pytest
import requests

from tests.wecom.conftest import CALLBACK_AES_KEY, CALLBACK_TOKEN
from wecom.models import CallbackEvent


@pytest.mark.django_db(transaction=True)
def test_group_changes_reach_the_crm_as_callbacks(live_server, wecom_sandbox, monkeypatch):
    monkeypatch.setattr("wecom.services._publish", lambda event_id: None)
    wecom_sandbox.set_callback(
        url=f"{live_server.url}/wecom/callback/", token=CALLBACK_TOKEN, aes_key=CALLBACK_AES_KEY
    )
    control = f"{wecom_sandbox.base_url}/sandbox"
    requests.post(f"{control}/staff", json={"userid": "zhangsan"}, timeout=5)
    chat = requests.post(
        f"{control}/groups", json={"name": "雷山服务群", "owner": "zhangsan", "members": ["wmA"]}, timeout=10
    ).json()
    requests.post(
        f"{control}/groups/{chat['chat_id']}/members", json={"add": ["wmB"], "remove": ["wmA"]}, timeout=10
    )
    requests.post(f"{control}/groups/{chat['chat_id']}/rename", json={"name": "雷山供电服务群"}, timeout=10)

    callbacks = requests.get(f"{control}/callbacks", timeout=5).json()["callbacks"]
    assert [c["status"] for c in callbacks] == [200, 200, 200, 200]
    stored = list(CallbackEvent.objects.order_by("id").values_list("change_type", "payload"))
    assert [(change, payload.get("UpdateDetail", "")) for change, payload in stored] == [
        ("create", ""),
        ("update", "add_member"),
        ("update", "del_member"),
        ("update", "change_name"),
    ]
    assert stored[1][1]["MemChangeList"] == ["wmB"] and stored[1][1]["ChatId"] == chat["chat_id"]
