import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tickets import services
from tickets.models import Attachment


def png_bytes(size=(40, 30), pad_to: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "orange").save(buffer, format="PNG")
    data = buffer.getvalue()
    # PNG readers ignore bytes after IEND, so padding makes a big valid file.
    return data + b"\0" * max(0, pad_to - len(data))


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_a_png_under_5mb_is_accepted(open_ticket, manager):
    ticket = open_ticket()
    upload = SimpleUploadedFile("现场照片.png", png_bytes(pad_to=4 * 1024 * 1024))
    attachment = services.attachment_add(ticket=ticket, by=manager, upload=upload)
    assert attachment.content_type == "image/png"
    assert attachment.size == 4 * 1024 * 1024
    assert ticket.events.filter(action="attached").count() == 1


def test_a_jpeg_is_accepted(open_ticket, manager):
    upload = SimpleUploadedFile("meter.JPG", jpeg_bytes())
    assert (
        services.attachment_add(ticket=open_ticket(), by=manager, upload=upload).content_type == "image/jpeg"
    )


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("big.png", png_bytes(pad_to=6 * 1024 * 1024), "5MB"),
        ("setup.png", b"MZ\x90\x00" + b"\0" * 2000, "JPG、JPEG或PNG"),
        ("photo.gif", b"GIF89a" + b"\0" * 100, "JPG、JPEG或PNG"),
        ("photo.exe", png_bytes(), "扩展名"),
    ],
)
def test_anything_else_is_refused_with_a_clear_message(open_ticket, manager, name, content, message):
    ticket = open_ticket()
    with pytest.raises(ValidationError) as err:
        services.attachment_add(ticket=ticket, by=manager, upload=SimpleUploadedFile(name, content))
    assert message in err.value.messages[0]
    assert not Attachment.objects.exists()


def test_an_outsider_cannot_attach(open_ticket, outsider):
    with pytest.raises(PermissionDenied):
        services.attachment_add(
            ticket=open_ticket(), by=outsider, upload=SimpleUploadedFile("a.png", png_bytes())
        )
