"""The raw VPC configuration of a store (``{"<account>/<region>": {"ec2-DescribeX": response}}``) held as
its stored JSON text and decoded on use.

At a thousand accounts the decoded responses were the largest thing in memory (2 GB for 400 MB of
text), although scoring needs them whole only once, to build the network model, and afterwards one
security group or interface per proposal. So: the text is kept, a document is decoded when read (the few
last read are kept decoded), ``locate`` finds a group or interface through an index built in one pass,
and ``item`` decodes only the one response it lies in.
"""

from __future__ import annotations

import json
import pickle
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

RECENT = 4
"""Decoded documents (or single responses of one) kept, most recently read."""

LISTS = {
    "ec2-DescribeSecurityGroups": ("SecurityGroups", "GroupId"),
    "ec2-DescribeNetworkInterfaces": ("NetworkInterfaces", "NetworkInterfaceId"),
}
"""The responses ``locate`` indexes: operation -> (list key, id key)."""

KEPT_ENCODED = frozenset({"ec2-DescribeSecurityGroups"})
"""Items also kept as their own compact JSON when indexed, so the most common network change (a security
group's rules) decodes its group alone (about 700 bytes each: 35 MB at 50,000 groups; interfaces, 15 times
as many, decode their document's interface response instead)."""


_ONLY = {op: msgspec.defstruct("Only", [("r", dict, {})], rename={"r": op}) for op in LISTS}
"""For each indexed operation, a decoder type that skips every other response of a document."""


def _decode(text: str | bytes | memoryview, type_: Any = Any) -> Any:
    try:
        return msgspec.json.decode(text, type=type_)
    except msgspec.DecodeError:
        if type_ is not Any:
            raise
        return json.loads(bytes(text) if isinstance(text, memoryview) else text)  # msgspec refuses NaN


class NetworkDocuments(Mapping[str, dict[str, Any]]):
    """A read-only mapping of document key -> decoded document, backed by the JSON text.

    >>> docs = NetworkDocuments({"111111111111/us-east-1": '{"ec2-DescribeSecurityGroups": '
    ...     '{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": []}]}}'})
    >>> docs.locate("ec2-DescribeSecurityGroups", "sg-1")
    ('111111111111/us-east-1', 0)
    >>> docs.item("ec2-DescribeSecurityGroups", ("111111111111/us-east-1", 0))["GroupId"]
    'sg-1'
    >>> docs.locate("ec2-DescribeSecurityGroups", "sg-2") is None
    True
    """

    def __init__(self, texts: Mapping[str, str | bytes | memoryview]) -> None:
        # held as bytes (a persisted context's are views of its file): pickled as they are, one buffer
        # each, rather than encoded and joined into a copy of every text while the context is written
        self._texts: dict[str, bytes | memoryview] = {
            k: t.encode() if isinstance(t, str) else t for k, t in texts.items()
        }
        self._recent: OrderedDict[tuple[str, str | None], Any] = OrderedDict()
        self._index: dict[str, dict[str, tuple[str, int]]] | None = None
        self._raw: dict[tuple[str, str, int], bytes] = {}
        self._lock = threading.Lock()

    PERSISTABLE = True

    def __getstate__(self) -> dict[str, Any]:
        """The text only (shipped to Dask workers, persisted with an analysis context), one buffer per
        document: out of band where the pickler takes buffers (a persisted context maps them from its
        file), without a copy."""
        with self._lock:  # the index of groups and interfaces too, once built (a pass over every text)
            index, raw = self._index, dict(self._raw)
        return {
            "keys": list(self._texts),
            "texts": [pickle.PickleBuffer(t) for t in self._texts.values()],
            "index": index,
            "raw": raw,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        texts: dict[str, memoryview] = {
            k: memoryview(t) for k, t in zip(state["keys"], state["texts"], strict=True)
        }
        self.__init__(texts)  # type: ignore[misc]
        self._index, self._raw = state.get("index"), state.get("raw") or {}

    def __len__(self) -> int:
        return len(self._texts)

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self._cached((key, None), lambda: _decode(self._texts[key]))

    def locate(self, op: str, item_id: str) -> tuple[str, int] | None:
        """(document key, position in the response's list) of the group or interface ``item_id``."""
        return self.indexed()[op].get(item_id)

    def indexed(self) -> dict[str, dict[str, tuple[str, int]]]:
        """The index ``locate`` reads, built on first use (one pass over every document)."""
        with self._lock:
            if self._index is None:
                self._index = self._build_index()
            return self._index

    def item(self, op: str, where: tuple[str, int]) -> dict[str, Any]:
        """A copy of the item ``locate`` found, decoding only the response of ``op`` in its document."""
        key, i = where
        with self._lock:
            raw = self._raw.get((op, key, i))
        if raw is not None:
            return dict(_decode(raw))
        list_key, _ = LISTS[op]
        response = self._cached((key, op), lambda: _decode(self._texts[key], _ONLY[op]).r)
        return dict(response[list_key][i])

    def _cached(self, key: tuple[str, str | None], build: Any) -> Any:
        with self._lock:
            if key in self._recent:
                self._recent.move_to_end(key)
                return self._recent[key]
        value = build()
        with self._lock:
            self._recent[key] = value
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        return value

    def _build_index(self) -> dict[str, dict[str, tuple[str, int]]]:
        index: dict[str, dict[str, tuple[str, int]]] = {op: {} for op in LISTS}
        raw = self._raw
        for key in sorted(self._texts):
            doc = _decode(self._texts[key])
            for op, (list_key, id_key) in LISTS.items():
                for i, item in enumerate((doc.get(op) or {}).get(list_key) or []):
                    # interned: the network model holds the same ids (one string object for both)
                    index[op].setdefault(sys.intern(str(item.get(id_key))), (key, i))
                    if op in KEPT_ENCODED:
                        raw[(op, key, i)] = msgspec.json.encode(item)
            del doc
        return index
