"""The staff Slack user group (COMPTOIR_STAFF_USERGROUP): who is in it, asked of Slack at most
once per ttl.

Staff are who the directory names, plus the members of this group when one is configured.
Membership is read with usergroups.users.list (scope usergroups:read). A click must not wait on
Slack every time, so the list is cached; when Slack fails, the last known list keeps serving
(a Slack outage does not lock staff out), and before any success the list is empty, so an
error never grants anyone staff rights.

A refresh runs in its own thread and a caller waits for it at most `max_wait` seconds: the
`/comptoir` reply is the command's ack, which Slack drops after 3 s, so a slow Slack answer
must not hold it. A caller that stops waiting gets the last known list; the refresh lands
for the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

logger = logging.getLogger(__name__)

# after a failure, try again sooner than the ttl: a group member locked out at start-up by a
# transient error should not wait the full ttl
RETRY_AFTER_FAILURE = 30.0


class UsergroupMembers:
    """`members()` -> the group's user ids, cached for `ttl` seconds (thread-safe)."""

    def __init__(
        self,
        client: WebClient,
        usergroup_id: str,
        *,
        ttl: float = 300.0,
        max_wait: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.usergroup_id = usergroup_id
        self.ttl = ttl
        self.max_wait = max_wait
        self.clock = clock
        self._members: frozenset[str] = frozenset()
        self._next_fetch: float | None = None  # None: never asked yet
        # one refresh at a time: the other callers wait for its answer instead of all asking
        self._refreshing: threading.Thread | None = None
        self._lock = threading.Lock()

    def members(self) -> frozenset[str]:
        with self._lock:
            now = self.clock()
            stale = self._next_fetch is None or now >= self._next_fetch
            if stale and self._refreshing is None:
                self._refreshing = threading.Thread(
                    target=self._refresh, args=(now,), name="staff-usergroup", daemon=True
                )
                self._refreshing.start()
            refreshing = self._refreshing
        if refreshing is not None:
            refreshing.join(self.max_wait)
        with self._lock:
            return self._members

    def _refresh(self, now: float) -> None:
        members: frozenset[str] | None = None
        try:
            response = self.client.usergroups_users_list(usergroup=self.usergroup_id)
            users = response.get("users")
            if not isinstance(users, list):
                raise ValueError(f"no user list in the answer: {response.data!r}")
            members = frozenset(str(u) for u in users)
        except (SlackApiError, SlackClientError, OSError, ValueError):
            # OSError: the client's timeout or a refused connection (urllib raises them raw)
            logger.exception(
                "staff user group %s unreadable; keeping the %d members last known",
                self.usergroup_id,
                len(self._members),
            )
        finally:  # whatever happened, the next caller past the deadline may ask again
            with self._lock:
                if members is not None:
                    self._members = members
                    self._next_fetch = now + self.ttl
                else:
                    self._next_fetch = now + min(self.ttl, RETRY_AFTER_FAILURE)
                self._refreshing = None
