"""Rules shared by every store: compare-and-set checks, audit entries, cursors and token hashing.

Implementations differ in how they keep records, not in what a write means, so each rule lives here
once and both the fake and the SQL store call it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from scheduler.domain import Change, IssuedToken, RequestRecord, RequestSpec, Role, TokenRecord, new_id
from scheduler.errors import Conflict, InvalidInput, Unauthenticated
from scheduler.states import Kind, transition

TOKEN_PREFIX = "alm_"


def check_update(kind: Kind, id: str, stored_state: str, stored_version: int, new_state: str, version: int) -> None:
    """Raise before writing anything: ``Conflict`` if the caller read another version, or ``InvalidTransition``."""
    if stored_version != version:
        raise Conflict(f"{kind} {id!r} is at version {stored_version}, not {version}: re-read and retry")
    if new_state != stored_state:
        transition(kind, stored_state, new_state)


def audit_row(subject: str, by: Change, before: str | None, after: str | None) -> dict[str, Any]:
    """The columns of one audit entry, without ``seq`` (the store assigns it)."""
    return {
        "at": by.at,
        "actor": by.actor,
        "role": by.role.value,
        "action": by.action,
        "subject": subject,
        "reason": by.reason,
        "before": before,
        "after": after,
    }


def new_request(spec: RequestSpec, id: str, by: Change) -> RequestRecord:
    return RequestRecord(**spec.model_dump(), id=id, submitted_at=by.at, updated_at=by.at)


def same_submission(stored: RequestRecord, spec: RequestSpec) -> RequestRecord:
    """Idempotent replay: the stored request if the content matches, else ``Conflict``."""
    if stored.spec() != spec:
        raise Conflict(
            f"idempotency key {spec.idempotency_key!r} of {spec.org!r} was used for request {stored.id!r} "
            "with different content"
        )
    return stored


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The last ``seq`` already returned (0 for the first page); a forged cursor is bad input."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "seq":
            raise ValueError(kind)
        return int(value)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInput("page.cursor", "not a cursor this service returned") from e


def hash_secret(salt: str, secret: str) -> str:
    """HMAC-SHA256 keyed by the per-token salt: a leaked table reveals no usable bearer string."""
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


def issue_token(
    role: Role, *, by: Change, org: str | None, cluster: str | None, name: str, id: str | None = None
) -> IssuedToken:
    """A fresh token: 256 random bits of secret, of which only the salted hash is kept."""
    if role is Role.APPLICANT and not org:
        raise InvalidInput("org", "an applicant token must name its organisation")
    if role is Role.CLUSTER_AGENT and not cluster:
        raise InvalidInput("cluster", "a cluster-agent token must name its cluster")
    if role is Role.SYSTEM:
        raise InvalidInput("role", "the system role is internal and has no tokens")
    if len(name) > 200:
        raise InvalidInput("name", "at most 200 characters")
    token_id = id or new_id("tok")
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    record = TokenRecord(
        id=token_id,
        role=role,
        org=org,
        cluster=cluster,
        name=name,
        salt=salt,
        secret_hash=hash_secret(salt, secret),
        created_at=by.at,
    )
    return IssuedToken(record=record, bearer=f"{TOKEN_PREFIX}{token_id}.{secret}")


def split_bearer(bearer: str) -> tuple[str, str]:
    """``alm_<id>.<secret>`` into its parts, or ``Unauthenticated``."""
    body = bearer.removeprefix("Bearer ").strip()
    if not body.startswith(TOKEN_PREFIX) or "." not in body:
        raise Unauthenticated("malformed bearer token")
    token_id, _, secret = body[len(TOKEN_PREFIX) :].rpartition(".")
    if not token_id or not secret:
        raise Unauthenticated("malformed bearer token")
    return token_id, secret


def verify_token(record: TokenRecord | None, secret: str) -> TokenRecord:
    """The record if the secret matches and the token is live; one message for every failure."""
    if record is None:
        hash_secret("00" * 16, secret)  # same work whether or not the id exists
        raise Unauthenticated("invalid or revoked token")
    if not hmac.compare_digest(record.secret_hash, hash_secret(record.salt, secret)) or record.revoked:
        raise Unauthenticated("invalid or revoked token")
    return record


def revoked(record: TokenRecord, at: datetime) -> TokenRecord:
    if record.revoked_at is not None:
        return record
    return record.model_copy(update={"revoked_at": at})
