"""A tiny little-endian binary writer/reader for the compact profile format.

Profiles are stored in RocksDB and shipped through changelog topics once per applied event, so
they are packed by hand (struct + raw float32 arrays) rather than as JSON: a default profile is
about 2 KiB instead of ~10 KiB, and decoding is a few memcpy's.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import numpy as np

from profiles.errors import ProfileError

_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")


class Writer:
    """Append-only buffer of packed fields."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, value: int) -> None:
        self._parts.append(_U8.pack(value))

    def u32(self, value: int) -> None:
        self._parts.append(_U32.pack(value))

    def i64(self, value: int) -> None:
        self._parts.append(_I64.pack(value))

    def f64(self, value: float) -> None:
        self._parts.append(_F64.pack(value))

    def text(self, value: str) -> None:
        raw = value.encode("utf-8")
        if len(raw) > 0xFFFF:
            raise ProfileError(f"string of {len(raw)} bytes does not fit the profile format")
        self._parts.append(_U16.pack(len(raw)))
        self._parts.append(raw)

    def blob(self, value: bytes) -> None:
        """Raw bytes with a u16 length."""
        if len(value) > 0xFFFF:
            raise ProfileError(f"blob of {len(value)} bytes does not fit the profile format")
        self._parts.append(_U16.pack(len(value)))
        self._parts.append(bytes(value))

    def opt_text(self, value: str | None) -> None:
        self.u8(value is not None)
        if value is not None:
            self.text(value)

    def array(self, value: np.ndarray) -> None:
        flat = np.ascontiguousarray(value, dtype="<f4").reshape(-1)  # (n,)
        self.u32(flat.size)
        self._parts.append(flat.tobytes())

    def opt_array(self, value: np.ndarray | None) -> None:
        self.u8(value is not None)
        if value is not None:
            self.array(value)

    def half_array(self, value: np.ndarray | None) -> None:
        """An optional array stored as float16 (half the bytes, ~3 significant digits)."""
        self.u8(value is not None)
        if value is not None:
            flat = np.ascontiguousarray(value, dtype="<f2").reshape(-1)  # (n,)
            self.u32(flat.size)
            self._parts.append(flat.tobytes())

    def tagged_rows(self, rows: Iterable[tuple[str, int, str | None, float]]) -> None:
        """Rows of (text, tag byte, optional text, f64), each as text, u8, [text,] f64: the same
        bytes as calling :meth:`text`, :meth:`u8`, :meth:`text` (when not None) and :meth:`f64`
        per row, in one loop. The caller's tag says whether the optional text follows."""
        add = self._parts.append
        u16, u8, f64 = _U16.pack, _U8.pack, _F64.pack
        for first, tag, second, number in rows:
            raw = first.encode("utf-8")
            if len(raw) > 0xFFFF:
                raise ProfileError(f"string of {len(raw)} bytes does not fit the profile format")
            add(u16(len(raw)))
            add(raw)
            add(u8(tag))
            if second is not None:
                raw = second.encode("utf-8")
                if len(raw) > 0xFFFF:
                    raise ProfileError(
                        f"string of {len(raw)} bytes does not fit the profile format"
                    )
                add(u16(len(raw)))
                add(raw)
            add(f64(number))

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Reads fields back in the order a :class:`Writer` wrote them (``unpack_from``, no copies
    until a value is built: a default profile decodes in tens of microseconds)."""

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self._pos = 0

    def _advance(self, n: int) -> int:
        start = self._pos
        end = start + n
        if end > len(self._data):
            raise ProfileError(f"truncated profile: wanted {n} bytes at offset {start}")
        self._pos = end
        return start

    def _unpack(self, fmt: struct.Struct) -> tuple[int | float, ...]:
        return fmt.unpack_from(self._data, self._advance(fmt.size))

    def u8(self) -> int:
        return int(self._unpack(_U8)[0])

    def u32(self) -> int:
        return int(self._unpack(_U32)[0])

    def i64(self) -> int:
        return int(self._unpack(_I64)[0])

    def f64(self) -> float:
        return float(self._unpack(_F64)[0])

    def text(self) -> str:
        n = int(self._unpack(_U16)[0])
        start = self._advance(n)
        try:
            return self._data[start : start + n].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProfileError(f"profile string at offset {start} is not UTF-8") from exc

    def blob(self) -> bytes:
        n = int(self._unpack(_U16)[0])
        start = self._advance(n)
        return self._data[start : start + n]

    def opt_text(self) -> str | None:
        return self.text() if self.u8() else None

    def _floats(self, dtype: str, width: int) -> np.ndarray:
        n = self.u32()
        start = self._advance(width * n)
        out = np.frombuffer(self._data, dtype=dtype, count=n, offset=start)
        return out.astype(np.float32)  # (n,) a fresh, writable copy

    def array(self) -> np.ndarray:
        return self._floats("<f4", 4)

    def opt_array(self) -> np.ndarray | None:
        return self.array() if self.u8() else None

    def half_array(self) -> np.ndarray | None:
        return self._floats("<f2", 2) if self.u8() else None

    def tagged_rows(self, count: int, flag: int) -> list[tuple[str, int, str | None, float]]:
        """``count`` rows written by :meth:`Writer.tagged_rows`; the optional text is present
        when the tag has ``flag`` set. The same checks and errors as reading them field by field
        (truncation, UTF-8), in one loop."""
        data, pos, end = self._data, self._pos, len(self._data)
        u16, f64 = _U16.unpack_from, _F64.unpack_from
        out: list[tuple[str, int, str | None, float]] = []
        for _ in range(count):
            texts: list[str] = []
            tag = -1
            while True:  # the first text, the tag, then the second text when flagged
                if pos + 2 > end:
                    raise ProfileError(f"truncated profile: wanted 2 bytes at offset {pos}")
                (n,) = u16(data, pos)
                pos += 2
                if pos + n > end:
                    raise ProfileError(f"truncated profile: wanted {n} bytes at offset {pos}")
                try:
                    texts.append(data[pos : pos + n].decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise ProfileError(f"profile string at offset {pos} is not UTF-8") from exc
                pos += n
                if tag >= 0:
                    break
                if pos + 1 > end:
                    raise ProfileError(f"truncated profile: wanted 1 bytes at offset {pos}")
                tag = data[pos]
                pos += 1
                if not tag & flag:
                    break
            if pos + 8 > end:
                raise ProfileError(f"truncated profile: wanted 8 bytes at offset {pos}")
            (number,) = f64(data, pos)
            pos += 8
            out.append((texts[0], tag, texts[1] if len(texts) > 1 else None, float(number)))
        self._pos = pos
        return out

    def done(self) -> None:
        if self._pos != len(self._data):
            raise ProfileError(f"{len(self._data) - self._pos} unexpected trailing profile bytes")
