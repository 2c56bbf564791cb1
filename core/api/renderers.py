"""Renderers beyond DRF's JSON."""

import json

from rest_framework import renderers


class NDJSONRenderer(renderers.BaseRenderer):
    """`application/x-ndjson` (`?format=ndjson`): newline-delimited JSON.

    A view that offers it streams its own lines; this renders what else it may
    answer once negotiated (an object becomes one line).
    """

    media_type = "application/x-ndjson"
    format = "ndjson"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
