"""``ChangeWatch``: what ``sessionChanges`` looks at each tick. Its first look reads the
sessions its filter matches (up to ``MAX_WATCHED``, once); every later look reads only the
sessions updated since the last one (``updated_at`` order after a cursor, paged), and one
count of the filter, so a tick's cost follows what changed, not how many sessions exist.
A session that left without an update (deleted, expired) lowers the count: only then is the
filter read whole again to name it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graph_sessions.core.listing import encode_cursor
from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.models import SessionInfo

#: the first look (and a look after a session left unseen) reads at most this many sessions
MAX_WATCHED = 1000
#: a later look reads the sessions updated since the last one in pages of this many
CHANGES_PAGE = 100


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
        self.statuses = set(statuses) if statuses else None
        self.filters = filters
        self.known: dict[str, SessionInfo] = {}  # matching sessions by id
        self.cursor: str | None = None  # after the last session updated we read
        self.count = 0  # sessions the filter matched at the last look
        self.started = False

    def _matches(self, info: SessionInfo) -> bool:
        return self.statuses is None or info.status.value in self.statuses

    async def _whole(self) -> dict[str, SessionInfo]:
        page = await self.manager.list(
            list(self.statuses) if self.statuses else None,
            sort="updated_at",
            order="desc",
            limit=MAX_WATCHED,
            **self.filters,
        )
        return {s.session_id: s for s in page.sessions}

    async def _count(self) -> int:
        return await self.manager.count(
            list(self.statuses) if self.statuses else None, **self.filters
        )

    async def start(self) -> None:
        """The first look: the sessions matching now, and where updates start."""
        self.known = await self._whole()
        newest = await self.manager.list(sort="updated_at", order="desc", limit=1, **self.filters)
        self.cursor = encode_cursor(newest.sessions[0], "updated_at") if newest.sessions else None
        self.count = await self._count()
        self.started = True

    async def look(self) -> list[Change]:
        """The changes since the last look (the first look answers none)."""
        if not self.started:
            await self.start()
            return []
        changes: list[Change] = []
        while True:
            page = await self.manager.list(
                sort="updated_at",
                order="asc",
                limit=CHANGES_PAGE,
                cursor=self.cursor,
                **self.filters,
            )
            for row in page.sessions:
                before = self.known.get(row.session_id)
                if self._matches(row):
                    self.known[row.session_id] = row
                    if before is None or before.status != row.status:
                        prev = before.status if before is not None else None
                        changes.append(Change(row, prev, removed=False))
                elif before is not None:
                    del self.known[row.session_id]
                    changes.append(Change(before, before.status, removed=True))
            if page.sessions:
                self.cursor = encode_cursor(page.sessions[-1], "updated_at")
            if page.next_cursor is None:
                break
        count = await self._count()
        if count < len(self.known) or count < self.count + sum(
            1 if not c.removed else -1 for c in changes if c.previous_status is None or c.removed
        ):
            # a session left without an update (deleted, expired): read the filter whole
            seen = await self._whole()
            for sid, row in list(self.known.items()):
                if sid not in seen:
                    del self.known[sid]
                    changes.append(Change(row, row.status, removed=True))
            self.known.update(seen)
        self.count = count
        return changes
