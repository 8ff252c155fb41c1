"""Cooperative cancellation: the runner and long loops call ``check()``."""

from __future__ import annotations

import threading

from .errors import Cancelled


class CancelToken:
    """A flag another thread can set; ``check()`` raises Cancelled once it is set."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("run cancelled")


def check_cancel(token: CancelToken | None) -> None:
    """Raise Cancelled if ``token`` is set; a missing token never cancels."""
    if token is not None:
        token.check()
