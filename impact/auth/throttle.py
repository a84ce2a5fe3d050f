"""Sign-in throttling by client, never a lock on the account: a stranger's guesses cannot keep its owner out.

Failed sign-ins are counted per (e-mail address, client address) and per client address across all e-mail
addresses. When a count reaches its limit (PER_ADDRESS_LIMIT, PER_CLIENT_LIMIT) that key pauses: FIRST_PAUSE,
doubling each time the key reaches its limit again, never longer than MAX_PAUSE; a key quiet for FORGET_AFTER
starts again from nothing. So nothing is ever locked for good, and the owner signing in from their own device
is not slowed by someone else's guesses from another one.

Each check is claimed before it is made (under a lock), so parallel attempts cannot make more than the limit's
checks per key either. A throttled attempt still gets one password check (against a dummy hash, in
impact/auth/accounts.py) and the same answer as a wrong password, so it cannot be told apart.

The counts live in the web service's process (each gunicorn worker and each service keeps its own): with W
workers a client gets at most W x PER_ADDRESS_LIMIT checks per address per pause. See docs/operations/security.md.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

PER_ADDRESS_LIMIT = 5  # failed sign-ins for one e-mail address from one client, then a pause
PER_CLIENT_LIMIT = 50  # failed sign-ins from one client, whatever the addresses, then a pause
FIRST_PAUSE = timedelta(minutes=1)
MAX_PAUSE = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)  # a key with no failure for this long starts again: no count, first pause
MAX_KEYS = 100_000  # beyond this, keys that are not paused are forgotten (memory stays bounded)


@dataclass
class _Count:
    claims: int = 0  # checks claimed since the last pause (failures, and checks under way)
    pauses: int = 0  # how many times it has paused: each pause is twice the one before
    paused_until: datetime | None = None
    last: datetime | None = None


def client_of(remote_addr: str | None, forwarded_for: str | None) -> str:
    """The client's address: the socket's, or the last X-Forwarded-For entry when the socket is a proxy on
    this host or a private network (the documented reverse proxy sets it); never a header from outside."""
    remote = remote_addr or "unknown"
    if not forwarded_for:
        return remote
    try:
        local = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if not (local.is_loopback or local.is_private):
        return remote
    forwarded = forwarded_for.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(forwarded))
    except ValueError:
        return remote


class Throttle:
    """The counts of one web service's process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], _Count] = {}

    @staticmethod
    def _keys(email: str, client: str) -> list[tuple[tuple[str, str], int]]:
        return [((email.strip().lower(), client), PER_ADDRESS_LIMIT), (("", client), PER_CLIENT_LIMIT)]

    def _count(self, key: tuple[str, str], now: datetime) -> _Count:
        count = self._counts.get(key)
        if count is None or (count.last is not None and now - count.last > FORGET_AFTER and not _paused(count, now)):
            count = self._counts[key] = _Count(last=now)
        return count

    def claim(self, email: str, client: str, now: datetime) -> bool:
        """Whether this attempt may check the password; if so it is counted (as a failure until `succeeded`)."""
        with self._lock:
            self._forget_some(now)
            counts = [(self._count(key, now), limit) for key, limit in self._keys(email, client)]
            if any(_paused(count, now) for count, _ in counts):
                return False
            full = [count for count, limit in counts if count.claims >= limit]
            for count in full:  # its checks were claimed by attempts still under way: pause it now
                _pause(count, now)
            if full:
                return False
            for count, _ in counts:
                count.claims += 1
                count.last = now
            return True

    def failed(self, email: str, client: str, now: datetime) -> None:
        """The claimed check found a wrong password: a key whose count is used up pauses."""
        with self._lock:
            for key, limit in self._keys(email, client):
                count = self._counts.get(key)
                if count is not None and count.claims >= limit and not _paused(count, now):
                    _pause(count, now)

    def succeeded(self, email: str, client: str) -> None:
        """The claimed check found the right password: this address's count from this client starts again."""
        with self._lock:
            (address_key, _), (client_key, _) = self._keys(email, client)
            self._counts.pop(address_key, None)
            if (count := self._counts.get(client_key)) is not None and count.claims > 0:
                count.claims -= 1

    def _forget_some(self, now: datetime) -> None:
        if len(self._counts) < MAX_KEYS:
            return
        for key in [key for key, count in self._counts.items() if not _paused(count, now)]:
            del self._counts[key]


def _paused(count: _Count, now: datetime) -> bool:
    return count.paused_until is not None and count.paused_until > now


def _pause(count: _Count, now: datetime) -> None:
    count.paused_until = now + min(MAX_PAUSE, FIRST_PAUSE * (2**count.pauses))
    count.pauses += 1
    count.claims = 0
    count.last = now
