"""Streaming ``multipart/form-data`` reader for recordings of several GB.

Starlette's form parser spools files to a temporary file in clear; a recording is health data,
so the file part is instead handed, piece by piece, to a sink that encrypts it on the fly. Only
the small text fields are kept in memory (each capped).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

MAX_FIELD_BYTES = 64 * 1024
_FLUSH_BYTES = 1024 * 1024


class FileSink(Protocol):
    async def write(self, data: bytes) -> None: ...


class MalformedFormError(Exception):
    """The body is not a usable multipart form; ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooLargeError(Exception):
    pass


@dataclass
class ParsedForm:
    fields: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None
    file_bytes: int = 0
    has_file: bool = False


@dataclass
class _State:
    file_field: str
    form: ParsedForm
    max_file_bytes: int
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    name: str | None = None
    in_file: bool = False
    field_value: bytearray = field(default_factory=bytearray)
    pending: list[bytes] = field(default_factory=list)
    pending_bytes: int = 0
    error: Exception | None = None


def _callbacks(state: _State) -> dict[str, Callable[..., None]]:
    def part_begin() -> None:
        state.headers.clear()
        state.name, state.in_file = None, False
        state.field_value.clear()

    def header_field(data: bytes, start: int, end: int) -> None:
        state.header_field += data[start:end]

    def header_value(data: bytes, start: int, end: int) -> None:
        state.header_value += data[start:end]

    def header_end() -> None:
        state.headers[bytes(state.header_field).lower()] = bytes(state.header_value)
        state.header_field.clear()
        state.header_value.clear()

    def headers_finished() -> None:
        _, params = parse_options_header(state.headers.get(b"content-disposition"))
        name = params.get(b"name")
        state.name = name.decode("utf-8", "replace") if name is not None else None
        if state.name == state.file_field:
            if state.form.has_file:
                state.error = MalformedFormError(
                    f"un seul champ « {state.file_field} » est accepté"
                )
                return
            state.in_file = True
            state.form.has_file = True
            filename = params.get(b"filename")
            state.form.file_name = filename.decode("utf-8", "replace") if filename else None

    def part_data(data: bytes, start: int, end: int) -> None:
        if state.error is not None:
            return
        if state.in_file:
            piece = data[start:end]
            state.form.file_bytes += len(piece)
            if state.form.file_bytes > state.max_file_bytes:
                state.error = TooLargeError()
                return
            state.pending.append(piece)
            state.pending_bytes += len(piece)
        elif state.name is not None:
            state.field_value += data[start:end]
            if len(state.field_value) > MAX_FIELD_BYTES:
                state.error = MalformedFormError(f"champ « {state.name} » trop long")

    def part_end() -> None:
        if state.name is not None and not state.in_file and state.error is None:
            state.form.fields[state.name] = state.field_value.decode("utf-8", "replace")

    return {
        "on_part_begin": part_begin,
        "on_header_field": header_field,
        "on_header_value": header_value,
        "on_header_end": header_end,
        "on_headers_finished": headers_finished,
        "on_part_data": part_data,
        "on_part_end": part_end,
    }


def boundary_of(content_type: str | None) -> bytes:
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise MalformedFormError("le corps doit être multipart/form-data")
    return boundary


async def read_form(
    body: AsyncIterator[bytes],
    content_type: str | None,
    *,
    file_field: str,
    open_sink: Callable[[], Awaitable[FileSink]],
    max_file_bytes: int,
) -> ParsedForm:
    """Parse the form; the bytes of ``file_field`` go to the sink opened on its first byte.

    Raises :class:`MalformedFormError` or :class:`TooLargeError`; the caller discards the sink.
    """
    state = _State(file_field=file_field, form=ParsedForm(), max_file_bytes=max_file_bytes)
    parser = MultipartParser(boundary_of(content_type), _callbacks(state))  # type: ignore[arg-type]
    sink: FileSink | None = None
    ended = False

    async def flush() -> None:
        nonlocal sink
        if not state.pending:
            return
        if sink is None:
            sink = await open_sink()
        data = b"".join(state.pending)
        state.pending.clear()
        state.pending_bytes = 0
        await sink.write(data)

    try:
        async for chunk in body:
            if not chunk:
                continue
            parser.write(chunk)
            if state.error is not None:
                raise state.error
            if state.pending_bytes >= _FLUSH_BYTES:
                await flush()
        parser.finalize()
        ended = True
    except FormParserError as exc:
        raise MalformedFormError("formulaire multipart illisible") from exc
    if state.error is not None:
        raise state.error
    if not ended or parser.state not in (MultipartState.END, MultipartState.END_BOUNDARY):
        # python-multipart accepts a body that stops early; a cut upload must not be stored.
        raise MalformedFormError("formulaire multipart incomplet")
    await flush()
    return state.form
