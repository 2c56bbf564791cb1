"""Hostile input on work-order pages and uploads: a clear error, never a 500."""

import io
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from tickets import services
from tickets.models import Attachment

TOO_BIG = "图片尺寸过大"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def huge_png() -> bytes:
    """A real 20,000×20,000 PNG (one colour, so it compresses to about 1 MB)."""
    buffer = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims width×height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


@pytest.mark.parametrize("make", [huge_png, lambda: png_claiming(60_000, 60_000)], ids=["real", "claimed"])
def test_a_decompression_bomb_is_refused_with_a_clear_message(open_ticket, manager, make):
    ticket = open_ticket()

    with pytest.raises(ValidationError) as refused:
        services.attachment_add(ticket=ticket, by=manager, upload=SimpleUploadedFile("bomb.png", make()))

    assert TOO_BIG in refused.value.messages[0]
    assert Attachment.objects.count() == 0


def test_the_page_refuses_a_bomb_in_chinese(login, open_ticket, manager):
    ticket = open_ticket()
    upload = SimpleUploadedFile("bomb.png", png_claiming(60_000, 60_000))

    response = login(manager).post(
        reverse("tickets:action", args=[ticket.number, "attach"]), {"upload": upload}
    )

    assert response.status_code in (200, 400)
    assert TOO_BIG in response.content.decode()
    assert Attachment.objects.count() == 0


@pytest.mark.parametrize("param", ["page", "after", "before"])
@pytest.mark.parametrize("value", [str(2**63), str(2**64), "9" * 40, "-" + "9" * 40])
def test_page_numbers_beyond_a_bigint_show_the_list(login, manager, open_ticket, param, value):
    open_ticket()
    assert login(manager).get(reverse("tickets:list"), {param: value}).status_code == 200


@pytest.mark.parametrize("q", ["%00", "a%1B[31m", "%ED%A0%80"])
def test_a_search_that_is_not_text_shows_the_list(login, manager, open_ticket, q):
    open_ticket()
    assert login(manager).get(f"{reverse('tickets:list')}?q={q}").status_code == 200
