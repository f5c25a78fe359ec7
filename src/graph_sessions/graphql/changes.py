"""``ChangeWatch``: what ``sessionChanges`` looks at each tick. Its first look reads the
sessions its filter matches (up to ``MAX_WATCHED``, once); every later look reads only the
sessions updated since the last one (``updated_at`` order, paged, from :data:`LOOKBACK`
before the newest update seen, so a write that committed late or came from a server whose
clock is a little behind is not missed), and one count of the filter, so a tick's cost
follows what changed, not how many sessions exist. A session that left or entered without
an update (deleted; its TTL passed) makes the count differ from what the watch expects:
only then is the filter read whole again to name it. Membership is the listing's own rule
(``SessionQuery.matches``: a session whose TTL passed is ``expired``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from graph_sessions.core.listing import build_query
from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.models import SessionInfo

#: the first look (and a look after a session left unseen) reads at most this many sessions
MAX_WATCHED = 1000
#: a later look reads the sessions updated since the last one in pages of this many
CHANGES_PAGE = 100
#: how far before the newest update seen a look starts reading again
LOOKBACK = timedelta(seconds=3)


@dataclass(frozen=True)
class Change:
    """A session that appeared in the filter, changed status in it, or left it."""

    info: SessionInfo
    previous_status: Any
    removed: bool


class ChangeWatch:
    """The sessions of one filter (``statuses`` and ``manager.list``'s ``filters``) as last
    seen, and the changes since."""

    def __init__(
        self, manager: GraphSessionManager, statuses: list[str] | None, filters: dict[str, Any]
    ) -> None:
        self.manager = manager
        self.statuses = list(statuses) if statuses else None
        self.filters = filters
        self.known: dict[str, SessionInfo] = {}  # matching sessions by id
        self.complete = True  # ``known`` holds every matching session (fewer than the cap)
        self.count = 0  # sessions the filter matched at the last look
        self.high_water: datetime | None = None  # the newest update read
        self.started = False

    async def _whole(self) -> dict[str, SessionInfo]:
        page = await self.manager.list(
            self.statuses, sort="updated_at", order="desc", limit=MAX_WATCHED, **self.filters
        )
        self.complete = page.next_cursor is None
        return {s.session_id: s for s in page.sessions}

    async def _count(self) -> int:
        return await self.manager.count(self.statuses, **self.filters)

    async def start(self) -> None:
        """The first look: the sessions matching now, and where updates start (taken
        before the read, so an update made meanwhile is read again, not lost)."""
        self.high_water = self.manager.now()
        self.known = await self._whole()
        self.count = await self._count()
        self.started = True

    async def look(self) -> list[Change]:
        """The changes since the last look (the first look answers none)."""
        if not self.started:
            await self.start()
            return []
        query = build_query(self.statuses, self.filters, self.manager.now())  # type: ignore[arg-type]
        since = self.high_water - LOOKBACK if self.high_water is not None else None
        recent = {**self.filters, "updated_after": since, "include_expired": True}
        changes: list[Change] = []
        added = removed = 0
        cursor: str | None = None
        while True:
            page = await self.manager.list(
                sort="updated_at", order="asc", limit=CHANGES_PAGE, cursor=cursor, **recent
            )
            for row in page.sessions:
                if self.high_water is None or row.updated_at > self.high_water:
                    self.high_water = row.updated_at
                before = self.known.get(row.session_id)
                if query.matches(row):
                    self.known[row.session_id] = row
                    if before is None or before.status != row.status:
                        added += before is None
                        prev = before.status if before is not None else None
                        changes.append(Change(row, prev, removed=False))
                elif before is not None:
                    del self.known[row.session_id]
                    removed += 1
                    changes.append(Change(before, before.status, removed=True))
            cursor = page.next_cursor
            if cursor is None:
                break
        count = await self._count()
        expected = len(self.known) if self.complete else self.count + added - removed
        if count != expected:
            # a session left or entered without an update: read the filter whole
            changes.extend(await self._reconcile())
        self.count = count
        return changes

    async def _reconcile(self) -> list[Change]:
        seen = await self._whole()
        changes: list[Change] = []
        for sid, row in seen.items():
            before = self.known.get(sid)
            if before is None or before.status != row.status:
                prev = before.status if before is not None else None
                changes.append(Change(row, prev, removed=False))
        if self.complete:  # what the whole read did not return has left the filter
            for sid, row in self.known.items():
                if sid not in seen:
                    changes.append(Change(row, row.status, removed=True))
            self.known = seen
        else:
            self.known.update(seen)
        return changes
