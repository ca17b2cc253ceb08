"""Bearer tokens: issued with 256 random bits of secret, kept only as a salted hash, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from scheduler.domain import Change, IssuedToken, Role, TokenRecord, new_id
from scheduler.errors import InvalidInput, Unauthenticated

TOKEN_PREFIX = "alm_"


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
    if org and role is not Role.APPLICANT:  # a scope the role ignores would look like a limit that is not there
        raise InvalidInput("org", f"only applicant tokens name an organisation, not {role} tokens")
    if cluster and role is not Role.CLUSTER_AGENT:
        raise InvalidInput("cluster", f"only cluster-agent tokens name a cluster, not {role} tokens")
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
