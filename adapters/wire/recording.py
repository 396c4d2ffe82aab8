"""Reading a recorded event stream incrementally, one record at a time.

Theory of operation
-------------------
A recording file holds JSON Lines (one response per line), a JSON array of
responses, one JSON response (over one line or many), or raw XML event
responses (one ``<events>`` document after another, as the channel answered
them). The first byte that is not white space decides: ``[`` an array, ``<``
XML, anything else lines. :func:`iter_values` yields each top-level value with
the line it starts on, reading the file as it goes: memory holds one record,
never the file, and each record is decoded exactly once.

* JSON Lines are read line by line (``readline`` bounded by
  :data:`MAX_RECORD`). When the first line does not parse alone, the file is
  one document over several lines, read whole (within the same limit).
* A JSON array is cut into its elements by the standard library's
  ``JSONDecoder.raw_decode`` on a sliding text buffer: each element is decoded
  once, where it stands, and the buffer only counts the newlines it moves
  over, so time is linear in the file. An incremental parser such as ijson
  (measured with its yajl2_c backend) was the other candidate; it reports no positions, so
  a violation in a pretty-printed array could no longer name its line, which
  is what the report's ``source`` promises. raw_decode is C code, as fast as
  ``json.loads``.
* XML: each document ends at its ``</events>`` end tag; its bytes are the
  response body, judged by :func:`adapters.wire.events.parse_events` like any
  raw body (a malformed one is a violation, not an unreadable file).

Decoding. With the ``fast`` extra installed (orjson), a JSON line is decoded
by ``orjson.loads``; anything orjson refuses (a lone surrogate escape,
``NaN``) is decoded again by ``json``, which gives the standard library's
value or error, and a line with a run of 20 digits goes to ``json`` directly
(orjson reads an integer beyond 64 bits as a float): both paths give the same records
(``tests/routing/test_replay_stream.py``). ``USE_ORJSON`` switches it off.

Limits. A record (a line, an array element, an XML document) longer than
:data:`MAX_RECORD` bytes is refused with its file and line: a response body
is at most :data:`adapters.wire.events.MAX_EVENTS_BODY` (4 MiB), and a record
that wraps a raw body in a JSON string may escape it to about twice that.
Everything unreadable (not UTF-8, not JSON, truncated, too long) raises
:class:`RecordError`, which names the file and line.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import IO, Any, Final

from fsm.errors import CallFsmError

try:  # the ``fast`` extra
    import orjson
except ImportError:  # pragma: no cover - exercised where the extra is absent
    orjson = None  # type: ignore[assignment]

#: Largest record accepted, in bytes (8 MiB: a 4 MiB body, escaped in a JSON string).
MAX_RECORD: Final = 8 * 1024 * 1024
#: Decode JSON Lines with orjson when it is installed (same values, see the module doc).
USE_ORJSON: bool = orjson is not None

_CHUNK: Final = 64 * 1024
_BOM: Final = b"\xef\xbb\xbf"
_SPACE: Final = b" \t\r\n"
#: A run of 20 digits, found as 20 zeros once every digit reads as a zero (two C passes; a regular
#: expression took ~20 µs per KiB).
_DIGITS_AS_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN: Final = b"0" * 20
_XML_END: Final = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?events\s*>")


class RecordError(CallFsmError, ValueError):
    """The recording cannot be read: names the file and line."""


def iter_values(stream: IO[bytes], name: str) -> Iterator[tuple[object, int, bool]]:
    """Each record as ``(value, line, raw_xml)``: a decoded JSON value, or (``raw_xml``) one XML document's bytes."""
    reader = _Reader(stream, name)
    first = reader.first_byte()
    if first is None:
        raise RecordError(f"{name}: empty: no event-channel response in it")
    if first == b"[":
        for value, line in reader.array():
            yield value, line, False
    elif first == b"<":
        for body, line in reader.xml():
            yield body, line, True
    else:
        for value, line in reader.lines():
            yield value, line, False


def loads_line(raw: bytes) -> Any:
    """One JSON text (bytes, UTF-8): orjson when allowed and it agrees, else ``json``; ``json``'s errors."""
    # orjson reads an integer beyond 64 bits as a float, json as an int: such a line (or one with a
    # run of 20 digits anywhere, even in a string: rare, and json is right for it too) goes to json
    if USE_ORJSON and orjson is not None and _LONG_RUN not in raw.translate(_DIGITS_AS_ZERO):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # json decides: it may accept it (NaN, lone surrogates) or says why not
    return json.loads(raw.decode("utf-8"))


def _why(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc) or type(exc).__name__


