"""How well scored results predict what the synthetic enterprise's ground truth says breaks
(``truth.json`` written by ``blastwall synth``).

Per finding, the truth names the services its change really breaks; a result's ``impacted_services`` are
the prediction. Pairs (finding, service) are counted over the findings whose result could see the evidence:
a result that says it has no evidence for the account (``no_evidence_coverage``) predicts nothing and is
counted apart, as ``unknown`` (with how many of them really break something). A measured result whose
impact may reach further than the evidence shows says so (``FLAGS``): its misses
are counted apart from the misses nothing warned about (``missed_unflagged``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

FLAGS = frozenset({"impact_beyond_evidence", "shared_role_writes"})
"""Unknowns by which a result says its impact may reach further than listed."""


@dataclass(frozen=True)
class Accuracy:
    findings: int  # results measured (evidence visible)
    unknown: int  # results that said their account had no evidence
    unknown_that_break: int  # of those, the ones whose change really breaks something
    true_positive: int
    false_positive: int
    false_negative: int
    propagating: int  # measured results whose change cuts observed use
    wide: int  # of those, the ones impacting more than half the services
    truly_wide: int  # findings whose truth breaks more than half the services
    services: int
    flagged: int = 0  # measured results saying the impact may reach further (``FLAGS``)
    missed_unflagged: int = 0  # false negatives in results that do not say so

    @property
    def precision(self) -> float:
        predicted = self.true_positive + self.false_positive
        return self.true_positive / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        real = self.true_positive + self.false_negative
        return self.true_positive / real if real else 1.0

    @property
    def wide_share(self) -> float:
        return self.wide / self.propagating if self.propagating else 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "wide_share": round(self.wide_share, 4),
        }


def accuracy(results: list[dict[str, Any]], truth: dict[str, Any]) -> Accuracy:
    """Precision and recall of ``impacted_services`` (business services only) against the truth.

    >>> truth = {"services": [{"name": n} for n in "abcd"], "findings": {
    ...     "f1": {"breaks": ["a", "b"]}, "f2": {"breaks": []}, "f3": {"breaks": ["c"]}}}
    >>> def r(fid, names, unknown=False, observed=True):
    ...     return {"source": {"finding_id": fid}, "impacted_services": [
    ...         {"name": n, "kind": "business_service"} for n in names],
    ...         "severed": [{"observed": observed}],
    ...         "unknowns": [{"reason": "no_evidence_coverage"}] if unknown else []}
    >>> a = accuracy([r("f1", ["a", "c"]), r("f2", [], observed=False), r("f3", [], unknown=True)], truth)
    >>> (a.true_positive, a.false_positive, a.false_negative, a.unknown, a.unknown_that_break)
    (1, 1, 1, 1, 1)
    >>> round(a.precision, 2), round(a.recall, 2), a.propagating
    (0.5, 0.5, 1)
    """
    findings = truth["findings"]
    total = len(truth["services"])
    tp = fp = fn = measured = unknown = unknown_break = propagating = wide = truly_wide = 0
    flagged = missed_unflagged = 0
    for r in results:
        fid = (r.get("source") or {}).get("finding_id")
        if fid not in findings:
            continue
        real = set(findings[fid]["breaks"])
        if len(real) * 2 > total:
            truly_wide += 1
        if any(u.get("reason") == "no_evidence_coverage" for u in r.get("unknowns") or []):
            unknown += 1
            unknown_break += bool(real)
            continue
        measured += 1
        predicted = {s["name"] for s in r["impacted_services"] if s.get("kind") == "business_service"}
        tp += len(predicted & real)
        fp += len(predicted - real)
        fn += len(real - predicted)
        if {u.get("reason") for u in r.get("unknowns") or []} & FLAGS:
            flagged += 1
        else:
            missed_unflagged += len(real - predicted)
        if any(s.get("observed") for s in r.get("severed") or []):
            propagating += 1
            wide += len(predicted) * 2 > total
    return Accuracy(
        measured,
        unknown,
        unknown_break,
        tp,
        fp,
        fn,
        propagating,
        wide,
        truly_wide,
        total,
        flagged,
        missed_unflagged,
    )
