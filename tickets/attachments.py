"""Pictures attached to an order: JPG, JPEG or PNG up to 5 MB (seed 000).

The type is decided by the file's content, not its name: a renamed program
is refused however it is called. A picture whose header claims more pixels
than a photo has (a "decompression bomb": a few kilobytes that unpack to
gigabytes) is refused before it is decoded.
"""

import warnings

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
# Pillow's own warning threshold (about 89 million pixels, e.g. 9,459×9,459); phone photos are far smaller.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS
ALLOWED = {"PNG": ("image/png", (".png",)), "JPEG": ("image/jpeg", (".jpg", ".jpeg"))}


def inspect_picture(upload: UploadedFile) -> str:
    """Return the content type of a valid picture, or raise ValidationError."""
    if upload.size > MAX_BYTES:
        raise ValidationError(_("图片不能超过5MB。"), code="too_large")
    name = (upload.name or "").lower()
    try:
        upload.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload) as image:
                kind = image.format
                if image.width * image.height > MAX_PIXELS:
                    raise Image.DecompressionBombError
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(
            _("图片尺寸过大（最多%(pixels)s像素）。") % {"pixels": f"{MAX_PIXELS:,}"}, code="too_many_pixels"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(_("只能上传JPG、JPEG或PNG格式的图片。"), code="not_a_picture") from None
    finally:
        upload.seek(0)
    if kind not in ALLOWED:
        raise ValidationError(_("只能上传JPG、JPEG或PNG格式的图片。"), code="not_a_picture")
    content_type, extensions = ALLOWED[kind]
    if not name.endswith(extensions):
        raise ValidationError(_("文件扩展名与图片内容不符。"), code="wrong_extension")
    return content_type
