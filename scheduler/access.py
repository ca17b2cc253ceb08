"""Who is calling, and what each role may see and change of a record.

Which role may call which RPC is a table at the edge (:mod:`scheduler.api.auth`); this
module holds the checks that need the record itself: an applicant reads and changes
only its own organisation's requests, and a cluster agent reports only for its own
cluster.  The service calls them before any write, so a refusal changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scheduler.domain import Change, ClusterRecord, RequestSpec, Role, TokenRecord
from scheduler.errors import PermissionDenied


@dataclass(frozen=True)
class Principal:
    """The caller: a token's owner, the public (no token, ``role`` None) or the service itself."""

    id: str
    role: Role | None
    org: str | None = None
    cluster: str | None = None

    @classmethod
    def of(cls, token: TokenRecord) -> Principal:
        return cls(id=token.name or token.id, role=token.role, org=token.org, cluster=token.cluster)

    def change(self, action: str, at: datetime, reason: str = "") -> Change:
        """The audit record of a write this caller makes."""
        if self.role is None:
            raise PermissionDenied("the public may only read the ledger")
        return Change(actor=self.id, role=self.role, at=at, action=action, reason=reason)

    @property
    def is_applicant(self) -> bool:
        return self.role is Role.APPLICANT


PUBLIC = Principal(id="public", role=None)
SYSTEM = Principal(id="allmende", role=Role.SYSTEM)


def require_org(who: Principal, org: str, action: str) -> None:
    """Applicants act only on their own organisation's requests; other roles pass."""
    if who.is_applicant and who.org != org:
        raise PermissionDenied(f"an applicant of {who.org!r} may not {action} a request of {org!r}")


def require_cluster(who: Principal, cluster: str, action: str) -> None:
    """Cluster agents act only for their own cluster; other roles pass."""
    if who.role is Role.CLUSTER_AGENT and who.cluster != cluster:
        raise PermissionDenied(f"the agent of cluster {who.cluster!r} may not {action} cluster {cluster!r}")


def require_merit_unset(who: Principal, spec: RequestSpec, action: str, current: float | None = None) -> None:
    """Merit is the peer-review score: operators set it, an applicant may not score its own request."""
    if who.is_applicant and "merit" in spec.model_fields_set and spec.merit != current:
        raise PermissionDenied(f"an applicant may not {action} a merit score; merit comes from peer review "
                               "and is set by an operator")


def execution_fields(who: Principal, record: ClusterRecord) -> tuple[str, ...]:
    """The execution-target field of a registration, for the callers that may set it.

    Where a cluster runs jobs is the operator's choice: an agent that could set it could point the
    service's job submissions anywhere.  So an agent that sends a target is refused, and an agent's
    re-registration (no target) keeps the one an operator stored.
    """
    if who.role is not Role.CLUSTER_AGENT:
        return ("execution",)
    if record.execution is not None:
        raise PermissionDenied("only an operator may set a cluster's execution target; cluster agents register "
                               "without one")
    return ()
