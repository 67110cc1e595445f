"""Reading an image upload the way X does: from a multipart body, by its bytes, within X's limits.

The multipart reader is small and exact on purpose: the emulator must not depend on
python-multipart (not a relay dependency) and must hand back the image bytes unchanged, so a
client that corrupts them is caught. The type comes from the file's magic bytes, not from the
declared ``media_type``, because X looks at the content.
"""

from __future__ import annotations

import re

MB = 1024 * 1024
IMAGE_LIMITS = {"image/jpeg": 5 * MB, "image/png": 5 * MB, "image/webp": 5 * MB, "image/gif": 15 * MB}
"""X's upload limits: images 5 MB, GIF 15 MB (https://docs.x.com/x-api/media, "Media types & size")."""
MEDIA_CATEGORIES = frozenset({"tweet_image", "dm_image", "subtitles"})
"""The categories the v2 one-shot ``POST /2/media/upload`` accepts (its API reference)."""
ONE_SHOT_MEDIA_TYPES = (
    "text/srt", "text/vtt", "image/jpeg", "image/bmp", "image/png", "image/webp", "image/pjpeg", "image/tiff",
)
"""``media_type`` values of the one-shot upload (its API reference): no ``image/gif``, no video; those
go through the chunked upload (``/2/media/upload/initialize``, ``/append``, ``/finalize``)."""
UPLOAD_MEDIA_TYPES = (
    "video/mp4", "video/webm", "video/mp2t", "video/quicktime", "text/srt", "text/vtt", "image/jpeg", "image/gif",
    "image/bmp", "image/png", "image/webp", "image/pjpeg", "image/tiff", "model/gltf-binary", "model/vnd.usdz+zip",
)
"""``media_type`` values of ``POST /2/media/upload/initialize`` (its API reference)."""
CHUNKED_CATEGORIES = (
    "amplify_video", "tweet_gif", "tweet_image", "tweet_video", "dm_gif", "dm_image", "dm_video", "subtitles",
)
"""``media_category`` values of ``POST /2/media/upload/initialize`` (its API reference)."""
CHUNKED_LIMITS = {
    "tweet_image": 5 * MB, "dm_image": 5 * MB, "tweet_gif": 15 * MB, "dm_gif": 15 * MB,
    "tweet_video": 512 * MB, "dm_video": 512 * MB, "amplify_video": 512 * MB,
}
"""Size limits per category: images 5 MB, GIFs 15 MB, videos 512 MB (X's media docs)."""

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_DISPOSITION_NAME = re.compile(rb'name="([^"]*)"', re.IGNORECASE)


class MultipartError(ValueError):
    """The body is not a multipart/form-data body this reader understands."""


def read_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """The form fields of a multipart/form-data body, by name (the last one wins)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise MultipartError("the request is not multipart/form-data")
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise MultipartError("multipart/form-data without a boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    fields: dict[str, bytes] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, separator, value = chunk.partition(b"\r\n\r\n")
        if not separator:
            raise MultipartError("a multipart part has no header/body separator")
        name = _DISPOSITION_NAME.search(head)
        if name is None:
            raise MultipartError("a multipart part has no name")
        fields[name.group(1).decode("utf-8")] = value
    return fields


def sniff_image_type(data: bytes) -> str | None:
    """The MIME type of a JPEG, PNG, GIF or WebP image, from its first bytes; None for others."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_image(data: bytes, category: str | None) -> tuple[str, list[str]]:
    """The sniffed MIME type and the problems X would refuse the upload for (empty when fine)."""
    problems: list[str] = []
    if category is None:
        problems.append("The `media_category` field is required.")
    elif category not in MEDIA_CATEGORIES:
        problems.append(f"The `media_category` value [{category}] is not one of {sorted(MEDIA_CATEGORIES)}.")
    if not data:
        problems.append("The `media` field is required and must not be empty.")
        return "", problems
    mime = sniff_image_type(data)
    if mime is None:
        problems.append("Unsupported media type: only JPEG, PNG, GIF and WEBP images are accepted.")
        return "", problems
    if len(data) > IMAGE_LIMITS[mime]:
        limit = IMAGE_LIMITS[mime] // MB
        problems.append(f"File size exceeds {limit} MB: {mime} uploads are limited to {IMAGE_LIMITS[mime]} bytes.")
    return mime, problems
