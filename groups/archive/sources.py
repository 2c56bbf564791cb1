"""Where archived messages come from: `fetch(after_seq, limit)` gives the decrypted
messages whose sequence number follows `after_seq`, in sequence order.

The spool format is described in the package docstring (groups/archive/__init__.py).
"""

import base64
import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

# The most GetChatData hands out in one call.
FETCH_MAX = 1000
SPOOL_FILE = re.compile(r"^(\d{20})\.jsonl$")


@dataclass(frozen=True)
class ArchivedMessage:
    """One decrypted archive message (WeCom's JSON, as documented) and its sequence number."""

    seq: int
    data: dict[str, Any]

    def _str(self, name: str) -> str:
        value = self.data.get(name)
        return value if isinstance(value, str) else ""

    @property
    def msgid(self) -> str:
        return self._str("msgid")

    @property
    def action(self) -> str:
        return self._str("action") or "send"

    @property
    def msgtype(self) -> str:
        return self._str("msgtype")

    @property
    def roomid(self) -> str:
        return self._str("roomid")

    @property
    def sender(self) -> str:
        return self._str("from")

    @property
    def sent_at(self) -> datetime | None:
        msgtime = self.data.get("msgtime")
        if type(msgtime) is not int or msgtime <= 0:
            return None
        try:
            return datetime.fromtimestamp(msgtime / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None

    @property
    def text(self) -> str:
        body = self.data.get("text")
        content = body.get("content") if isinstance(body, dict) else None
        return content if isinstance(content, str) else ""

    @property
    def recalled_msgid(self) -> str:
        body = self.data.get("revoke")
        value = body.get("pre_msgid") if isinstance(body, dict) else None
        return value if isinstance(value, str) else ""


class ArchiveSource(Protocol):
    name: str

    def fetch(self, after_seq: int, limit: int) -> list[ArchivedMessage]: ...


def _spool_line(raw: bytes) -> ArchivedMessage | str:
    """The message on a spool line, or why the line is not one (never quoting it)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return "not JSON"
    if not isinstance(data, dict):
        return "not an object"
    seq = data.pop("seq", None)
    if type(seq) is not int or seq <= 0:
        return "no positive integer seq"
    if not isinstance(data.get("msgid"), str) or not data["msgid"]:
        return "no msgid"
    return ArchivedMessage(seq=seq, data=data)


class SpoolSource:
    """JSON-lines files that a separate SDK puller writes into a directory."""

    name = "spool"

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def _files(self) -> list[tuple[int, Path]]:
        try:
            entries = list(self.directory.iterdir())
        except FileNotFoundError:
            return []
        named = ((SPOOL_FILE.match(path.name), path) for path in entries)
        return sorted((int(match.group(1)), path) for match, path in named if match)

    def fetch(self, after_seq: int, limit: int) -> list[ArchivedMessage]:
        files = self._files()
        # A file holds the sequence numbers from its name up to the next file's:
        # those wholly at or before after_seq are not opened.
        start = 0
        for index in range(len(files) - 1):
            if files[index + 1][0] <= after_seq + 1:
                start = index + 1
        batch: list[ArchivedMessage] = []
        last_seq = after_seq
        for index in range(start, len(files)):
            path = files[index][1]
            is_last = index == len(files) - 1
            for lineno, raw in self._lines(path):
                if not raw.endswith(b"\n"):
                    if not is_last:
                        logger.warning("archive spool %s:%d: unterminated line skipped", path.name, lineno)
                    # In the last file it is still being written: read it next time.
                    break
                if not raw.strip():
                    continue
                message = _spool_line(raw)
                if isinstance(message, str):
                    logger.warning("archive spool %s:%d: line skipped (%s)", path.name, lineno, message)
                    continue
                if message.seq <= after_seq:
                    continue
                if message.seq <= last_seq:
                    logger.warning("archive spool %s:%d: line skipped (seq out of order)", path.name, lineno)
                    continue
                batch.append(message)
                last_seq = message.seq
                if len(batch) >= limit:
                    return batch
        return batch

    def _read_all(self, path: Path) -> list[ArchivedMessage]:
        rows = (_spool_line(raw) for _lineno, raw in self._lines(path) if raw.endswith(b"\n"))
        return [row for row in rows if not isinstance(row, str)]

    @staticmethod
    def _lines(path: Path):
        try:
            with path.open("rb") as handle:
                yield from enumerate(handle, start=1)
        except FileNotFoundError:
            return


class SpoolWriter:
    """The puller's side of the spool: each batch becomes one file, written under a
    hidden temporary name and renamed into place, so a reader never sees half a
    batch and a puller killed mid-write leaves nothing behind but a temporary file."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def last_seq(self) -> int:
        """The highest sequence number in the spool: where the puller resumes."""
        files = SpoolSource(self.directory)._files()
        for _first, path in reversed(files):
            seqs = [message.seq for message in SpoolSource(self.directory)._read_all(path)]
            if seqs:
                return max(seqs)
        return 0

    def write(self, batch: list[ArchivedMessage]) -> Path | None:
        if not batch:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{batch[0].seq:020d}.jsonl"
        temporary = self.directory / f".{path.name}.tmp"
        with temporary.open("w", encoding="utf-8") as handle:
            for message in batch:
                handle.write(json.dumps({"seq": message.seq, **message.data}, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        return path


class SdkSource:
    """WeCom's SDK in this process, through a binding with `get_chat_data(seq, limit)` and
    `decrypt_data(encrypt_key, encrypt_msg)` (pywecomarchive's WecomArchiveSdk).

    Each record's `encrypt_random_key` is opened with the corporation's RSA
    private key of its `publickey_ver` (PKCS#1 v1.5, as the documentation
    says); the SDK decrypts the message with it. A record whose key version
    has no private key stops the batch (ImproperlyConfigured) rather than
    being passed over: the cursor stays before it until the key is set.
    """

    name = "sdk"

    def __init__(self, *, sdk: Any, private_keys: dict[int, Any], decrypt_adapter: Any = None):
        self.sdk = sdk
        self.private_keys = private_keys
        self.decrypt_adapter = decrypt_adapter

    def _random_key(self, record: Any) -> str:
        from cryptography.hazmat.primitives.asymmetric import padding

        key = self.private_keys.get(record.publickey_ver)
        if key is None:
            raise ImproperlyConfigured(
                f"WECOM_ARCHIVE_PRIVATE_KEYS has no key for publickey_ver {record.publickey_ver}"
            )
        return key.decrypt(base64.b64decode(record.encrypt_random_key), padding.PKCS1v15()).decode("ascii")

    def fetch(self, after_seq: int, limit: int) -> list[ArchivedMessage]:
        response = self.sdk.get_chat_data(seq=after_seq, limit=min(limit, FETCH_MAX))
        batch: list[ArchivedMessage] = []
        for record in sorted(response.chatdata, key=lambda record: record.seq):
            if record.seq <= after_seq:
                continue
            extra = {"adapter": self.decrypt_adapter} if self.decrypt_adapter is not None else {}
            data = self.sdk.decrypt_data(self._random_key(record), record.encrypt_chat_msg, **extra)
            if not isinstance(data, dict):
                data = json.loads(data)
            data.setdefault("msgid", record.msgid)
            batch.append(ArchivedMessage(seq=record.seq, data=data))
        return batch


def _private_keys(spec: str) -> dict[int, Any]:
    """WECOM_ARCHIVE_PRIVATE_KEYS: `version:path` pairs, comma-separated, of PEM files."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    keys: dict[int, Any] = {}
    for pair in filter(None, (part.strip() for part in spec.split(","))):
        version, _, path = pair.partition(":")
        if not version.strip().isdigit() or not path.strip():
            raise ImproperlyConfigured(
                "WECOM_ARCHIVE_PRIVATE_KEYS must look like 1:/run/secrets/archive-v1.pem"
            )
        try:
            keys[int(version)] = load_pem_private_key(Path(path.strip()).read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"WECOM_ARCHIVE_PRIVATE_KEYS: cannot read the key of version {version.strip()}"
            ) from exc
    if not keys:
        raise ImproperlyConfigured("WECOM_ARCHIVE_SOURCE=sdk needs WECOM_ARCHIVE_PRIVATE_KEYS")
    return keys


def sdk_source() -> SdkSource:
    """The SDK source from the WECOM_ARCHIVE_* settings (ImproperlyConfigured when incomplete)."""
    try:
        from pydantic import TypeAdapter
        from pywecomarchive import WecomArchiveSdk
    except ImportError as exc:
        raise ImproperlyConfigured(
            "WECOM_ARCHIVE_SOURCE=sdk needs the pywecomarchive package (see README: chat archive)"
        ) from exc
    if not (settings.WECOM_ARCHIVE_CORP_ID and settings.WECOM_ARCHIVE_SECRET):
        raise ImproperlyConfigured(
            "WECOM_ARCHIVE_SOURCE=sdk needs WECOM_ARCHIVE_CORP_ID and WECOM_ARCHIVE_SECRET"
        )
    keys = _private_keys(settings.WECOM_ARCHIVE_PRIVATE_KEYS)
    sdk = WecomArchiveSdk(
        settings.WECOM_ARCHIVE_CORP_ID,
        settings.WECOM_ARCHIVE_SECRET,
        timeout=settings.OUTBOUND_HTTP_TIMEOUT,
    )
    return SdkSource(sdk=sdk, private_keys=keys, decrypt_adapter=TypeAdapter(dict[str, Any]))


def configured_source() -> ArchiveSource | None:
    """The source WECOM_ARCHIVE_SOURCE names, or None when the archive is not in use."""
    kind = settings.WECOM_ARCHIVE_SOURCE
    if kind == "spool":
        return SpoolSource(settings.WECOM_ARCHIVE_SPOOL_DIR)
    if kind == "sdk":
        return sdk_source()
    return None


def archive_configured() -> bool:
    """Whether group messages arrive from the chat archive (pages say what a reply does)."""
    return settings.WECOM_ARCHIVE_SOURCE != "none"
