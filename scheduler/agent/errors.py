"""The one error the agent stops on: bad configuration or a refusal that retrying cannot fix."""

from __future__ import annotations


class AgentError(Exception):
    """Reported on one line; the agent exits instead of retrying."""
