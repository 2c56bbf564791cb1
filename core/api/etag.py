"""ETags and conditional writes for resources with a `version` (ARCHITECTURE rule 7).

A versioned resource's ETag is the strong tag `"<id>-<version>"`; the version
goes up with every write to the row (database triggers, see Customer.version).

- GET of a detail answers with `ETag`; `If-None-Match` naming it answers 304.
- PUT, PATCH and DELETE take an optional `If-Match`. Without it the write
  applies to whatever is stored. With it, the write applies only if the
  stored version is one the header names, compared against the row locked
  (SELECT ... FOR UPDATE) inside the write's own transaction: of any number of
  writers holding the same ETag exactly one succeeds, the others get 412
  Precondition Failed with the current ETag, and nothing of theirs is saved.
  `*` matches any stored version. A weak form (`W/"..."`) is compared by its
  opaque part, because compressing proxies weaken ETags on the way out.
- Write responses carry the new ETag.
"""

import re

from rest_framework import status
from rest_framework.response import Response

_TAG = re.compile(r'^(?:W/)?"(\d+)-(\d+)"$')


def versioned_etag(pk: int, version: int) -> str:
    return f'"{pk}-{version}"'


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def if_match_versions(header: str | None, *, pk: int) -> frozenset[int] | None:
    """The versions an `If-Match` header accepts for object `pk`; None when any version will do.

    Tags that name another object or cannot be read accept nothing, so a
    header made only of those always fails the precondition.
    """
    if header is None:
        return None
    tags = _tags(header)
    if "*" in tags:
        return None
    versions = set()
    for tag in tags:
        match = _TAG.match(tag)
        if match and int(match.group(1)) == pk:
            versions.add(int(match.group(2)))
    return frozenset(versions)


def etag_in(header: str | None, etag: str) -> bool:
    """Weak comparison, as If-None-Match wants it."""
    if not header:
        return False
    tags = _tags(header)
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)


class ETagMixin:
    """For a ModelViewSet whose representation has `id` and `version`."""

    etag_actions = frozenset({"retrieve", "create", "update", "partial_update"})

    def if_match_versions(self, instance) -> frozenset[int] | None:
        return if_match_versions(self.request.headers.get("If-Match"), pk=instance.pk)

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        etag = versioned_etag(instance.pk, instance.version)
        if etag_in(request.headers.get("If-None-Match"), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(self.get_serializer(instance).data)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        data = getattr(response, "data", None)
        if (
            getattr(self, "action", None) in self.etag_actions
            and status.is_success(response.status_code)
            and isinstance(data, dict)
            and "id" in data
            and "version" in data
        ):
            response["ETag"] = versioned_etag(data["id"], data["version"])
        return response