class _Reader:
    def __init__(self, stream: IO[bytes], name: str) -> None:
        self.stream = stream
        self.name = name
        #: Bytes read but not consumed yet (the head of the file).
        self.head = b""
        #: Lines fully consumed before ``head``.
        self.line = 1

    def _too_long(self, line: int) -> RecordError:
        return RecordError(f"{self.name}:{line}: a record longer than the limit of {MAX_RECORD} bytes")

    def first_byte(self) -> bytes | None:
        """Skip a BOM and white space; the first other byte, or None at the end."""
        head = self.stream.read(_CHUNK)
        if head.startswith(_BOM):
            head = head[len(_BOM) :]
        while True:
            stripped = head.lstrip(_SPACE)
            self.line += head.count(b"\n", 0, len(head) - len(stripped))
            if stripped:
                self.head = stripped
                return stripped[:1]
            head = self.stream.read(_CHUNK)
            if not head:
                return None

    # -- JSON Lines -----------------------------------------------------------------------

    def _readline(self) -> bytes:
        if self.head:
            cut = self.head.find(b"\n")
            if cut >= 0:
                raw, self.head = self.head[: cut + 1], self.head[cut + 1 :]
                return raw
            raw, self.head = self.head, b""
            if len(raw) > MAX_RECORD:
                return raw
            return raw + self.stream.readline(MAX_RECORD + 1 - len(raw))
        return self.stream.readline(MAX_RECORD + 1)

    def lines(self) -> Iterator[tuple[object, int]]:
        first = True
        while True:
            raw = self._readline()
            if not raw:
                return
            number = self.line
            self.line += 1
            if len(raw) > MAX_RECORD and not (len(raw) == MAX_RECORD + 1 and raw.endswith(b"\n")):
                raise self._too_long(number)
            if not raw.strip(_SPACE):
                continue
            try:
                value = loads_line(raw)
            except UnicodeDecodeError as exc:
                raise RecordError(
                    f"{self.name}:{number}: not UTF-8 text ({exc.reason} at byte {exc.start} of the line)"
                ) from None
            except (ValueError, RecursionError) as exc:
                if first:
                    yield self._one_document(raw, number, exc)
                    return
                raise RecordError(f"{self.name}:{number}: not JSON: {_why(exc)}") from None
            first = False
            yield value, number

    def _one_document(self, raw: bytes, number: int, line_error: BaseException) -> tuple[object, int]:
        """The first line is not JSON alone: the file may be one document over many lines."""
        whole = raw + self.head
        self.head = b""
        if len(whole) <= MAX_RECORD:
            whole += self.stream.read(MAX_RECORD + 1 - len(whole))
        if len(whole) > MAX_RECORD:
            raise self._too_long(number)
        try:
            text = whole.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = number + whole.count(b"\n", 0, exc.start)
            raise RecordError(f"{self.name}:{line}: not UTF-8 text ({exc.reason})") from None
        try:
            return json.loads(text), number
        except json.JSONDecodeError as exc:
            # most likely one document over many lines: its own error says where
            raise RecordError(f"{self.name}:{number + exc.lineno - 1}: not JSON: {exc.msg}") from None
        except (ValueError, RecursionError):
            raise RecordError(f"{self.name}:{number}: not JSON: {_why(line_error)}") from None

    # -- a JSON array ---------------------------------------------------------------------

    def array(self) -> Iterator[tuple[object, int]]:
        decoder = json.JSONDecoder()
        text = _Text(self)
        text.expect("[")
        text.skip_space()
        if text.peek() == "]":
            text.pos += 1
            text.end_of_file("the array")
            return
        while True:
            text.skip_space()
            line = text.line
            yield text.value(decoder), line
            text.skip_space()
            char = text.peek()
            if char == ",":
                text.pos += 1
            elif char == "]":
                text.pos += 1
                text.end_of_file("the array")
                return
            elif char == "":
                raise RecordError(f"{self.name}:{text.line}: not JSON: the array ends early (truncated?)")
            else:
                raise RecordError(f"{self.name}:{text.line}: not JSON: expected ',' or ']' after an element")

    # -- raw XML documents ----------------------------------------------------------------

    def xml(self) -> Iterator[tuple[bytes, int]]:
        buffer = self.head
        self.head = b""
        start_line = self.line
        searched = 0
        eof = False
        while True:
            match = _XML_END.search(buffer, searched)
            if match is not None:
                body = buffer[: match.end()]
                if len(body) > MAX_RECORD:
                    raise self._too_long(start_line)
                yield body, start_line
                rest = buffer[match.end() :]
                stripped = rest.lstrip(_SPACE)
                start_line += body.count(b"\n") + rest.count(b"\n", 0, len(rest) - len(stripped))
                buffer, searched = stripped, 0
                if not buffer and eof:
                    return
                continue
            if len(buffer) > MAX_RECORD:
                raise self._too_long(start_line)
            if eof:
                if buffer.strip(_SPACE):
                    raise RecordError(
                        f"{self.name}:{start_line}: an XML response without its </events> end (truncated?)"
                    )
                return
            # an end tag may straddle the chunk boundary: search again from a little before it
            searched = max(0, len(buffer) - 64)
            chunk = self.stream.read(_CHUNK)
            if chunk:
                buffer += chunk
            else:
                eof = True


