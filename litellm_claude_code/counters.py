"""Counters the provider keeps per request: outcomes by status, tokens by kind (read by ``proxy.metrics``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcomes:
    """Requests answered, by HTTP status."""

    by_status: Counter[int] = field(default_factory=Counter)

    def count(self, status: int) -> None:
        self.by_status[status] += 1

    @contextmanager
    def counted(self) -> Iterator[None]:
        """Count the block as one request: 200, the status its LiteLLM exception carries
        (500 without one), or 499 when it is closed early (the client went away)."""
        status = 499
        try:
            yield
            status = 200
        except Exception as error:
            status = int(getattr(error, "status_code", None) or 500)
            raise
        finally:
            self.count(status)


TOKEN_KINDS = ("input", "cache_read", "cache_write", "output")


@dataclass
class Tokens:
    """Tokens of the answers, per deployment and kind (issue 19): ``input`` is what no cache
    served or stored, ``cache_read`` and ``cache_write`` what the prompt cache read and wrote."""

    by_deployment: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, deployment: str, usage: Any) -> None:
        """Add a LiteLLM ``Usage`` (its prompt tokens include the cache's)."""
        read = int(getattr(usage, "cache_read_input_tokens", None) or 0)
        written = int(getattr(usage, "cache_creation_input_tokens", None) or 0)
        counts = self.by_deployment.setdefault(deployment, Counter())
        counts["input"] += max(0, int(usage.prompt_tokens or 0) - read - written)
        counts["cache_read"] += read
        counts["cache_write"] += written
        counts["output"] += int(usage.completion_tokens or 0)
