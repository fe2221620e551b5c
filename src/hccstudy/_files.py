"""Read a user's input file safely: a regular file only, never more than a limit.

A FIFO named ``patients.csv`` would block a plain ``open().read()`` forever and ``labs.csv`` ->
``/dev/zero`` would never end.  :func:`read_regular_file` opens without blocking (``O_NONBLOCK``),
checks on the open descriptor (no race with a rename) that it is a regular file, and reads at most
``max_bytes`` + 1 bytes, so a file over the limit is refused instead of filling memory.  Input files
are opened read-only and never modified.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class InputFileError(Exception):
    """An input file that cannot be read as data (not a regular file, too large, unreadable)."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular_file(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of ``path`` (symlinks followed) if it is a regular file of at most ``max_bytes``."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError as exc:
        raise InputFileError("file not found") from exc
    except IsADirectoryError as exc:
        raise InputFileError("is a folder, not a file") from exc
    except OSError as exc:
        raise InputFileError(f"cannot open: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = _kind(st.st_mode)
            raise InputFileError(f"is {kind}, not a regular file" if kind.startswith("a ") else kind)
        if st.st_size > max_bytes:
            raise InputFileError(f"{st.st_size} bytes: larger than the limit of {max_bytes} bytes")
        chunks = []
        left = max_bytes + 1
        while left > 0:
            b = os.read(fd, min(left, 1 << 24))
            if not b:
                break
            chunks.append(b)
            left -= len(b)
    except OSError as exc:
        raise InputFileError(f"cannot read: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:  # grew while we read it
        raise InputFileError(f"larger than the limit of {max_bytes} bytes")
    return data


class NotUtf8Error(ValueError):
    """Text that is not UTF-8, located as a person reads the file: line and column (1-based)."""

    def __init__(self, line: int, column: int, byte: int):
        self.line, self.column, self.byte = line, column, byte
        super().__init__(f"line {line}, column {column}: not UTF-8 text (byte 0x{byte:02x})")


def decode_utf8(data: bytes) -> str:
    """UTF-8 text (a leading byte-order mark dropped); :class:`NotUtf8Error` names the line and column
    of the first byte that is not UTF-8, never a byte offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise NotUtf8Error(line, column, data[exc.start]) from exc
