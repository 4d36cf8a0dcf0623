"""Registries in unusual holders (batch 31): partials, a weak map beside a strong list,
a MappingProxyType, class attributes, __init_subclass__, sys.modules, copyreg and a
threading.local in a reused worker thread."""

import copy
import itertools
import pickle

from regkit import catalog, events, formats, loader, models

_n = itertools.count(5000)

RULES = "LIMIT = 3\nALLOWED = ('eu', 'us')\nNAME = 'default'\n"


def test_panel_partial_kept_by_registry():
    # napari/napari#3238, aiidateam/aiida-core#4603: a partial of a bound method.
    panel = events.Panel(f"panel-{next(_n)}")
    assert events.publish("theme", "dark") >= 1
    assert panel.seen == [("theme", "dark")]


def test_panel_partial_removed_on_close():
    panel = events.Panel(f"panel-{next(_n)}", topic="layout")
    assert events.publish("layout", "wide") >= 1
    panel.close()
    assert panel.seen == [("layout", "wide")]


def test_weak_identity_map_beside_strong_history():
    # h5py/h5py#2783 (a weak registry); here a strong "recently viewed" list beside it.
    item = catalog.catalog.load(f"SKU-{next(_n)}")
    assert item.attributes["price"] == 100


def test_weak_identity_map_alone():
    item = catalog.weak_catalog.load(f"SKU-{next(_n)}")
    assert item.attributes["price"] == 100
    assert len(catalog.weak_catalog) >= 1


def test_media_type_registry_behind_mapping_proxy():
    enc = formats.negotiate(next(_n), pretty=False)
    assert enc.encode({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'


def test_media_type_registry_replaced_in_place():
    enc = formats.negotiate_fixed(next(_n), pretty=False)
    assert enc.encode({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'


def test_accessors_set_on_class_per_pivot_column():
    day = f"d{next(_n)}"
    cls = models.bind_columns(models.PivotRow, ["region", day])
    assert cls({"region": "eu", day: 7}).get_region() == "eu"


def test_accessors_set_on_class_fixed_columns():
    cls = models.bind_columns(models.FixedRow, ["region", "total"])
    assert cls({"region": "eu", "total": next(_n)}).get_region() == "eu"


def test_schema_class_per_call_in_subclass_registry():
    # marshmallow-code/marshmallow#732: type('MsgSchema', (Schema,), {}) per call.
    schema = models.schema_for(["id", "body"])
    assert schema().dump({"id": next(_n), "body": "hi", "x": 0})["body"] == "hi"


def test_schema_class_cached_by_fields():
    schema = models.schema_for_cached(["id", "body"])
    assert schema().dump({"id": next(_n), "body": "hi", "x": 0})["body"] == "hi"


def test_rules_module_left_in_sys_modules():
    # PolicyEngine/policyengine-core#520, PrefectHQ/prefect#21692.
    owner = object()
    assert loader.load_rules(RULES, owner)["LIMIT"] == 3


def test_rules_module_popped_from_sys_modules():
    owner = object()
    assert loader.load_rules_fixed(RULES, owner)["LIMIT"] == 3


def test_row_type_per_file_registered_with_copyreg():
    rows = models.record_type_registered("Row", ("id", "amount"))
    row = rows(next(_n), 10)
    # copy goes through copyreg's dispatch table too (pickle.loads is not used: on
    # 3.11 and 3.13 unpickling a reference to a module-level function keeps 64 B a call)
    assert pickle.dumps(row)
    assert copy.copy(row).amount == 10


def test_row_type_made_once_per_header():
    rows = models.record_type("Row", ("id", "amount"))
    row = rows(next(_n), 10)
    # copy goes through copyreg's dispatch table too (pickle.loads is not used: on
    # 3.11 and 3.13 unpickling a reference to a module-level function keeps 64 B a call)
    assert pickle.dumps(row)
    assert copy.copy(row).amount == 10


def test_render_keeps_contexts_in_worker_thread_local():
    # celery/celery#1976, cherrypy/cherrypy#496: thread-local state of a reused thread.
    n = next(_n)
    assert loader.render_debug("order {id} for {user}", id=n, user="alice").startswith("order")


def test_render_thread_local_replaced_per_task():
    n = next(_n)
    assert loader.render("order {id} for {user}", id=n, user="alice").startswith("order")
