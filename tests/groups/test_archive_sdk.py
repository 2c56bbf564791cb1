"""The SDK side of the chat archive: records opened with the corporation's RSA key, the
puller that writes them to the spool, and the vendor binding where it is installed.

WeCom's SDK talks to WeCom over a private protocol of its own (no documented
HTTP API to stand in for), so these tests give SdkSource an object with the
binding's two calls, `get_chat_data(seq, limit)` and `decrypt_data(key, msg)`,
that checks it is handed the right key: the RSA step is the real one.
"""

import base64
import json
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from groups.archive import sources
from groups.archive.services import archive_pull
from groups.archive.sources import ArchivedMessage, SdkSource, SpoolSource, SpoolWriter
from groups.models import ArchiveCursor, GroupMessage


@pytest.fixture(scope="module")
def corp_keys():
    """The corporation's key pairs by public-key version (WeCom encrypts with the public half)."""
    return {version: rsa.generate_private_key(public_exponent=65537, key_size=2048) for version in (1, 2)}


class ArchiveSdk:
    """Speaks the binding's interface; decrypts only with the random key the record was sealed with."""

    def __init__(self, corp_keys, messages: list[tuple[int, int, dict]]):
        self.records, self.plain, self.calls = [], {}, []
        for seq, version, data in messages:
            random_key = f"key-{seq:04d}-0123456789abcdef"
            sealed = corp_keys[version].public_key().encrypt(random_key.encode(), padding.PKCS1v15())
            cipher = f"cipher-{seq}"
            self.plain[cipher] = (random_key, data)
            self.records.append(
                SimpleNamespace(
                    seq=seq,
                    msgid=data["msgid"],
                    publickey_ver=version,
                    encrypt_random_key=base64.b64encode(sealed).decode(),
                    encrypt_chat_msg=cipher,
                )
            )

    def get_chat_data(self, seq: int, limit: int):
        self.calls.append((seq, limit))
        return SimpleNamespace(chatdata=[record for record in self.records if record.seq > seq][:limit])

    def decrypt_data(self, encrypt_key: str, encrypt_msg: str, adapter=None):
        random_key, data = self.plain[encrypt_msg]
        if encrypt_key != random_key:
            raise ValueError("wrong key")
        return dict(data)


def message(msgid: str, text: str = "你好") -> dict:
    return {
        "msgid": msgid,
        "action": "send",
        "from": "wmCUSTOMER",
        "tolist": ["zhangsan"],
        "roomid": "wrROOM",
        "msgtime": 1733100000000,
        "msgtype": "text",
        "text": {"content": text},
    }


def test_records_are_opened_with_the_private_key_of_their_version(corp_keys):
    sdk = ArchiveSdk(corp_keys, [(3, 1, message("a")), (4, 2, message("b", "请问电费？"))])
    source = SdkSource(sdk=sdk, private_keys=corp_keys)

    batch = source.fetch(2, 1000)

    assert [(m.seq, m.msgid, m.text) for m in batch] == [(3, "a", "你好"), (4, "b", "请问电费？")]
    assert sdk.calls == [(2, 1000)]
    assert source.fetch(4, 5000) == [] and sdk.calls[-1] == (4, 1000)  # GetChatData takes at most 1000


@pytest.mark.django_db
def test_a_record_without_its_private_key_stops_the_batch_and_the_cursor_stays(corp_keys):
    sdk = ArchiveSdk(corp_keys, [(1, 1, message("a")), (2, 2, message("b"))])
    source = SdkSource(sdk=sdk, private_keys={1: corp_keys[1]})

    with pytest.raises(ImproperlyConfigured, match="publickey_ver 2"):
        archive_pull(source=source)

    assert ArchiveCursor.objects.get(source="sdk").seq == 0
    assert not GroupMessage.objects.exists()


def test_private_keys_are_read_by_version_and_bad_settings_are_refused(corp_keys, tmp_path):
    pem = corp_keys[1].private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    (tmp_path / "v1.pem").write_bytes(pem)

    keys = sources._private_keys(f"1:{tmp_path / 'v1.pem'}")

    assert keys[1].private_numbers() == corp_keys[1].private_numbers()
    for bad in ("", "one:/x.pem", f"2:{tmp_path / 'missing.pem'}", "3:"):
        with pytest.raises(ImproperlyConfigured):
            sources._private_keys(bad)


def test_the_sdk_source_needs_its_settings(settings):
    settings.WECOM_ARCHIVE_SOURCE = "sdk"
    settings.WECOM_ARCHIVE_CORP_ID = ""
    settings.WECOM_ARCHIVE_SECRET = ""
    with pytest.raises(ImproperlyConfigured):
        sources.configured_source()


def test_the_writer_puts_each_batch_in_place_whole_and_the_reader_reads_it(tmp_path):
    writer = SpoolWriter(tmp_path)
    assert writer.last_seq() == 0
    writer.write([ArchivedMessage(seq=seq, data=message(f"m{seq}")) for seq in (1, 2)])
    (tmp_path / f".{3:020d}.jsonl.tmp").write_text('{"seq": 3, "msgid": "half')  # a puller killed mid-write
    writer.write([ArchivedMessage(seq=5, data=message("m5", "请问？"))])

    assert writer.last_seq() == 5
    read = SpoolSource(tmp_path).fetch(0, 10)
    assert [(m.seq, m.msgid) for m in read] == [(1, "m1"), (2, "m2"), (5, "m5")]
    assert (
        json.loads((tmp_path / f"{5:020d}.jsonl").read_text(encoding="utf-8"))["text"]["content"] == "请问？"
    )


def test_the_puller_command_writes_what_the_sdk_has_after_the_spool(
    corp_keys, tmp_path, settings, monkeypatch
):
    settings.WECOM_ARCHIVE_SPOOL_DIR = str(tmp_path)
    settings.WECOM_ARCHIVE_BATCH = 2
    sdk = ArchiveSdk(corp_keys, [(seq, 1, message(f"m{seq}")) for seq in (1, 2, 3)])
    monkeypatch.setattr(
        "groups.management.commands.archive_spool_pull.sdk_source",
        lambda: SdkSource(sdk=sdk, private_keys=corp_keys),
    )

    call_command("archive_spool_pull", "--once")
    call_command("archive_spool_pull", "--once")

    assert sorted(path.name for path in tmp_path.iterdir()) == [f"{1:020d}.jsonl", f"{3:020d}.jsonl"]
    assert [m.seq for m in SpoolSource(tmp_path).fetch(0, 10)] == [1, 2, 3]
    assert [seq for seq, _limit in sdk.calls] == [0, 2, 3, 3]


def test_the_vendor_binding_loads_and_reports_that_wecom_cannot_be_reached():
    """With pywecomarchive installed: WeCom's library loads here and a pull fails as a
    network error (WeCom is out of reach from this machine), not as a crash."""
    binding = pytest.importorskip("pywecomarchive")
    sdk = binding.WecomArchiveSdk("wwarchivetest", "secret", timeout=2)
    try:
        with pytest.raises(binding.SdkCallError):
            sdk.get_chat_data(seq=0, limit=10)
    finally:
        sdk.close()
