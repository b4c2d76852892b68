"""Reading a multipart/form-data upload into memory, with its size held to a limit as it arrives.

python-multipart's low-level parser is fed the body chunk by chunk, so nothing is spooled to disk
and an oversized body is refused (413) from its Content-Length or, failing that, as soon as it has
grown past the limit. Malformed bodies are 400; a body that is not multipart/form-data is 415.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import HTTPException, Request
from python_multipart.multipart import MultipartParser, parse_options_header

_FORM_OVERHEAD = 64 * 1024  # bytes a multipart body may hold beyond the file (boundaries, headers, fields)
_MAX_FIELD_BYTES = 1024  # longest accepted text field (`model`, `size`)
_MAX_PARTS = 16  # most parts accepted in one multipart body


@dataclass
class Upload:
    """A multipart form read into memory."""

    filename: str = "upload"  # client's file name, without folders
    data: bytearray = field(default_factory=bytearray)  # the file's bytes
    fields: dict[str, str] = field(default_factory=dict)  # text fields
    has_file: bool = False  # a `file` part was present


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n < 1e9 else f"{n / 1e9:.2f} GB"


def _limit_text(limit: int) -> str:
    return f"{limit / 1e6:g} MB"


def _too_large(name: str | None, size: int | None, limit: int) -> HTTPException:
    what = f"{name}: file" if name else "upload"
    got = f" is {_megabytes(size)}," if size is not None else " is"
    return HTTPException(413, f"{what}{got} over the {_limit_text(limit)} upload limit")


def clean_filename(name: str | None) -> str:
    """The client's file name without folders or control characters, at most 120 characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[-120:] or "upload"


class _FormReader:
    """Feeds a multipart/form-data body to python-multipart, keeping everything in memory."""

    def __init__(self, boundary: bytes, max_file_bytes: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.upload = Upload()
        self.ended = False
        self._parts = 0
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._kind: str | None = None  # "file", "field" or None (ignored part)
        self._name = ""
        self._value = bytearray()
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        })

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > _MAX_PARTS:
            raise HTTPException(400, f"multipart body has more than {_MAX_PARTS} parts")
        self._headers, self._kind, self._value = {}, None, bytearray()

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b"").decode("latin-1"))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if name == "file":
            if self.upload.has_file:
                raise HTTPException(400, "more than one 'file' part; send one photo per request")
            self.upload.has_file = True
            self.upload.filename = clean_filename(params.get(b"filename", b"").decode("utf-8", "replace"))
            self._kind = "file"
        elif b"filename" not in params and name:
            self._kind, self._name = "field", name
        else:
            self._kind = None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._kind == "file":
            self.upload.data.extend(data[start:end])
            if len(self.upload.data) > self.max_file_bytes:
                raise _too_large(self.upload.filename, None, self.max_file_bytes)
        elif self._kind == "field":
            self._value.extend(data[start:end])
            if len(self._value) > _MAX_FIELD_BYTES:
                raise HTTPException(400, f"form field {self._name!r} is longer than {_MAX_FIELD_BYTES} bytes")

    def _part_end(self) -> None:
        if self._kind == "field":
            self.upload.fields[self._name] = self._value.decode("utf-8", "replace").strip()

    def _end(self) -> None:
        self.ended = True


async def read_upload(request: Request, max_file_bytes: int) -> Upload:
    """The request's multipart form, with the file's size held to `max_file_bytes` (HTTPException 413)
    by the Content-Length header when there is one and by counting bytes as they arrive in any case."""
    content_type, params = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data":
        got = content_type.decode("latin-1") or "no Content-Type"
        raise HTTPException(415, f"expected a multipart/form-data upload with a 'file' field, got {got}")
    boundary = params.get(b"boundary")
    if not boundary:
        raise HTTPException(400, "multipart/form-data without a boundary")
    max_body = max_file_bytes + _FORM_OVERHEAD
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise HTTPException(400, f"bad Content-Length {length!r}")
        if int(length) > max_body:
            raise _too_large(None, int(length), max_file_bytes)
    reader = _FormReader(boundary, max_file_bytes)
    received = 0
    try:
        async for chunk in request.stream():
            reader.parser.write(chunk)  # raises 413 naming the file once the file part is over the limit
            received += len(chunk)
            if received > max_body:  # a body whose bulk is not the file
                raise _too_large(None, None, max_file_bytes)
        reader.parser.finalize()
    except HTTPException:
        raise
    except Exception as exc:  # python-multipart's parse errors, a client that went away mid-body
        raise HTTPException(400, f"malformed multipart body ({type(exc).__name__}: {exc})") from None
    if not reader.ended:
        raise HTTPException(400, "incomplete multipart body (no closing boundary)")
    if not reader.upload.has_file:
        raise HTTPException(400, "no 'file' field in the upload")
    if not reader.upload.data:
        raise HTTPException(400, f"{reader.upload.filename}: empty file")
    return reader.upload
