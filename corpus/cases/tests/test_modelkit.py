"""ORM sessions, generated models, typed containers."""

import copy
import itertools

from modelkit import orm

_n = itertools.count()


def test_identity_map_never_cleared():
    # podly-pure-podcasts/podly_pure_podcasts#199: rows stay in the scoped session.
    assert orm.process_episode(orm.default_session, 3) >= 3


def test_identity_map_cleared():
    assert orm.process_episode_fixed(orm.Session(), 3) == 0


def test_weak_identity_map():
    # sqlalchemy/sqlalchemy#4616: memory stays flat once nothing holds the rows.
    assert orm.process_episode(orm.weak_session, 3) == 0


def test_create_model_registry():
    # pydantic/pydantic#11958: dynamically created models are never purged.
    model = orm.create_model(f"Dyn{next(_n)}", name=str, price=float)
    assert model(1).pk == 1


def test_model_cached_by_shape():
    assert orm.model_for_shape("name", "price") is orm.model_for_shape("price", "name")


def test_throwaway_model_class():
    # pydantic/pydantic#6727, python-attrs/attrs#1047: classes made per call die in cycles.
    assert orm.throwaway_model("Temp").validate()


def test_iterable_validation_keeps_iterators():
    # pydantic/pydantic#9243
    assert orm.validate_iterable([1, 2, 3])


def test_graph_contains_itself():
    # The project's code builds the self-containing structure inside one call.
    assert orm.build_graph("root") == 1


def test_typed_list_containing_itself_for_deepcopy():
    # The test assembles the cycle on purpose, to test deepcopy: the test's cycle.
    items = orm.TypedList(int, [1, 2])
    items.append(items)
    clone = copy.deepcopy(items)
    assert clone[2] is clone


def test_deepcopy_rows():
    rows = [orm.Row(i, name=f"r{i}") for i in range(3)]
    assert [r.pk for r in orm.snapshot(rows)] == [0, 1, 2]
