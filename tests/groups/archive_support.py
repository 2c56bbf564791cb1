"""What the chat-archive tests share: WeCom ids and messages in the spool's format."""

import json
from pathlib import Path

ROOM = "wrOgQhDgAAcwMTB7YmDkbeBsgT_AAAAA"
CUSTOMER_ID = "wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA"
STAFF_ID = "zhangsan"


def ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def text_message(seq: int, msgid: str, sender: str, text: str, at, room: str = ROOM) -> dict:
    """A decrypted archive message as WeCom documents it, with its seq, as the spool holds it."""
    return {
        "seq": seq,
        "msgid": msgid,
        "action": "send",
        "from": sender,
        "tolist": ["lisi"],
        "roomid": room,
        "msgtime": ms(at),
        "msgtype": "text",
        "text": {"content": text},
    }


def write_spool(
    directory: Path, messages: list[dict], *, first_seq: int | None = None, tail: str = ""
) -> Path:
    first = first_seq if first_seq is not None else (messages[0]["seq"] if messages else 1)
    path = directory / f"{first:020d}.jsonl"
    with path.open("a", encoding="utf-8") as handle:
        for message in messages:
            handle.write(json.dumps(message, ensure_ascii=False) + "\n")
        handle.write(tail)
    return path
