"""What Blastwall needs of a ticket system, and the answers it reads back: one adapter per system
(``servicenow``, ``jira``), each a module with ``from_env()``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from analyzer.change_requests.content import RequestContent


@dataclass(frozen=True)
class Opened:
    system: str
    number: str  # what people call it: CHG0030001, SEC-42
    ref: str  # what the API addresses it by: a sys_id, an issue key
    url: str


@dataclass(frozen=True)
class Approval:
    account: str  # the system's user: a ServiceNow user_name, a Jira accountId
    state: str  # approved | rejected | requested | other
    comment: str
    at: str


@dataclass(frozen=True)
class Seen:
    """A change request as the system holds it now."""

    proposal_id: str | None  # what it says it is for (ServiceNow correlation_id, a Jira label)
    description: str
    approvals: tuple[Approval, ...]


class TicketSystem(Protocol):
    name: str

    def open(self, content: RequestContent) -> Opened: ...

    def read(self, ref: str) -> Seen: ...

    def close(self) -> None: ...
