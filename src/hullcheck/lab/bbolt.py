"""Write and read bbolt database files, the key-value format behind Trivy's ``trivy.db``.

The writer produces a complete file in one pass: two meta pages, an empty freelist page,
then the nodes of every bucket, children before parents, with no free pages. It supports what Trivy's DB uses: nested buckets (inline when small, as
bbolt itself stores them), branch pages once a bucket outgrows one leaf page, and overflow
pages for nodes larger than a page.

The layout follows go.etcd.io/bbolt (file format version 2) on a little-endian machine
with 4096-byte pages. The reader exists to check the writer and rejects anything it does
not recognise: it is no general bbolt reader (no freelist parsing, no partial writes).
"""

from __future__ import annotations

import itertools
import os
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, TypeAlias, TypeVar

PAGE_SIZE = 4096
MAGIC = 0xED0CDAED
FORMAT_VERSION = 2

MAX_KEY_SIZE = 32768
"""bbolt rejects longer keys on write (``ErrKeyTooLarge``)."""
MAX_VALUE_SIZE = (1 << 31) - 2
"""bbolt rejects longer values on write (``ErrValueTooLarge``)."""

BRANCH_PAGE_FLAG = 0x01
LEAF_PAGE_FLAG = 0x02
META_PAGE_FLAG = 0x04
FREELIST_PAGE_FLAG = 0x10
BUCKET_LEAF_FLAG = 0x01
"""Element flag that marks a leaf value as a nested bucket."""

_PAGE_HEADER = struct.Struct("<QHHI")  # id, flags, count, overflow
_LEAF_ELEMENT = struct.Struct("<IIII")  # flags, pos, ksize, vsize
_BRANCH_ELEMENT = struct.Struct("<IIQ")  # pos, ksize, pgid
_BUCKET_HEADER = struct.Struct("<QQ")  # root pgid, sequence
# magic, version, page size, flags, root bucket (root, sequence), freelist, pgid, txid
_META_BODY = struct.Struct("<IIIIQQQQQ")
_CHECKSUM = struct.Struct("<Q")

_INLINE_BUCKET_MAX_SIZE = PAGE_SIZE // 4
"""bbolt keeps a bucket inline (inside its parent's leaf) up to a quarter of a page."""
_MIN_KEYS_PER_NODE = 2
"""bbolt never splits a node into parts of fewer than two keys."""
_FREELIST_PGID = 2
_FIRST_DATA_PGID = 3

_Element = TypeVar("_Element")

BucketTree: TypeAlias = Mapping[bytes, "bytes | BucketTree"]
"""A bucket to write: each key maps to a value or to a nested bucket."""
ReadTree: TypeAlias = dict[bytes, "bytes | ReadTree"]
"""A bucket as read back: each key maps to a value or to a nested bucket."""


class BboltFormatError(ValueError):
    """A file is not a bbolt database this module can read, or a tree cannot be written."""


