"""Every slotted dataclass of what a persisted analysis context holds pickles through its constructor:
Python's own pickling of slotted dataclasses calls ``dataclasses.fields()`` per object, which was most of
the time a new process took to load a context at scale L."""

from __future__ import annotations

import dataclasses
import importlib
import pickle
import pkgutil

import analyzer
import analyzer.graph
import analyzer.network
from analyzer.graph.store import StoredEdge, StoredNode
from analyzer.network.addr import Net
from analyzer.network.model import Eni


def _slotted_dataclasses() -> list[type]:
    found = []
    for pkg in (analyzer.graph, analyzer.network):
        for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
            mod = importlib.import_module(info.name)
            for obj in vars(mod).values():
                if (
                    isinstance(obj, type)
                    and obj.__module__ == mod.__name__
                    and dataclasses.is_dataclass(obj)
                    and "__slots__" in obj.__dict__
                ):
                    found.append(obj)
    return found


def test_every_slotted_dataclass_reduces_to_its_constructor() -> None:
    classes = _slotted_dataclasses()
    assert {StoredNode, StoredEdge, Eni, Net} <= set(classes)
    lacking = [c.__qualname__ for c in classes if "__reduce__" not in c.__dict__]
    assert not lacking, f"slotted dataclasses pickled field by field: {lacking}"


def test_objects_come_back_equal() -> None:
    node = StoredNode("arn:aws:iam::1:role/r", "IamRole", {"name": "r"}, "aws", "1", 7, None, "2026-05-01")
    eni = Eni("eni-1", "1", "vpc-1", "subnet-1", [Net(4, 1, 1)], [], ["sg-1"], "i-1")
    for obj in (node, eni, Net(6, 0, 2**64)):
        back = pickle.loads(pickle.dumps(obj, protocol=5))
        assert back == obj and type(back) is type(obj)
