"""A data-processing library: pickle spools, attribute rows, readers, loaders."""

import itertools
import pickle

from datakit import loaders, readers, rows, spool

_n = itertools.count()

_LINES = ["sku,qty,site", "a-1,3,north", "b-2,4,south", "c-3,5,east"]


def test_reused_pickler_memo_keeps_batches():
    # python/cpython#125756 (gh-125762), joblib/joblib#570: a reused Pickler's memo.
    frame = spool.spool.send(spool.make_batch(next(_n), 20))
    assert frame[:1] == pickle.PROTO


def test_pickler_memo_cleared_per_frame():
    batch = spool.make_batch(next(_n), 20)
    frame = spool.framed_spool.send(batch)
    assert pickle.loads(frame) == batch


def test_rows_refer_to_themselves():
    # fritzy/SleekXMPP#18, mewwts/addict#86: self.__dict__ = self.
    assert rows.total(_LINES, rows.Row) == 12


def test_attribute_rows_without_self_reference():
    assert rows.total(_LINES, rows.AttrRow) == 12


def test_reader_finalizer_holds_bound_method():
    # DiamondLightSource/httomo#265, bluesky/ophyd#865: weakref.finalize(self, self.close).
    reader = readers.ChunkReader(bytes(range(256)) * 8)
    assert len(reader.chunks()) == 8


def test_reader_finalizer_on_buffer():
    reader = readers.SafeChunkReader(bytes(range(256)) * 8)
    assert len(reader.chunks()) == 8


def test_progress_callbacks_kept_alive_forever():
    # python/cpython#77587 (bpo-33406), tdlib/td#3652: CFUNCTYPE thunks kept for good.
    seen = []
    scanner = readers.NativeScanner([b"r%d" % i for i in range(10)])
    scanner.on_progress(seen.append)
    assert scanner.scan() == 10
    assert seen == [4, 8, 10]


def test_progress_callback_owned_by_scanner():
    seen = []
    scanner = readers.OwnedNativeScanner([b"r%d" % i for i in range(10)])
    scanner.on_progress(seen.append)
    assert scanner.scan() == 10
    assert seen == [4, 8, 10]


def test_loader_shares_default_factory_value():
    # konradhalas/dacite#215: default_factory called once, its list shared by all.
    batch = loaders.loader.from_dict(loaders.Batch, {"name": f"b{next(_n)}", "rows": [{"qty": -1}, {"qty": 2}]})
    assert loaders.check(batch).errors[-1][1].endswith("negative quantity -1")


def test_loader_fresh_default_per_instance():
    batch = loaders.fresh_loader.from_dict(loaders.Batch, {"name": f"b{next(_n)}", "rows": [{"qty": -1}, {"qty": 2}]})
    assert len(loaders.check(batch).errors) == 1


def test_parse_dates_with_strptime():
    # Looks noisy (_strptime's import and regex cache on first use), but is clean.
    dates = loaders.parse_dates(["2024-01-05", "2024-02-29", "2023-12-31"])
    assert [d.month for d in dates] == [1, 2, 12]


def test_validate_rows_against_type_hints():
    # Looks noisy (typing.get_type_hints evaluates string annotations on every call,
    # through typing's own bounded caches), but is clean.
    reading = loaders.validate({"sensor": "t1", "value": 21.5, "unit": None, "tags": ["lab"]})
    assert reading.value == 21.5


def test_decode_declared_charset():
    # Looks noisy (the codec module is imported and cached on first use), but is clean.
    assert loaders.decode_payload("naïve café".encode("utf-16"), "utf-16") == "naïve café"
