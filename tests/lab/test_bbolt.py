"""The bbolt writer against its own reader, byte-level layout checks and error cases.

Trivy itself reads these files in test_trivydb.py.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hullcheck.lab.bbolt import (
    BRANCH_PAGE_FLAG,
    LEAF_PAGE_FLAG,
    PAGE_SIZE,
    BboltFormatError,
    BucketTree,
    fnv1a_64,
    read_bbolt,
    write_bbolt,
)

PAGE_HEADER = struct.Struct("<QHHI")


def data_pages(path: Path) -> list[tuple[int, int, int, int]]:
    """Return (pgid, flags, count, overflow) of every node from page 3 on, in file order."""
    data = path.read_bytes()
    pages = []
    pgid = 3
    while pgid * PAGE_SIZE < len(data):
        page_id, flags, count, overflow = PAGE_HEADER.unpack_from(data, pgid * PAGE_SIZE)
        assert page_id == pgid, f"page {pgid} has id {page_id}"
        pages.append((pgid, flags, count, overflow))
        pgid += overflow + 1
    return pages


def test_fnv1a_64_known_values() -> None:
    assert fnv1a_64(b"") == 0xCBF29CE484222325
    assert fnv1a_64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a_64(b"foobar") == 0x85944171F73967E8


def test_meta_pages_layout(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    write_bbolt(path, {b"bucket": {b"key": b"value"}})
    data = path.read_bytes()

    assert len(data) == 4 * PAGE_SIZE
    for pgid in (0, 1):
        offset = pgid * PAGE_SIZE
        page_id, flags, _, _ = PAGE_HEADER.unpack_from(data, offset)
        assert page_id == pgid
        assert flags == 0x04
        magic, version, page_size = struct.unpack_from("<III", data, offset + 16)
        assert (magic, version, page_size) == (0xED0CDAED, 2, PAGE_SIZE)
        root, _, freelist, page_count, txid, checksum = struct.unpack_from(
            "<QQQQQQ", data, offset + 32
        )
        assert root == 3
        assert freelist == 2
        assert page_count == 4
        assert txid % 2 == pgid
        assert checksum == fnv1a_64(data[offset + 16 : offset + 72])

    freelist_id, freelist_flags, freelist_count, _ = PAGE_HEADER.unpack_from(data, 2 * PAGE_SIZE)
    assert (freelist_id, freelist_flags, freelist_count) == (2, 0x10, 0)


def test_small_bucket_stays_inline(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    write_bbolt(path, {b"outer": {b"inner": {b"key": b"value"}, b"plain": b"1"}})

    # Only the root bucket and "outer" have pages: "inner" lives inside outer's leaf.
    assert len(data_pages(path)) == 2
    assert read_bbolt(path) == {b"outer": {b"inner": {b"key": b"value"}, b"plain": b"1"}}


def test_large_bucket_gets_own_page(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    tree = {b"outer": {b"inner": {b"key": b"v" * 2000}}}
    write_bbolt(path, tree)

    assert len(data_pages(path)) == 3
    assert read_bbolt(path) == tree


def test_empty_buckets_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    tree: BucketTree = {b"empty": {}, b"outer": {b"nested-empty": {}}}
    write_bbolt(path, tree)
    assert read_bbolt(path) == tree

    write_bbolt(path, {})
    assert read_bbolt(path) == {}


def test_keys_sorted_as_bytes(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    keys = [b"b", b"\xff", b"B", b"a", b"\x00", b"ab", b"a\x00"]
    write_bbolt(path, {b"bucket": {key: key for key in keys}})

    assert list(read_bbolt(path)[b"bucket"]) == sorted(keys)


def test_thousands_of_keys_use_branch_pages(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    many = {f"CVE-2024-{number:05d}".encode(): b"x" * (number % 300) for number in range(20_000)}
    tree = {b"vulnerability": many, b"other": {b"k": b"v"}}
    write_bbolt(path, tree)

    pages = data_pages(path)
    branches = [page for page in pages if page[1] == BRANCH_PAGE_FLAG]
    assert len(branches) >= 2, "20,000 keys need at least two levels of branch pages"
    assert all(page[3] == 0 for page in pages), "no node should need overflow pages"
    assert read_bbolt(path) == tree


def test_large_values_use_overflow_pages(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    values = {f"key{index:03d}".encode(): bytes([index]) * 2500 for index in range(40)}
    values[b"huge"] = b"h" * 50_000
    tree = {b"bucket": values}
    write_bbolt(path, tree)

    pages = data_pages(path)
    leaves = [page for page in pages if page[1] == LEAF_PAGE_FLAG]
    assert any(page[3] > 0 for page in leaves)
    bucket_leaves = [page for page in leaves if page[0] != pages[-1][0]]
    assert all(page[2] >= 2 for page in bucket_leaves), "every split node keeps two keys"
    assert read_bbolt(path) == tree


def test_nested_buckets_with_many_keys(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    tree = {
        b"debian 12": {
            f"package-{package:04d}".encode(): {
                f"CVE-2024-{number:05d}".encode(): b'{"FixedVersion":"1.0-1"}'
                for number in range(package % 50)
            }
            for package in range(3000)
        }
    }
    write_bbolt(path, tree)
    assert read_bbolt(path) == tree


def test_rewrite_replaces_file(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    write_bbolt(path, {b"a": {b"k": b"v" * 100_000}})
    write_bbolt(path, {b"b": {b"k": b"v"}})

    assert read_bbolt(path) == {b"b": {b"k": b"v"}}
    assert path.stat().st_size == 4 * PAGE_SIZE
    assert [p.name for p in tmp_path.iterdir()] == ["x.db"]


def test_one_valid_meta_page_is_enough(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    write_bbolt(path, {b"a": {b"k": b"v"}})
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF
    path.write_bytes(bytes(data))

    assert read_bbolt(path) == {b"a": {b"k": b"v"}}


def test_reader_rejects_bad_checksums(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    write_bbolt(path, {b"a": {b"k": b"v"}})
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF
    data[PAGE_SIZE + 20] ^= 0xFF
    path.write_bytes(bytes(data))

    with pytest.raises(BboltFormatError, match="no valid meta page"):
        read_bbolt(path)


def test_reader_rejects_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    write_bbolt(path, {b"a": {f"{n:05d}".encode(): b"v" * 100 for n in range(500)}})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - PAGE_SIZE])

    with pytest.raises(BboltFormatError, match="truncated"):
        read_bbolt(path)


def test_reader_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(b"not a database" * 2000)

    with pytest.raises(BboltFormatError):
        read_bbolt(path)


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({b"top": b"value"}, "only allows buckets at the top level"),
        ({b"a": {b"": b"v"}}, "empty"),
        ({b"a": {"text": b"v"}}, "bbolt keys are bytes"),
        ({b"a": {b"k": "text"}}, "expected bytes or a mapping"),
        ({b"a": {b"k" * 40_000: b"v"}}, "at most 32768"),
    ],
)
def test_writer_rejects_invalid_trees(tmp_path: Path, tree: BucketTree, message: str) -> None:
    path = tmp_path / "x.db"
    with pytest.raises(BboltFormatError, match=message):
        write_bbolt(path, tree)
    assert not path.exists()


keys = st.binary(min_size=1, max_size=40)
leaf_buckets = st.dictionaries(keys, st.binary(max_size=3000), max_size=30)
buckets = st.recursive(
    leaf_buckets,
    lambda children: st.dictionaries(keys, st.one_of(st.binary(max_size=600), children)),
    max_leaves=60,
)


@settings(max_examples=40, deadline=None)
@given(tree=st.dictionaries(keys, buckets, max_size=6))
def test_round_trip_property(tmp_path_factory: pytest.TempPathFactory, tree: BucketTree) -> None:
    path = tmp_path_factory.mktemp("property") / "x.db"
    write_bbolt(path, tree)
    assert read_bbolt(path) == tree
