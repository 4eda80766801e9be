"""The staff Slack user group (COMPTOIR_STAFF_USERGROUP): who is in it, asked of Slack at most
once per ttl.

Staff are who the directory names, plus the members of this group when one is configured.
Membership is read with usergroups.users.list (scope usergroups:read). A click must not wait on
Slack every time, so the list is cached; when Slack fails, the last known list keeps serving
(a Slack outage does not lock staff out), and before any success the list is empty, so an
error never grants anyone staff rights.
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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.usergroup_id = usergroup_id
        self.ttl = ttl
        self.clock = clock
        self._members: frozenset[str] = frozenset()
        self._next_fetch: float | None = None  # None: never asked yet
        # one caller asks Slack while the others wait for its answer, instead of all asking
        self._lock = threading.Lock()

    def members(self) -> frozenset[str]:
        with self._lock:
            now = self.clock()
            if self._next_fetch is None or now >= self._next_fetch:
                self._refresh(now)
            return self._members

    def _refresh(self, now: float) -> None:
        try:
            response = self.client.usergroups_users_list(usergroup=self.usergroup_id)
            users = response.get("users")
            if not isinstance(users, list):
                raise ValueError(f"no user list in the answer: {response.data!r}")
        except (SlackApiError, SlackClientError, OSError, ValueError):
            # OSError: the client's timeout or a refused connection (urllib raises them raw)
            logger.exception(
                "staff user group %s unreadable; keeping the %d members last known",
                self.usergroup_id,
                len(self._members),
            )
            self._next_fetch = now + min(self.ttl, RETRY_AFTER_FAILURE)
            return
        self._members = frozenset(str(u) for u in users)
        self._next_fetch = now + self.ttl
