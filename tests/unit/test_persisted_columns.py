"""Column tables in a persisted file (``analyzer.graph.persisted``): what is loaded equals what was saved,
one object stays one object (within a table, across tables, with the rest of the pickle), the pickler's
memo no longer holds the tables' objects, and a planted file cannot use the tables to get anything
made that a persisted context is not made of."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analyzer.graph import persisted
from analyzer.network.addr import Net
from analyzer.network.documents import NetworkDocuments
from analyzer.network.model import Eni, SgRule

HEAD = {"what": "a test"}


def _world(n: int = 500) -> tuple[dict[str, Any], list[Any]]:
    nets = [Net(4, 10_000 + i, 10_000 + i) for i in range(n)]
    enis = [
        Eni(f"eni-{i}", "111111111111", "vpc-1", None, [nets[i]], [], [f"sg-{i % 7}", "sg-shared"])
        for i in range(n)
    ]
    rules = [SgRule(f"sg-{i % 7}", "ingress", 6, 443, 443, net=nets[i], rule_id=f"r{i}") for i in range(n)]
    obj = {
        "enis": {e.id: e for e in enis},
        "by_address": {(4, e.ips[0].lo): e for e in enis},
        "rules": rules,
        "loose": Net(4, 1, 1),  # of a table's class, in no table: pickled as it is
        "first_id": enis[0].id,
    }
    return obj, [nets, rules, enis]


def _roundtrip(tmp_path: Path, obj: Any, columns: list[Any]) -> Any:
    path = tmp_path / "ctx.pkl"
    persisted.save(obj, path, HEAD, columns)
    return persisted.load(path, HEAD)


def test_what_is_loaded_equals_what_was_saved_and_shares_as_it_did(tmp_path: Path) -> None:
    obj, columns = _world()
    got = _roundtrip(tmp_path, obj, columns)
    assert got["enis"] == obj["enis"] and got["rules"] == obj["rules"] and got["loose"] == obj["loose"]
    e0 = got["enis"]["eni-0"]
    assert got["by_address"][(4, 10_000)] is e0  # one interface, named from two places
    assert got["rules"][0].net is e0.ips[0]  # an address held by a rule and an interface (two tables)
    assert got["first_id"] is e0.id  # a string shared by a column and the rest of the pickle
    assert e0.groups[1] is got["enis"]["eni-1"].groups[1]  # a string in two objects' list fields
    assert e0.ips is not got["enis"]["eni-1"].ips and e0.groups is not got["enis"]["eni-1"].groups
    e0.groups.append("sg-new")  # each object's list is its own, as it was
    assert got["enis"]["eni-1"].groups == ["sg-1", "sg-shared"]


def test_the_memo_no_longer_holds_the_tables_objects() -> None:
    obj, columns = _world(2000)

    def memo_size(pickler: pickle.Pickler) -> int:
        return len(pickler.memo.copy())

    plain = pickle.Pickler(io.BytesIO(), protocol=5)
    plain.dump(obj)
    col = persisted._Columnar(io.BytesIO(), persisted._tables(columns), None)
    col.write(obj)
    # 6,000 objects and their 6,000 constructor tuples, 4,000 lists of the interfaces: not memoized
    assert memo_size(col) < memo_size(plain) - 15_000, (memo_size(col), memo_size(plain))


def test_a_table_must_come_after_the_tables_it_refers_to(tmp_path: Path) -> None:
    obj, (nets, _rules, enis) = _world(20)
    with pytest.raises(ValueError, match="Net is referred to before its column table"):
        persisted.save(obj, tmp_path / "ctx.pkl", HEAD, [enis, nets])
    assert not (tmp_path / "ctx.pkl").exists()


def test_only_constructor_pickled_dataclasses_make_tables(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="only a dataclass pickled through its constructor"):
        persisted.save({}, tmp_path / "ctx.pkl", HEAD, [[NetworkDocuments({})]])


def test_time_arrays_are_out_of_band_and_mapped_from_the_file(tmp_path: Path) -> None:
    times = np.arange(100_000, dtype=np.int64).astype("M8[s]")
    spans = (times[1:] - times[:-1]).astype("m8[ms]")
    got = _roundtrip(tmp_path, {"t": times, "d": spans}, [])
    assert got["t"].dtype == times.dtype and (got["t"] == times).all() and (got["d"] == spans).all()
    assert not got["t"].flags.owndata  # a view of the mapped file, not a copy made from the pickle
    assert (tmp_path / "ctx.pkl").stat().st_size < 10_000  # NumPy alone would write 800 KB in the pickle


def test_network_documents_come_back_whole(tmp_path: Path) -> None:
    text = json.dumps(
        {"ec2-DescribeSecurityGroups": {"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": []}]}}
    )
    docs = NetworkDocuments({"111111111111/us-east-1": text, "222222222222/eu-west-1": "{}"})
    docs.indexed()
    got = _roundtrip(tmp_path, docs, [])
    assert dict(got) == dict(docs)
    assert got.locate("ec2-DescribeSecurityGroups", "sg-1") == ("111111111111/us-east-1", 0)


# -- what a person who can write the directory can plant --------------------------------------------------
class _Boom:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.system, (f"touch {self.marker}",))


class _Pid(pickle.Pickler):
    def __init__(self, file: Any, pid: Any) -> None:
        super().__init__(file, protocol=5)
        self.pid = pid

    def persistent_id(self, obj: Any) -> Any:
        return self.pid if isinstance(obj, str) and obj == "here" else None


def _planted(tmp_path: Path, *pickles: Any, pid: Any = None) -> Path:
    """A file with the header ``load`` expects, whose body is ``pickles`` one after another."""
    path = tmp_path / "ctx.pkl"
    persisted.save({}, path, HEAD)
    line = path.read_bytes().split(b"\n", 1)[0]
    body = io.BytesIO()
    p = _Pid(body, pid)
    for x in pickles:
        p.dump(x)
    path.write_bytes(line + b"\n" + body.getvalue())
    return path


def test_a_persistent_id_outside_the_tables_is_refused(tmp_path: Path) -> None:
    for pid in (8 * 5, 3, -8, "os.system", (0, 0)):
        path = _planted(tmp_path, (persisted.MANIFEST, []), ["here"], pid=pid)
        with pytest.raises(persisted.Refused, match="persistent id"):
            persisted.load(path, HEAD)


def test_a_table_of_a_class_a_context_is_not_made_of_is_refused(tmp_path: Path) -> None:
    import subprocess

    path = _planted(tmp_path, (persisted.MANIFEST, [(subprocess.Popen, 1, ["values"])]), ["true"], {})
    with pytest.raises(persisted.Refused, match=r"subprocess\.Popen"):
        persisted.load(path, HEAD)


def test_a_column_cannot_carry_a_call(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    layout = ["values"] * 3
    path = _planted(tmp_path, (persisted.MANIFEST, [(Net, 1, layout)]), [_Boom(marker)], [1], [1], {})
    with pytest.raises(persisted.Refused):
        persisted.load(path, HEAD)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("columns", "why"),
    [
        (([4, 4], [1], [1]), "not a list of 1 values"),  # a column longer than its table
        (("4", [1], [1]), "not a list of 1 values"),  # not a list at all
    ],
)
def test_a_column_that_does_not_fit_its_table_is_refused(
    tmp_path: Path, columns: tuple[Any, ...], why: str
) -> None:
    path = _planted(tmp_path, (persisted.MANIFEST, [(Net, 1, ["values"] * 3)]), *columns, {})
    with pytest.raises(pickle.UnpicklingError, match=why):
        persisted.load(path, HEAD)


def test_list_fields_whose_lengths_do_not_add_up_are_refused(tmp_path: Path) -> None:
    layout = ["values", "values", "values", "values", "flat", "flat", "flat", "values", "values"]
    cols: list[Any] = [["eni-1"], ["1"], [None], [None], [2], [Net(4, 1, 1)], [0], [], [0], [], [None], ["x"]]
    path = _planted(tmp_path, (persisted.MANIFEST, [(Eni, 1, layout)]), *cols, {})
    with pytest.raises(pickle.UnpicklingError, match="do not add up"):
        persisted.load(path, HEAD)


def test_a_file_without_a_manifest_is_not_read(tmp_path: Path) -> None:
    path = _planted(tmp_path, {"a": 1})
    with pytest.raises(pickle.UnpicklingError, match="no column manifest"):
        persisted.load(path, HEAD)


def test_objects_made_field_by_field_equal_those_the_constructor_makes() -> None:
    from dataclasses import dataclass, field

    @dataclass(frozen=True, slots=True)
    class Plain:
        a: int
        b: str = "default"

    @dataclass(slots=True)
    class Checked:
        a: int
        seen: list[int] = field(default_factory=list)

        def __post_init__(self) -> None:
            self.seen.append(self.a)  # only the constructor runs this: such a class is called per row

    cols: list[list[Any]] = [[1, 2, 3], ["x", "y", "z"]]
    made = persisted._made(Plain, ["a", "b"], cols, 3)
    assert made == [Plain(1, "x"), Plain(2, "y"), Plain(3, "z")] and made[0] is not made[1]
    checked = persisted._made(Checked, ["a", "seen"], [[1, 2], [[], []]], 2)
    assert [c.seen for c in checked] == [[1], [2]]

    @dataclass
    class Base:
        a: int
        seen: list[int] = field(default_factory=list)

        def __post_init__(self) -> None:
            self.seen.append(self.a)

    @dataclass(slots=True)
    class Inherits(Base):  # every field has its slot here, the __post_init__ is its base's
        pass

    inherited = persisted._made(Inherits, ["a", "seen"], [[1, 2], [[], []]], 2)
    assert [c.seen for c in inherited] == [[1], [2]]


def test_a_save_while_a_load_reads_never_pairs_two_files(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "ctx.pkl"
    persisted.save({"v": np.arange(10)}, path, HEAD)
    real = persisted._mapped

    def racing(p: Path, head: dict[str, Any]) -> Any:
        persisted.save({"v": np.arange(10) * 2, "w": 1}, path, HEAD)  # another process, meanwhile
        return real(p, head)

    monkeypatch.setattr(persisted, "_mapped", racing)
    assert persisted.load(path, HEAD) is None  # the first file's arrays went with the save: rebuilt
    monkeypatch.setattr(persisted, "_mapped", real)
    got = persisted.load(path, HEAD)
    assert got["w"] == 1 and got["v"].tolist() == [2 * i for i in range(10)]  # the newer one, whole


def _generation(obj: Any) -> int | None:
    import gc

    return next((g for g in range(3) if any(o is obj for o in gc.get_objects(generation=g))), None)


def test_what_is_loaded_is_left_out_of_the_young_collections(tmp_path: Path) -> None:
    """A loaded context is kept: it goes to the collector's oldest generation, where only a full collection
    scans it, not the young ones that follow (at L they scanned nine million objects, 1.2-2.4 s)."""
    import gc

    gc.unfreeze()  # as a fresh process is (a test before may have scored with the heap left frozen)
    obj, columns = _world()
    got = _roundtrip(tmp_path, obj, columns)
    assert _generation(got) == 2 and _generation(got["rules"]) == 2 and _generation(got["enis"]["eni-3"]) == 2
    assert gc.get_freeze_count() == 0  # moved, not frozen: a full collection still sees it


def test_a_process_that_froze_its_heap_keeps_it_frozen_when_it_loads(tmp_path: Path) -> None:
    """A batch freezes its context (forked workers then share its pages untouched); a load in that process
    must not hand the frozen heap back to the collector."""
    import gc

    kept = [[i] for i in range(100)]
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        obj, columns = _world()
        got = _roundtrip(tmp_path, obj, columns)
        assert gc.get_freeze_count() > before and _generation(kept) is None and _generation(got) is None
    finally:
        gc.unfreeze()
