"""/wecom/callback/: WeCom's URL check, events stored once, refused when not WeCom's."""

import time
from urllib.parse import urlencode

import pytest

from tests.wecom.conftest import CALLBACK_AES_KEY, CALLBACK_TOKEN
from wecom import events
from wecom.crypto import CallbackCrypto
from wecom.models import CallbackEvent
from wecom.services import callback_event_process, callback_events_process_due

pytestmark = pytest.mark.django_db

URL = "/wecom/callback/"


def crypto(settings) -> CallbackCrypto:
    return CallbackCrypto(
        token=CALLBACK_TOKEN, encoding_aes_key=CALLBACK_AES_KEY, receive_id=settings.WECOM_CORP_ID
    )


def post(client, request):
    return client.post(f"{URL}?{urlencode(request['query'])}", request["body"], content_type="text/xml")


@pytest.fixture
def chat_event(wecom_sandbox):
    """A signed change_external_chat/add_member callback as WeCom would POST it."""
    return wecom_sandbox.signed_callback(
        "change_external_chat",
        {
            "ChatId": "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA",
            "ChangeType": "update",
            "UpdateDetail": "add_member",
            "JoinScene": 1,
            "MemChangeCnt": 2,
            "MemChangeList": ["wmCustomer1", "wmCustomer2"],
        },
    )


@pytest.fixture
def recorded():
    """A handler for change_external_chat that records what it was given."""
    seen = []

    def handler(event):
        seen.append((event.event, event.change_type, event.payload))

    events.event_handler("change_external_chat")(handler)
    yield seen
    events.unregister("change_external_chat", handler)


def test_url_verification_echoes_the_decrypted_echostr(client, settings, wecom_sandbox):
    timestamp, nonce = str(int(time.time())), "123456"
    echostr, signature = crypto(settings).encrypt_and_sign("8345276419", timestamp=timestamp, nonce=nonce)
    query = {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce, "echostr": echostr}
    response = client.get(URL, query)
    assert response.status_code == 200
    assert response.content == b"8345276419"
    response = client.get(URL, {**query, "msg_signature": "0" * 40})
    assert response.status_code == 403


def test_url_verification_needs_every_parameter(client, wecom_sandbox):
    assert client.get(URL, {"timestamp": str(int(time.time())), "nonce": "1"}).status_code == 400


def test_an_event_is_stored_answered_and_processed_after_commit(
    client, wecom_sandbox, chat_event, recorded, django_capture_on_commit_callbacks, monkeypatch
):
    kicked = []
    monkeypatch.setattr("wecom.services._publish", kicked.append)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, chat_event)
    assert response.status_code == 200 and response.content == b"success"
    event = CallbackEvent.objects.get()
    assert (event.event, event.change_type, event.status) == ("change_external_chat", "update", "pending")
    assert event.payload["MemChangeList"] == ["wmCustomer1", "wmCustomer2"]
    assert event.payload["ChatId"] == "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
    assert kicked == [event.pk]
    assert recorded == []  # not in the request: WeCom waits 5 s at most

    assert callback_event_process(event_id=event.pk) == "done"
    assert recorded == [("change_external_chat", "update", event.payload)]
    # Running it again (a redelivered task) does nothing.
    assert callback_event_process(event_id=event.pk) is None
    assert len(recorded) == 1


def test_a_retried_callback_is_stored_once(client, wecom_sandbox, chat_event):
    assert post(client, chat_event).status_code == 200
    assert post(client, chat_event).status_code == 200
    assert CallbackEvent.objects.count() == 1


def test_the_same_event_encrypted_again_is_still_stored_once(client, settings, wecom_sandbox):
    message = "<xml><Event><![CDATA[change_external_contact]]></Event><CreateTime>1</CreateTime></xml>"
    for nonce in ("1", "2"):
        timestamp = str(int(time.time()))
        encrypted, signature = crypto(settings).encrypt_and_sign(message, timestamp=timestamp, nonce=nonce)
        body = f"<xml><ToUserName>x</ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        query = {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}
        assert post(client, {"query": query, "body": body}).status_code == 200
    assert CallbackEvent.objects.count() == 1


