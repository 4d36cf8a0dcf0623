"""schemakit: schemas and validation (batch 33). Validators cached per fresh schema in
a dict and in a WeakKeyDictionary whose values refer to their keys (leaks), beside a
WeakKeyDictionary of detached validators; a model class made per call (cycles) beside
one made per set of fields; exceptions kept in the frame that raised them (cycles)
beside their messages; a schema the test makes refer to itself (clean)."""

import itertools

from schemakit import models, schema

_n = itertools.count(35000)

_CURRENCIES = ("EUR", "USD")


def _order(n):
    return {"id": n, "amount": (n % 7) + 0.25, "note": f"order {n}"}


# --- validators cached per schema object ----------------------------------------------


def test_validator_cache_keyed_by_fresh_schema():
    # Hand-made: a schema object per request, a strong dict keyed by it.
    n = next(_n)
    validate = schema.compile_cached(schema.order_schema(_CURRENCIES[n % 2]))
    assert validate(_order(n) | {"amount": 2.5}) == []


def test_weak_validator_cache_value_refers_to_key():
    # python/cpython#88846 (bpo-44680): the value refers to its key, the entry stays.
    n = next(_n)
    validate = schema.compile_weak(schema.order_schema(_CURRENCIES[n % 2]))
    assert validate({"amount": "12"}) == [
        f"order[{_CURRENCIES[n % 2]}].id: missing",
        f"order[{_CURRENCIES[n % 2]}].amount: expected number, got str",
    ]


def test_weak_validator_cache_detached_values():
    n = next(_n)
    validate = schema.compile_weak_detached(schema.order_schema(_CURRENCIES[n % 2]))
    assert validate({"amount": "12"})[0].endswith(".id: missing")


# --- model classes from schemas -------------------------------------------------------


def test_model_class_made_per_load():
    n = next(_n)
    rows = models.load_rows(schema.order_schema("EUR"), [_order(n), _order(n + 1)])
    assert rows[1]["id"] == n + 1


def test_model_class_cached_per_fields():
    n = next(_n)
    rows = models.load_rows_cached(schema.order_schema("EUR"), [_order(n), _order(n + 1)])
    assert rows[1]["id"] == n + 1


# --- errors collected per field -------------------------------------------------------


def test_field_errors_kept_with_their_tracebacks():
    # Hand-made: the exceptions kept in a list local to the frame they trace back to.
    errors = models.collect_errors(schema.order_schema("USD"), {"amount": 0.5, "note": 3})
    assert sorted(errors) == ["amount", "id", "note"]


def test_field_error_messages_kept():
    errors = models.collect_messages(schema.order_schema("USD"), {"amount": 0.5, "note": 3})
    assert sorted(errors) == ["amount", "id", "note"]


# --- a schema that refers to itself ---------------------------------------------------


def test_recursive_schema_built_by_test():
    # The test makes the cycle (a tree node schema whose children are tree nodes); the
    # project only reads it.
    node = {"type": "object", "required": ["name"], "properties": {"name": {"type": "str"}}}
    node["properties"]["children"] = {"type": "array", "items": node}
    n = next(_n)
    tree = {"name": f"root-{n}", "children": [{"name": "a", "children": [{"name": 1}]}, {}]}
    assert schema.validate_recursive(node, tree) == [
        "$.children[0].children[0].name: expected str",
        "$.children[1].name: missing",
    ]
