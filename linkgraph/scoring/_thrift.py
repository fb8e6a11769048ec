"""Thrift's compact protocol, enough to read and rewrite a Parquet footer.

A Parquet footer (``FileMetaData``) is a Thrift struct in the compact protocol. The
score writer encodes slices of a table as separate Parquet files on several threads
and joins them into one file (:mod:`_write`); the joined footer needs the row groups
of every part, with their byte offsets moved. pyarrow can read a footer but not
change its offsets, so this module decodes a struct into plain Python values and
encodes it back, without knowing Parquet's schema: a struct is a list of
``(field id, type, value)``, in the order they were read.

Types (the protocol's own numbers): ``TRUE``/``FALSE`` (booleans; in a struct the
type carries the value), ``BYTE``, ``I16``, ``I32``, ``I64``, ``DOUBLE``, ``BINARY``,
``LIST``, ``SET``, ``MAP``, ``STRUCT``. Values: ``int``, ``float``, ``bytes``,
``bool``; a list or set is ``(element type, [values])``, a map ``(key type, value
type, [(key, value)])`` and a struct a list of fields.
"""

from __future__ import annotations

import struct as _struct
from typing import Any

STOP, TRUE, FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = range(13)

#: A struct: its fields as (field id, type, value), in order.
Fields = list[tuple[int, int, Any]]


class ThriftError(ValueError):
    """Bytes that are not a well-formed compact-protocol struct."""


class _Reader:
    def __init__(self, data: bytes | memoryview) -> None:
        # Unsigned bytes whatever the source (a pyarrow Buffer's view is signed).
        self.data = memoryview(data).cast("B")
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise ThriftError("truncated struct")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise ThriftError("varint too long")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise ThriftError("truncated struct")
        out = bytes(self.data[self.pos:self.pos + size])
        self.pos += size
        return out

    def value(self, kind: int) -> Any:
        if kind in (TRUE, FALSE):  # a collection's element: one byte
            return self.byte() == TRUE
        if kind == BYTE:
            b = self.byte()
            return b - 256 if b > 127 else b
        if kind in (I16, I32, I64):
            return self.zigzag()
        if kind == DOUBLE:
            return _struct.unpack("<d", self.take(8))[0]
        if kind == BINARY:
            return self.take(self.varint())
        if kind in (LIST, SET):
            head = self.byte()
            size = head >> 4
            if size == 15:
                size = self.varint()
            elem = head & 0x0F
            return elem, [self.value(elem) for _ in range(size)]
        if kind == MAP:
            size = self.varint()
            if size == 0:
                return 0, 0, []
            types = self.byte()
            key, val = types >> 4, types & 0x0F
            return key, val, [(self.value(key), self.value(val)) for _ in range(size)]
        if kind == STRUCT:
            return self.fields()
        raise ThriftError(f"unknown type {kind}")

    def fields(self) -> Fields:
        out: Fields = []
        last = 0
        while True:
            head = self.byte()
            kind = head & 0x0F
            if kind == STOP:
                return out
            delta = head >> 4
            fid = last + delta if delta else self.zigzag()
            if kind in (TRUE, FALSE):
                out.append((fid, kind, kind == TRUE))
            else:
                out.append((fid, kind, self.value(kind)))
            last = fid


def read_struct(data: bytes | memoryview) -> tuple[Fields, int]:
    """Decode the struct at the start of ``data``; return it and its length in bytes."""
    reader = _Reader(data)
    return reader.fields(), reader.pos


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def varint(self, n: int) -> None:
        while n > 0x7F:
            self.out.append((n & 0x7F) | 0x80)
            n >>= 7
        self.out.append(n)

    def zigzag(self, n: int) -> None:
        self.varint((n << 1) ^ (n >> 63))

    def value(self, kind: int, value: Any) -> None:
        if kind in (TRUE, FALSE):
            self.out.append(TRUE if value else FALSE)
        elif kind == BYTE:
            self.out.append(value & 0xFF)
        elif kind in (I16, I32, I64):
            self.zigzag(value)
        elif kind == DOUBLE:
            self.out += _struct.pack("<d", value)
        elif kind == BINARY:
            self.varint(len(value))
            self.out += value
        elif kind in (LIST, SET):
            elem, items = value
            if len(items) < 15:
                self.out.append(len(items) << 4 | elem)
            else:
                self.out.append(0xF0 | elem)
                self.varint(len(items))
            for item in items:
                self.value(elem, item)
        elif kind == MAP:
            key, val, items = value
            self.varint(len(items))
            if items:
                self.out.append(key << 4 | val)
                for k, v in items:
                    self.value(key, k)
                    self.value(val, v)
        elif kind == STRUCT:
            self.fields(value)
        else:
            raise ThriftError(f"unknown type {kind}")

    def fields(self, fields: Fields) -> None:
        last = 0
        for fid, kind, value in fields:
            if kind in (TRUE, FALSE):
                kind = TRUE if value else FALSE
            if 0 < fid - last <= 15:
                self.out.append((fid - last) << 4 | kind)
            else:
                self.out.append(kind)
                self.zigzag(fid)
            if kind not in (TRUE, FALSE):
                self.value(kind, value)
            last = fid
        self.out.append(STOP)


def write_struct(fields: Fields) -> bytes:
    """Encode a struct (the inverse of :func:`read_struct`)."""
    writer = _Writer()
    writer.fields(fields)
    return bytes(writer.out)
