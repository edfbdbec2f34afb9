"""The business world behind the synthetic enterprise (``blastwall synth``), drawn before any evidence: which
services exist, how they depend on each other, and what breaks when a workload loses an access. The
evidence, the configuration and the CMDB that ``analyzer.synth`` writes are derived from it; its ground
truth (``truth.json``) is what the scorer's impacted services are measured against.

The world:

- services in tiers (platform, core, application, edge) and a global rank: a service only depends on
  services ranked before it, so the service graph is acyclic, as layered estates mostly are;
- **calls**: a consumer's workload role assumes one of the provider's entry roles (AssumeRole); providers
  are drawn by popularity (platforms and a few core services are used by many); in an account both run in,
  the consumer's interfaces also open connections to the provider's (443 and 8443, 5432 to its database);
- **pipelines**: a producer's job writes a dataset (a bucket) and readers of later rank read it; some
  datasets live on a data platform, written through a role of the platform the job assumes;
- **telemetry**: every service's job writes logs into the logging platform's sink, which the security
  analytics service reads, and the observability platform scrapes every interface in every account (port
  9100); a service going quiet there breaks nobody;
- some trusted principals are never used (stale access a finding would rightly remove).

What breaks: a service whose workload loses an access it uses; then, transitively, every service that
depends on a broken one: its callers, the readers of its datasets, the users of a platform it is. Telemetry
does not carry breakage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TIERS = ("platform", "core", "application", "edge")
TIER_SHARE = (0.06, 0.24, 0.4, 0.3)
PROVIDERS_MEAN = {"platform": 0.3, "core": 1.0, "application": 1.8, "edge": 1.6}


@dataclass
class Role:
    arn: str
    account: str
    service: int
    kind: str  # entry (others assume it) | job (writes datasets and logs) | worker


@dataclass
class Service:
    name: str
    index: int
    tier: str
    rank: int
    home: int  # account index
    roles: list[int] = field(default_factory=list)
    entries: list[int] = field(default_factory=list)
    job: int = -1
    accounts: list[int] = field(default_factory=list)  # where it has interfaces
    database: bool = False


@dataclass(frozen=True)
class Call:
    consumer_role: int
    provider_role: int
    weight: float


@dataclass(frozen=True)
class Pipeline:
    producer: int  # service
    bucket: str
    account: int
    writer_role: int  # the role recorded writing (the job's, or a platform role the job assumes)
    job_role: int
    owner: int  # service owning the bucket
    readers: tuple[tuple[int, int], ...]  # (service, role)


@dataclass
class World:
    accounts: list[str]
    services: list[Service]
    roles: list[Role]
    calls: list[Call]
    pipelines: list[Pipeline]
    log_sink: Pipeline | None
    observability: int  # the service scraping every other's interfaces (-1 if none)
    stale_trust: dict[int, list[int]]  # entry role -> roles it trusts that never use it
    depends: dict[int, dict[int, str]]  # consumer service -> provider service -> how (call, data, storage)

    def breaks(self, cut_roles: set[int]) -> set[int]:
        """The services broken when the roles in ``cut_roles`` lose an access they use: theirs, then every
        service that depends on a broken one."""
        broken = {self.roles[r].service for r in cut_roles}
        users: dict[int, list[int]] = {}
        for consumer, providers in self.depends.items():
            for provider in providers:
                users.setdefault(provider, []).append(consumer)
        todo = list(broken)
        while todo:
            s = todo.pop()
            for u in users.get(s, []):
                if u not in broken:
                    broken.add(u)
                    todo.append(u)
        return broken


def _zipf_weights(n: int, a: float, rng: np.random.Generator) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** a
    return w[rng.permutation(n)]


def draw(
    accounts: list[str],
    n_services: int,
    roles_per_account: int,
    buckets_per_account: int,
    rng: np.random.Generator,
) -> World:
    """The business world: services, their roles, calls, pipelines and telemetry, and who depends on whom."""
    n_acc = len(accounts)
    order = rng.permutation(n_services)  # rank -> service
    rank = np.empty(n_services, np.int64)
    rank[order] = np.arange(n_services)
    bounds = np.cumsum(TIER_SHARE) * n_services
    bounds[0] = max(bounds[0], min(3, n_services))  # logging, security analytics, observability
    services: list[Service] = []
    for i in range(n_services):
        tier = TIERS[int(np.searchsorted(bounds, rank[i], side="right"))]
        home = i % n_acc if i < n_acc else int(rng.integers(0, n_acc))
        services.append(Service(f"svc-{i:04d}", i, tier, int(rank[i]), home))
    # roles: every service homed in an account gets an entry and a job role there; the account's other
    # slots go to its services by size (a few large ones)
    homed: dict[int, list[int]] = {}
    for s in services:
        homed.setdefault(s.home, []).append(s.index)
    roles: list[Role] = []
    for a, acct in enumerate(accounts):
        here = homed.get(a) or [int(rng.integers(0, n_services))]
        size = _zipf_weights(len(here), 1.1, rng)
        extra = rng.choice(len(here), size=max(0, roles_per_account - 2 * len(here)), p=size / size.sum())
        kinds = [(i, "entry") for i in here] + [(i, "job") for i in here]
        kinds += [(here[int(x)], "worker") for x in extra]
        for slot, (si, kind) in enumerate(kinds[: max(roles_per_account, 2 * len(here))]):
            svc = services[si]
            roles.append(Role(f"arn:aws:iam::{acct}:role/{svc.name}-r{slot:03d}", acct, si, kind))
            svc.roles.append(len(roles) - 1)
            if kind == "entry":
                svc.entries.append(len(roles) - 1)
            elif kind == "job" and svc.job < 0:
                svc.job = len(roles) - 1
    for s in services:  # a large service has a second entry point among its workers
        workers = [r for r in s.roles if roles[r].kind == "worker"]
        if len(workers) >= 6:
            roles[workers[0]].kind = "entry"
            s.entries.append(workers[0])
    depends: dict[int, dict[int, str]] = {}

    # --- calls: providers ranked before the consumer, by popularity (platforms first) ------------------
    popularity = _zipf_weights(n_services, 1.2, rng)
    popularity *= np.array([4.0 if s.tier == "platform" else 1.0 for s in services])
    by_rank = [services[int(i)] for i in order]
    calls: list[Call] = []
    for s in by_rank:
        before = [t.index for t in by_rank[: s.rank] if t.entries]
        if not before:
            continue
        k = min(len(before), int(rng.poisson(PROVIDERS_MEAN[s.tier])) + (s.tier != "platform"))
        if k == 0:
            continue
        w = popularity[before]
        chosen = rng.choice(before, size=k, replace=False, p=w / w.sum())
        for p in chosen.tolist():
            provider = services[p]
            consumer_role = int(rng.choice(s.roles))
            entry = int(rng.choice(provider.entries))
            calls.append(Call(consumer_role, entry, float(popularity[p])))
            depends.setdefault(s.index, {})[p] = "call"

    # --- where services run: interfaces in the home account, often one or two more --------------------
    for s in services:
        s.accounts = [s.home]
        for _ in range(int(rng.choice(3, p=[0.5, 0.35, 0.15]))):
            a = int(rng.integers(0, n_acc))
            if a not in s.accounts:
                s.accounts.append(a)
        s.database = s.tier in ("platform", "core") and bool(rng.random() < 0.5)

    # --- pipelines: a producer's job writes a dataset that later-ranked services read --------------------
    data_platforms = [s.index for s in services if s.tier == "platform"][:2]
    used_buckets: dict[int, int] = {}
    pipelines: list[Pipeline] = []
    for s in by_rank:
        if s.tier not in ("core", "application") or rng.random() > 0.6 or s.job < 0:
            continue
        later = [t.index for t in by_rank[s.rank + 1 :]]
        if not later:
            continue
        owner = s.index
        writer = s.job
        if data_platforms and rng.random() < 0.3:  # on the data platform, through a writer role of its own
            platform = services[int(rng.choice(data_platforms))]
            workers = [r for r in platform.roles if roles[r].kind == "worker"]
            if workers:  # one writer role per pipeline while they last (a shared one blurs who wrote)
                owner, writer = platform.index, int(workers[0])
                if len(workers) > 1:
                    roles[writer].kind = "writer"
        a = services[owner].home
        b = used_buckets.get(a, 0)
        if b >= buckets_per_account - (1 if a == services[data_platforms[0]].home else 0):
            continue
        used_buckets[a] = b + 1
        k = min(len(later), 1 + int(rng.poisson(0.8)))
        readers = []
        for r in rng.choice(later, size=k, replace=False).tolist():
            readers.append((r, int(rng.choice(services[r].roles))))
            depends.setdefault(r, {})[s.index] = "data"
            if owner != s.index:
                depends[r].setdefault(owner, "storage")
        if owner != s.index:
            depends.setdefault(s.index, {})[owner] = "call"  # the job assumes the platform's writer role
        bucket = f"synth-{a:03d}-data-{b:03d}"
        pipelines.append(Pipeline(s.index, bucket, a, writer, s.job, owner, tuple(readers)))

    # --- telemetry: everyone's job writes logs, security analytics reads them ---------------------------
    platforms = [s for s in services if s.tier == "platform"]
    log_sink = None
    if len(platforms) >= 2:
        logging_svc, analytics = platforms[0], platforms[1]
        a = logging_svc.home
        b = used_buckets.get(a, 0)
        if b < buckets_per_account:
            used_buckets[a] = b + 1
            reader = analytics.job if analytics.job >= 0 else analytics.roles[0]
            log_sink = Pipeline(
                logging_svc.index,
                f"synth-{a:03d}-data-{b:03d}",
                a,
                -1,
                -1,
                logging_svc.index,
                ((analytics.index, reader),),
            )
            if analytics.index != logging_svc.index:
                depends.setdefault(analytics.index, {})[logging_svc.index] = "storage"

    # --- observability: runs in every account and scrapes every interface there (telemetry again) -------
    observability = platforms[2].index if len(platforms) >= 3 else -1
    if observability >= 0:
        services[observability].accounts = list(range(n_acc))

    # --- stale trust: principals an entry role trusts that never use it ---------------------------------
    stale: dict[int, list[int]] = {}
    for s in services:
        for e in s.entries:
            if rng.random() < 0.25:
                stale[e] = [int(x) for x in rng.choice(len(roles), size=int(rng.integers(1, 3)))]
    return World(accounts, services, roles, calls, pipelines, log_sink, observability, stale, depends)
