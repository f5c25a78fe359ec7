"""The Redis backend's key scheme. Every key starts with the deployment's prefix ``P``
(``?prefix=``, default ``gs:``); the checkpoint saver's keys (``P t:…``, ``P threads``,
``P runs``: ``checkpoint/redis_keys.py``) live beside these.

Per session ``S`` (they all carry the session's Redis expiry, see ``backend.py``):

=================  ====  ===============================================================
key                type  holds
=================  ====  ===============================================================
``P s:S:row``      hash  the registry row: field ``row``, its JSON
``P s:S:lease``    str   ``lease_owner \\0 lease_epoch``: the saver's fence checks it
``P s:S:ev``       zset  events: score = id, member ``id \\0 JSON``
``P s:S:msg``      zset  messages: score = id, member ``id \\0 JSON``
``P s:S:runs``     hash  run id → JSON of the run row
``P s:S:wm``       str   the writes mark of the last run begun (JSON)
=================  ====  ===============================================================

Indexes (no expiry; members of sessions Redis expired are dropped lazily by reads and by
``find_expired``): ``P i:created``/``P i:updated``/``P i:expires`` (zsets of session ids,
score = microseconds since the epoch, ``0`` for no expiry), ``P i:due`` (the sessions
``find_expired`` looks at: an expiry, neither running nor marked expired), ``P i:status:X``,
``P i:owner:X``, ``P i:graph:X``, ``P i:task:X`` (zsets of ids, score 0),
``P i:where`` (hash: id → JSON of the index values it is filed under), ``P i:runs``
(zset of ``S \\0 run id``, for the run count). Global: ``P pending`` (hash run id → JSON),
``P tickets`` (hash seq → JSON), ``P cancels`` (hash run id → ``S \\0 action``),
``P crons`` (hash), ``P a:A`` (hash of an assistant's versions), ``P i:assistants``
(set), counters ``P seq:*`` and ``P changes`` (bumped by every event append).

Suffixes are fixed and none ends another after a ``:``, so two sessions never share a key
whatever their ids contain.
"""

from __future__ import annotations

from graph_sessions.checkpoint.redis_keys import SEP

#: the suffixes of a session's own keys, in :meth:`Keys.session_keys` order
SESSION_SUFFIXES = ("row", "lease", "ev", "msg", "runs", "wm")


class Keys:
    """Key names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        p = prefix
        self.created = f"{p}i:created"
        self.updated = f"{p}i:updated"
        self.expires = f"{p}i:expires"
        self.due = f"{p}i:due"
        self.where = f"{p}i:where"
        self.runs_all = f"{p}i:runs"
        self.pending = f"{p}pending"
        self.tickets = f"{p}tickets"
        self.cancels = f"{p}cancels"
        self.crons = f"{p}crons"
        self.assistants = f"{p}i:assistants"
        self.event_seq = f"{p}seq:event"
        self.message_seq = f"{p}seq:message"
        self.ticket_seq = f"{p}seq:ticket"
        self.changes = f"{p}changes"
        #: the pub/sub channel of cancel requests (a channel, not a key)
        self.cancel_channel = f"{p}cancel"

    def _s(self, sid: str, suffix: str) -> str:
        return f"{self.prefix}s:{sid}:{suffix}"

    def row(self, sid: str) -> str:
        """The registry row (hash)."""
        return self._s(sid, "row")

    def lease(self, sid: str) -> str:
        """The lease value the saver's fence checks."""
        return self._s(sid, "lease")

    def events(self, sid: str) -> str:
        """The event log (zset)."""
        return self._s(sid, "ev")

    def messages(self, sid: str) -> str:
        """The transcript (zset)."""
        return self._s(sid, "msg")

    def runs(self, sid: str) -> str:
        """The session's runs (hash)."""
        return self._s(sid, "runs")

    def writes_mark(self, sid: str) -> str:
        """The writes mark of the last run begun."""
        return self._s(sid, "wm")

    def session_keys(self, sid: str) -> list[str]:
        """Every key of the session's own (not the saver's)."""
        return [self._s(sid, s) for s in SESSION_SUFFIXES]

    def status(self, status: str) -> str:
        """Ids of the sessions in ``status``."""
        return f"{self.prefix}i:status:{status}"

    def owner(self, owner: str) -> str:
        """Ids of the sessions of ``owner``."""
        return f"{self.prefix}i:owner:{owner}"

    def graph(self, graph_id: str) -> str:
        """Ids of the sessions of ``graph_id``."""
        return f"{self.prefix}i:graph:{graph_id}"

    def task(self, task_id: str) -> str:
        """Ids of the sessions of ``task_id``."""
        return f"{self.prefix}i:task:{task_id}"

    def assistant(self, assistant_id: str) -> str:
        """An assistant's versions (hash: ``v:N`` → JSON, ``current`` → N)."""
        return f"{self.prefix}a:{assistant_id}"

    def temp(self, name: str) -> str:
        """A short-lived key of a listing."""
        return f"{self.prefix}tmp:{name}"


def run_member(sid: str, run_id: str) -> str:
    """A member of ``P i:runs``."""
    return f"{sid}{SEP}{run_id}"


#: appends log entries (events, messages) with ids from a counter, in one step, giving the
#: log key the row's expiry (none when the row has none). Without a row the log's expiry is
#: left as it is: a log of a session never created has none (no TTL when no row), and the
#: log of a session whose row Redis expired first keeps its deadline (never made
#: permanent, an orphan). KEYS: log, counter, changes, row; ARGV: JSON payloads.
#: Returns the new ids in order.
APPEND_LOG = """
local ids = {}
for i = 1, #ARGV do
  local id = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], id, id .. '\\0' .. ARGV[i])
  ids[i] = id
end
redis.call('INCR', KEYS[3])
local t = redis.call('PTTL', KEYS[4])
if t > 0 then redis.call('PEXPIRE', KEYS[1], t) elseif t == -1 then redis.call('PERSIST', KEYS[1]) end
return ids
"""


#: the members after a listing's cursor member, by rank, in one step (so no member added or
#: removed between finding the cursor and reading shifts the page). KEYS: the zset; ARGV:
#: cursor member, its score, count, "1" for descending. Returns a flat member/score list,
#: or false when the member is not there with that score any more (read by score then).
AFTER_MEMBER = """
local desc = ARGV[4] == '1'
local r = redis.call(desc and 'ZREVRANK' or 'ZRANK', KEYS[1], ARGV[1])
if not r then return false end
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if tonumber(s) ~= tonumber(ARGV[2]) then return false end
local n = tonumber(ARGV[3])
return redis.call(desc and 'ZREVRANGE' or 'ZRANGE', KEYS[1], r + 1, r + n, 'WITHSCORES')
"""
