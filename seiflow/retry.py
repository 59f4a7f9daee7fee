"""Retry with backoff for MongoDB calls that fail because the server is briefly away.

pymongo already waits up to ``serverSelectionTimeoutMS`` for a server to come back and retries a
read or write once after a network error (retryable reads/writes). seiflow sets that wait from
``Settings.db_wait_s`` (see :func:`seiflow.store.launchpad_config`), which covers an outage shorter
than it for every call, FireWorks' and jobflow's included. :func:`retry_call` adds a second layer
where seiflow itself polls the store in long-lived loops (the local runner), so an outage longer than
one call's wait does not end a run: it keeps trying, with exponential backoff, until ``deadline_s``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from pymongo.errors import AutoReconnect

# AutoReconnect covers ServerSelectionTimeoutError, NetworkTimeout, NotPrimaryError and
# connection resets: the errors that go away when the server comes back. Others (auth, bad queries,
# duplicate keys) are not retried.
TRANSIENT = (AutoReconnect,)

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)


def backoff_delays(base_s: float = 0.5, factor: float = 2.0, max_s: float = 8.0):
    """Endless delays base, base*factor, ... capped at ``max_s`` (seconds)."""
    delay = base_s
    while True:
        yield min(delay, max_s)
        delay *= factor


def retry_call(
    func: Callable[P, T],
    *args: P.args,
    deadline_s: float = 300.0,
    base_s: float = 0.5,
    max_s: float = 8.0,
    **kwargs: P.kwargs,
) -> T:
    """Call ``func(*args, **kwargs)``, retrying transient MongoDB errors with backoff for ``deadline_s``.

    The last error is raised once the deadline has passed. Messages logged name only the error type,
    never the connection string (which may hold a password).
    """
    start = time.monotonic()
    delays = backoff_delays(base_s, max_s=max_s)
    while True:
        try:
            return func(*args, **kwargs)
        except TRANSIENT as exc:
            waited = time.monotonic() - start
            if waited >= deadline_s:
                raise
            delay = min(next(delays), max(deadline_s - waited, 0.0))
            log.warning("database unreachable (%s); retrying in %.1f s", type(exc).__name__, delay)
            time.sleep(delay)


def retrying(
    deadline_s: float = 300.0, base_s: float = 0.5, max_s: float = 8.0
) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorator form of :func:`retry_call`."""

    def wrap(func: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(func)
        def inner(*args: P.args, **kwargs: P.kwargs) -> T:
            return retry_call(func, *args, deadline_s=deadline_s, base_s=base_s, max_s=max_s, **kwargs)

        return inner

    return wrap