class _Text:
    """A sliding window of decoded text over the stream, with the line of its position."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.eof = False
        self.buf = ""
        self.pos = 0
        self.line = reader.line
        #: Lines of the bytes read before the chunk being decoded (for a UTF-8 error's line).
        self._feed(reader.head)
        reader.head = b""

    def _feed(self, chunk: bytes) -> None:
        try:
            text = self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            line = self.line + self.buf.count("\n", self.pos) + chunk.count(b"\n", 0, max(exc.start, 0))
            raise RecordError(f"{self.reader.name}:{line}: not UTF-8 text ({exc.reason})") from None
        if self.pos > _CHUNK and self.pos * 2 > len(self.buf):
            self.buf = self.buf[self.pos :]
            self.pos = 0
        self.buf += text

    def more(self, size: int = _CHUNK) -> bool:
        """Read more of the stream; False at its end."""
        if self.eof:
            return False
        chunk = self.reader.stream.read(size)
        if not chunk:
            self.eof = True
        self._feed(chunk)
        return bool(chunk)

    def advance(self, to: int) -> None:
        self.line += _newlines(self.buf, self.pos, to)
        self.pos = to

    def peek(self) -> str:
        while self.pos >= len(self.buf):
            if not self.more():
                return ""
        return self.buf[self.pos]

    def skip_space(self) -> None:
        while True:
            buf = self.buf
            end = len(buf)
            pos = self.pos
            while pos < end and buf[pos] in " \t\r\n":
                pos += 1
            self.advance(pos)
            if pos < end or not self.more():
                return

    def expect(self, char: str) -> None:
        self.skip_space()
        if self.peek() != char:
            raise RecordError(f"{self.reader.name}:{self.line}: not JSON: expected {char!r}")
        self.pos += 1

    def end_of_file(self, what: str) -> None:
        self.skip_space()
        if self.peek() != "":
            raise RecordError(f"{self.reader.name}:{self.line}: not JSON: data after the end of {what}")

    def value(self, decoder: json.JSONDecoder) -> object:
        """Decode the value at the position, reading more until it is whole (within the record limit)."""
        size = _CHUNK
        while True:
            try:
                value, end = decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # kept without traceback or context: either holds it in a cycle with this frame, and with it
                # exc.doc (the whole buffer), until a GC, which the replay command runs rarely (a 1e6-element
                # array peaked at 155 MB RSS against 27 MB without the cycle)
                bare = exc.with_traceback(None)
                bare.__context__ = None  # json's own StopIteration, whose traceback leads back to this frame
                error: BaseException | None = bare
                if not _maybe_incomplete(exc, len(self.buf)) or self.eof:
                    self._fail(exc)
            except (ValueError, RecursionError) as exc:
                self._fail(exc)
            else:
                # a number or literal that reaches the buffer's end may go on in the next chunk
                if end < len(self.buf) or self.eof or isinstance(value, dict | list | str):
                    self.advance(end)
                    return value
                error = None
            if len(self.buf) - self.pos > MAX_RECORD:
                raise self.reader._too_long(self.line)
            if not self.more(size) and error is not None:
                self._fail(error)
            size = min(size * 2, MAX_RECORD)

    def _fail(self, error: BaseException) -> None:
        where = self.line
        if isinstance(error, json.JSONDecodeError):
            where += self.buf.count("\n", self.pos, error.pos)
            truncated = error.pos >= len(self.buf.rstrip()) - 1
            hint = " (the array ends early: truncated?)" if truncated else ""
            raise RecordError(f"{self.reader.name}:{where}: not JSON: {error.msg}{hint}") from None
        raise RecordError(f"{self.reader.name}:{where}: not JSON: {_why(error)}") from None


def _newlines(text: str, start: int, end: int) -> int:
    """Newlines in ``text[start:end]``: the position moves forward only, so each is counted once."""
    return text.count("\n", start, end)


def _maybe_incomplete(error: json.JSONDecodeError, length: int) -> bool:
    """Whether more text could make the value whole: the error is at the buffer's end, or in an open string."""
    return error.pos >= length - 8 or error.msg.startswith("Unterminated string")