def fnv1a_64(data: bytes) -> int:
    """Return the 64-bit FNV-1a hash that bbolt uses as the meta page checksum."""
    value = 0xCBF29CE484222325
    for byte in data:
        value ^= byte
        value = (value * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


# Writing


def write_bbolt(path: Path, buckets: BucketTree) -> None:
    """Write ``buckets`` as a new bbolt file at ``path``, replacing any file there.

    The top-level mapping is the root bucket, so each of its entries must be a nested
    bucket: bbolt keeps no plain values at the top level. The file is written to a
    temporary name next to ``path`` and renamed into place.

    Raises:
        BboltFormatError: a top-level value is not a bucket, or a key is empty or too long,
            or a value is too long.
    """
    for key, value in buckets.items():
        if not isinstance(value, Mapping):
            raise BboltFormatError(
                f"top-level key {key!r} maps to a plain value; bbolt only allows buckets "
                "at the top level, so wrap the value in a bucket"
            )

    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with temporary.open("wb") as stream:
            writer = _PageWriter(stream)
            root_pgid = writer.write_bucket(buckets)
            page_count = writer.next_pgid
            stream.seek(0)
            stream.write(_meta_page(0, root_pgid, page_count, txid=0))
            stream.write(_meta_page(1, root_pgid, page_count, txid=1))
            stream.write(_freelist_page())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


class _PageWriter:
    """Appends nodes to the file from page 3 on, each node on as many pages as it needs."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.next_pgid = _FIRST_DATA_PGID

    def write_bucket(self, bucket: BucketTree) -> int:
        """Write the nodes of ``bucket`` and its sub-buckets; return the root node's pgid."""
        elements = self._leaf_elements(bucket)
        if not elements:
            return self._write_node(LEAF_PAGE_FLAG, 0, b"")

        level = [
            (group[0][1], self._write_node(LEAF_PAGE_FLAG, len(group), _encode_leaf(group)))
            for group in _split(elements, _leaf_element_size)
        ]
        # Each pass adds one level of branch nodes until a single node is the root.
        while len(level) > 1:
            level = [
                (group[0][0], self._write_node(BRANCH_PAGE_FLAG, len(group), _encode_branch(group)))
                for group in _split(level, _branch_element_size)
            ]
        return level[0][1]

    def _leaf_elements(self, bucket: BucketTree) -> list[tuple[int, bytes, bytes]]:
        elements: list[tuple[int, bytes, bytes]] = []
        for key in sorted(bucket):
            _check_key(key)
            value = bucket[key]
            if isinstance(value, Mapping):
                elements.append((BUCKET_LEAF_FLAG, key, self._bucket_value(value)))
            elif isinstance(value, bytes | bytearray | memoryview):
                data = bytes(value)
                if len(data) > MAX_VALUE_SIZE:
                    raise BboltFormatError(
                        f"value of key {key!r} is {len(data)} bytes; bbolt allows at most "
                        f"{MAX_VALUE_SIZE} bytes, so split the value"
                    )
                elements.append((0, key, data))
            else:
                raise BboltFormatError(
                    f"key {key!r} maps to {type(value).__name__}; expected bytes or a "
                    "mapping (a nested bucket)"
                )
        return elements

    def _bucket_value(self, bucket: BucketTree) -> bytes:
        """Return the leaf value that stores a nested bucket: a header, maybe an inline page."""
        inline = _inline_page(bucket)
        if inline is not None:
            return _BUCKET_HEADER.pack(0, 0) + inline
        return _BUCKET_HEADER.pack(self.write_bucket(bucket), 0)

    def _write_node(self, flags: int, count: int, body: bytes) -> int:
        size = _PAGE_HEADER.size + len(body)
        page_count = -(-size // PAGE_SIZE)
        pgid = self.next_pgid
        self.next_pgid += page_count

        self._stream.seek(pgid * PAGE_SIZE)
        self._stream.write(_PAGE_HEADER.pack(pgid, flags, count, page_count - 1))
        self._stream.write(body)
        self._stream.write(bytes(page_count * PAGE_SIZE - size))
        return pgid


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes):
        raise BboltFormatError(f"key {key!r} is {type(key).__name__}; bbolt keys are bytes")
    if not key:
        raise BboltFormatError("a key is empty; bbolt requires keys of at least one byte")
    if len(key) > MAX_KEY_SIZE:
        raise BboltFormatError(
            f"key {key[:40]!r}... is {len(key)} bytes; bbolt allows at most {MAX_KEY_SIZE}"
        )


def _inline_page(bucket: BucketTree) -> bytes | None:
    """Return the bucket as an inline leaf page, or None when bbolt would give it pages."""
    if any(isinstance(value, Mapping) for value in bucket.values()):
        return None
    elements: list[tuple[int, bytes, bytes]] = []
    for key in sorted(bucket):
        _check_key(key)
        value = bucket[key]
        if not isinstance(value, bytes | bytearray | memoryview):
            raise BboltFormatError(
                f"key {key!r} maps to {type(value).__name__}; expected bytes or a mapping"
            )
        elements.append((0, key, bytes(value)))

    size = _PAGE_HEADER.size + sum(_leaf_element_size(element) for element in elements)
    if size > _INLINE_BUCKET_MAX_SIZE:
        return None
    # An inline page has id 0 and never overflows: bbolt reads it straight from the value.
    return _PAGE_HEADER.pack(0, LEAF_PAGE_FLAG, len(elements), 0) + _encode_leaf(elements)


def _leaf_element_size(element: tuple[int, bytes, bytes]) -> int:
    return _LEAF_ELEMENT.size + len(element[1]) + len(element[2])


def _branch_element_size(element: tuple[bytes, int]) -> int:
    return _BRANCH_ELEMENT.size + len(element[0])


def _split(
    elements: Sequence[_Element], element_size: Callable[[_Element], int]
) -> list[list[_Element]]:
    """Group sorted elements into nodes that fill a page, with at least two keys per node.

    A node over a page (two large values, say) is still valid: it spills onto overflow pages.
    """
    groups: list[list[_Element]] = []
    current: list[_Element] = []
    size = _PAGE_HEADER.size
    for element in elements:
        element_bytes = element_size(element)
        if len(current) >= _MIN_KEYS_PER_NODE and size + element_bytes > PAGE_SIZE:
            groups.append(current)
            current = []
            size = _PAGE_HEADER.size
        current.append(element)
        size += element_bytes
    groups.append(current)

    if len(groups) > 1 and len(groups[-1]) < _MIN_KEYS_PER_NODE:
        last = groups.pop()
        previous = groups[-1]
        if len(previous) > _MIN_KEYS_PER_NODE:
            groups.append([previous.pop(), *last])
        else:
            previous.extend(last)
    return groups


def _encode_leaf(elements: Sequence[tuple[int, bytes, bytes]]) -> bytes:
    """Encode leaf elements: fixed-size headers first, then each key followed by its value.

    Each header's ``pos`` is the distance from that header to its key.
    """
    headers = bytearray()
    data = bytearray()
    header_area = len(elements) * _LEAF_ELEMENT.size
    for index, (flags, key, value) in enumerate(elements):
        pos = header_area - index * _LEAF_ELEMENT.size + len(data)
        headers += _LEAF_ELEMENT.pack(flags, pos, len(key), len(value))
        data += key
        data += value
    return bytes(headers + data)


def _encode_branch(elements: Sequence[tuple[bytes, int]]) -> bytes:
    """Encode branch elements: headers with the child's pgid, then each child's first key."""
    headers = bytearray()
    data = bytearray()
    header_area = len(elements) * _BRANCH_ELEMENT.size
    for index, (key, pgid) in enumerate(elements):
        pos = header_area - index * _BRANCH_ELEMENT.size + len(data)
        headers += _BRANCH_ELEMENT.pack(pos, len(key), pgid)
        data += key
    return bytes(headers + data)


def _meta_page(pgid: int, root_pgid: int, page_count: int, *, txid: int) -> bytes:
    body = _META_BODY.pack(
        MAGIC, FORMAT_VERSION, PAGE_SIZE, 0, root_pgid, 0, _FREELIST_PGID, page_count, txid
    )
    page = _PAGE_HEADER.pack(pgid, META_PAGE_FLAG, 0, 0) + body + _CHECKSUM.pack(fnv1a_64(body))
    return page + bytes(PAGE_SIZE - len(page))


def _freelist_page() -> bytes:
    page = _PAGE_HEADER.pack(_FREELIST_PGID, FREELIST_PAGE_FLAG, 0, 0)
    return page + bytes(PAGE_SIZE - len(page))


# Reading


def read_bbolt(path: Path) -> ReadTree:
    """Read a whole bbolt file into nested dicts, checking each page on the way.

    Uses the valid meta page with the higher transaction id, as bbolt does.

    Raises:
        BboltFormatError: the file is not a bbolt database with 4096-byte pages, or a page
            is out of range, has the wrong type, or has keys out of order.
    """
    data = path.read_bytes()
    if len(data) < 4 * PAGE_SIZE or len(data) % PAGE_SIZE:
        raise BboltFormatError(
            f"{path} is {len(data)} bytes; a bbolt file with {PAGE_SIZE}-byte pages is a "
            "multiple of the page size and at least 4 pages long"
        )

    metas = [meta for meta in (_read_meta(data, 0), _read_meta(data, 1)) if meta is not None]
    if not metas:
        raise BboltFormatError(f"{path} has no valid meta page; the file is not a bbolt database")
    root_pgid, page_count = max(metas, key=lambda meta: meta[2])[:2]
    if page_count * PAGE_SIZE > len(data):
        raise BboltFormatError(
            f"{path} has {len(data) // PAGE_SIZE} pages but its meta page counts {page_count}; "
            "the file is truncated"
        )
    return _Reader(data, page_count).read_bucket(root_pgid)


def _read_meta(data: bytes, pgid: int) -> tuple[int, int, int] | None:
    """Return (root pgid, page count, txid) of a valid meta page, else None."""
    offset = pgid * PAGE_SIZE
    page_id, flags, _, _ = _PAGE_HEADER.unpack_from(data, offset)
    body = data[offset + _PAGE_HEADER.size : offset + _PAGE_HEADER.size + _META_BODY.size]
    fields = _META_BODY.unpack(body)
    magic, version, page_size, _, root_pgid, _, _, page_count, txid = fields
    (checksum,) = _CHECKSUM.unpack_from(data, offset + _PAGE_HEADER.size + _META_BODY.size)
    valid = (
        page_id == pgid
        and flags == META_PAGE_FLAG
        and magic == MAGIC
        and version == FORMAT_VERSION
        and page_size == PAGE_SIZE
        and checksum == fnv1a_64(body)
    )
    return (root_pgid, page_count, txid) if valid else None


class _Reader:
    def __init__(self, data: bytes, page_count: int) -> None:
        self._data = data
        self._page_count = page_count
        self._visited: set[int] = set()

    def read_bucket(self, root_pgid: int) -> ReadTree:
        bucket: ReadTree = {}
        for flags, key, value in self._node_elements(root_pgid):
            if key in bucket:
                raise BboltFormatError(f"key {key!r} appears twice in one bucket")
            bucket[key] = self._bucket_value(value) if flags & BUCKET_LEAF_FLAG else value
        _check_sorted(list(bucket), f"bucket rooted at page {root_pgid}")
        return bucket

    def _bucket_value(self, value: bytes) -> ReadTree:
        if len(value) < _BUCKET_HEADER.size:
            raise BboltFormatError(f"bucket value of {len(value)} bytes has no bucket header")
        root_pgid, _ = _BUCKET_HEADER.unpack_from(value)
        if root_pgid != 0:
            return self.read_bucket(root_pgid)

        inline = value[_BUCKET_HEADER.size :]
        _, flags, count, _ = _PAGE_HEADER.unpack_from(inline)
        if flags != LEAF_PAGE_FLAG:
            raise BboltFormatError(f"inline bucket page has flags {flags:#x}; expected a leaf")
        bucket: ReadTree = {}
        for element_flags, key, element_value in _leaf_elements(inline, 0, count):
            if element_flags & BUCKET_LEAF_FLAG:
                raise BboltFormatError(f"inline bucket contains a nested bucket at key {key!r}")
            bucket[key] = element_value
        _check_sorted(list(bucket), "inline bucket")
        return bucket

    def _node_elements(self, pgid: int) -> list[tuple[int, bytes, bytes]]:
        """Return the leaf elements under node ``pgid``, following branch pages."""
        page = self._page(pgid)
        _, flags, count, _ = _PAGE_HEADER.unpack_from(page)
        if flags == LEAF_PAGE_FLAG:
            return list(_leaf_elements(page, 0, count))
        if flags != BRANCH_PAGE_FLAG:
            raise BboltFormatError(f"page {pgid} has flags {flags:#x}; expected a branch or leaf")

        elements: list[tuple[int, bytes, bytes]] = []
        for index in range(count):
            offset = _PAGE_HEADER.size + index * _BRANCH_ELEMENT.size
            pos, key_size, child = _BRANCH_ELEMENT.unpack_from(page, offset)
            first_key = page[offset + pos : offset + pos + key_size]
            children = self._node_elements(child)
            if children and children[0][1] != first_key:
                raise BboltFormatError(
                    f"branch page {pgid} gives key {first_key!r} for page {child}, "
                    f"whose first key is {children[0][1]!r}"
                )
            elements.extend(children)
        return elements

    def _page(self, pgid: int) -> bytes:
        if not _FIRST_DATA_PGID <= pgid < self._page_count:
            raise BboltFormatError(
                f"page id {pgid} is outside the data pages "
                f"{_FIRST_DATA_PGID}..{self._page_count - 1}"
            )
        if pgid in self._visited:
            raise BboltFormatError(f"page {pgid} is referenced twice")
        self._visited.add(pgid)

        offset = pgid * PAGE_SIZE
        page_id, _, _, overflow = _PAGE_HEADER.unpack_from(self._data, offset)
        if page_id != pgid:
            raise BboltFormatError(f"page {pgid} has id {page_id} in its header")
        if pgid + overflow >= self._page_count:
            raise BboltFormatError(f"page {pgid} overflows past the last page")
        return self._data[offset : offset + (overflow + 1) * PAGE_SIZE]


def _leaf_elements(page: bytes, start: int, count: int) -> Iterator[tuple[int, bytes, bytes]]:
    for index in range(count):
        offset = start + _PAGE_HEADER.size + index * _LEAF_ELEMENT.size
        flags, pos, key_size, value_size = _LEAF_ELEMENT.unpack_from(page, offset)
        key_start = offset + pos
        value_end = key_start + key_size + value_size
        if value_end > len(page):
            raise BboltFormatError(f"leaf element {index} ends past its page")
        yield flags, page[key_start : key_start + key_size], page[key_start + key_size : value_end]


def _check_sorted(keys: Sequence[bytes], where: str) -> None:
    for before, after in itertools.pairwise(keys):
        if before >= after:
            raise BboltFormatError(f"keys {before!r} and {after!r} in the {where} are out of order")