def test_an_old_timestamp_is_a_replay(client, settings, wecom_sandbox):
    timestamp = str(int(time.time()) - settings.WECOM_CALLBACK_MAX_AGE_SECONDS - 5)
    encrypted, signature = crypto(settings).encrypt_and_sign(
        "<xml><Event>x</Event></xml>", timestamp=timestamp, nonce="1"
    )
    body = f"<xml><Encrypt>{encrypted}</Encrypt></xml>"
    query = {"msg_signature": signature, "timestamp": timestamp, "nonce": "1"}
    assert post(client, {"query": query, "body": body}).status_code == 400
    assert not CallbackEvent.objects.exists()


def test_a_bad_signature_is_refused(client, wecom_sandbox, chat_event):
    forged = {**chat_event, "query": {**chat_event["query"], "msg_signature": "f" * 40}}
    assert post(client, forged).status_code == 403
    assert not CallbackEvent.objects.exists()
    # The same request, correctly signed, is accepted: the signature was the point.
    assert post(client, chat_event).status_code == 200


def test_a_body_signed_with_another_token_is_refused(client, settings, wecom_sandbox, chat_event):
    settings.WECOM_CALLBACK_TOKEN = "another-token"
    assert post(client, chat_event).status_code == 403
    assert not CallbackEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        "<xml><Encrypt>",
        "not xml at all",
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>',
        "<xml><ToUserName>x</ToUserName></xml>",
    ],
)
def test_broken_xml_is_refused(client, wecom_sandbox, chat_event, body):
    assert post(client, {**chat_event, "body": body}).status_code == 400
    assert not CallbackEvent.objects.exists()


def test_missing_parameters_are_refused(client, wecom_sandbox, chat_event):
    query = {key: value for key, value in chat_event["query"].items() if key != "nonce"}
    assert post(client, {**chat_event, "query": query}).status_code == 400
    assert not CallbackEvent.objects.exists()


def test_callbacks_are_refused_when_not_configured(client, settings, wecom_sandbox, chat_event):
    settings.WECOM_CALLBACK_AES_KEY = ""
    assert post(client, chat_event).status_code == 404
    assert not CallbackEvent.objects.exists()


def test_an_event_without_handler_is_ignored(client, wecom_sandbox, caplog):
    # Tag changes: an event no app registers a handler for (groups handles contacts and chats).
    request = wecom_sandbox.signed_callback(
        "change_external_tag", {"ChangeType": "create", "Id": "etTag1", "TagType": "tag"}
    )
    assert post(client, request).status_code == 200
    event = CallbackEvent.objects.get()
    caplog.set_level("INFO")
    assert callback_event_process(event_id=event.pk) == "ignored"
    assert "has no handler" in caplog.text


def test_a_failing_handler_is_retried_later_then_given_up(client, wecom_sandbox, chat_event):
    def broken(event):
        raise RuntimeError("database said no")

    events.event_handler("change_external_chat")(broken)
    try:
        post(client, chat_event)
        event = CallbackEvent.objects.get()
        assert callback_event_process(event_id=event.pk) == "pending"
        event.refresh_from_db()
        assert event.attempts == 1 and event.next_attempt_at > event.received_at
        assert "RuntimeError" in event.last_error
        # Not due yet: the sweep leaves it.
        assert callback_events_process_due() == 0
        for _ in range(4):
            CallbackEvent.objects.filter(pk=event.pk).update(next_attempt_at=event.received_at)
            callback_events_process_due()
        event.refresh_from_db()
        assert event.status == "failed" and event.attempts == 5
    finally:
        events.unregister("change_external_chat", broken)


def test_the_sweep_takes_over_an_event_whose_worker_died(client, wecom_sandbox, chat_event, recorded):
    post(client, chat_event)
    event = CallbackEvent.objects.get()
    # A worker claimed it and died: its lease runs out.
    CallbackEvent.objects.filter(pk=event.pk).update(status="processing", lease_expires_at=event.received_at)
    assert callback_events_process_due() == 1
    assert CallbackEvent.objects.get().status == "done" and len(recorded) == 1
