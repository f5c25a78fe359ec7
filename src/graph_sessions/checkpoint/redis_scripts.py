"""The Redis saver's Lua scripts. Each is one atomic step: a ``put`` (checkpoint record,
index entry, new channel values), a ``put_writes``, a read of whole checkpoints (record,
values, writes) in one snapshot. They run by ``EVALSHA`` (redis-py's ``Script`` loads
them once and reloads on ``NOSCRIPT``).

**Fencing.** ``put`` and ``put_writes`` take an optional fence: ``KEYS[9]`` names a key
holding the writer's lease epoch and ``ARGV[2]`` the epoch the writer holds; when the key
does not hold exactly that value the script writes nothing and fails with an error whose
message starts with :data:`FENCED` (the saver raises ``errors.LeaseLost``). An empty
``ARGV[2]`` means no fence.

**TTL.** With ``ARGV[1]`` (seconds) set, every key of the thread and the prefix's two index
keys get that expiry in the same script: one absolute deadline (time is frozen during a
script), so all keys of a thread expire together.
"""

from __future__ import annotations

FENCED = "GSFENCED"
#: a put whose tails extend a value that is gone (pruned meanwhile): put again, whole
REBASE = "GSREBASE"

# KEYS: idx cp v w wi vb threads runs [lease]
_PROLOGUE = """
if ARGV[2] ~= '' then
  local held = redis.call('GET', KEYS[9])
  if held ~= ARGV[2] then
    return redis.error_reply('GSFENCED lease epoch is ' .. tostring(held) ..
      ', the writer holds ' .. ARGV[2])
  end
end
"""

_EXPIRE = """
if ARGV[1] ~= '' then
  for i = 1, 8 do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
end
"""

#: ARGV: ttl, fence epoch, member, record, thread_id, run member or '', n, n base fields
#: (values the tails below extend: all must exist, else nothing is written and the
#: script fails with :data:`REBASE`), m, m field/base pairs (into ``vb``), then
#: field/value pairs of the new channel values
PUT = (
    _PROLOGUE
    + """
local n = tonumber(ARGV[7])
for i = 8, 7 + n do
  if redis.call('HEXISTS', KEYS[3], ARGV[i]) == 0 then
    return redis.error_reply('GSREBASE base value ' .. ARGV[i] .. ' is gone')
  end
end
local at = 8 + n
local m = tonumber(ARGV[at])
for i = at + 1, at + 2 * m, 2 do redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[1], 0, ARGV[3])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
for i = at + 1 + 2 * m, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[7], 0, ARGV[5])
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[8], 0, ARGV[6]) end
"""
    + _EXPIRE
    + "return 1\n"
)

#: ARGV: ttl, fence epoch, then field/value/replace triples ('1': replace an existing
#: write, as LangGraph does for ERROR, INTERRUPT…; '0': keep the first one stored)
PUT_WRITES = (
    _PROLOGUE
    + """
for i = 3, #ARGV, 3 do
  if ARGV[i + 2] == '1' then
    redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
    redis.call('ZADD', KEYS[5], 0, ARGV[i])
  elseif redis.call('HSETNX', KEYS[4], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[5], 0, ARGV[i])
  end
end
"""
    + _EXPIRE
    + "return 1\n"
)

#: KEYS: idx cp v w wi. ARGV: 'latest', ns — or 'members', member… Answers a list of
#: {member, record, {channel, value, …}, {write, …}}, one per checkpoint found; a value
#: stored as a tail answers {count, {tail, …, whole}} (its chain, newest first).
READ = r"""
local function resolve(ns, ch, val)
  if string.byte(val, 1) ~= 1 then return val end
  local parts = {}
  local count = nil
  while val and string.byte(val, 1) == 1 do
    local a = string.find(val, '\0', 2, true)
    local b = string.find(val, '\0', a + 1, true)
    if not count then count = string.sub(val, 2, a - 1) end
    parts[#parts + 1] = string.sub(val, b + 1)
    val = redis.call('HGET', KEYS[3], ns .. '\0' .. ch .. '\0' .. string.sub(val, a + 1, b - 1))
  end
  if not val then return false end
  parts[#parts + 1] = val
  return {count, parts}
end
local function load(member)
  local rec = redis.call('HGET', KEYS[2], member)
  if not rec then return false end
  local cut = string.find(rec, '\0\0', 1, true)
  local head = string.sub(rec, 1, cut - 1)
  local ns = string.sub(member, 1, string.find(member, '\0', 1, true) - 1)
  local parts = {}
  for p in string.gmatch(head, '[^%z]+') do parts[#parts + 1] = p end
  local fields = {}
  for i = 1, #parts, 2 do fields[#fields + 1] = ns .. '\0' .. parts[i] .. '\0' .. parts[i + 1] end
  local blobs = {}
  if #fields > 0 then
    local vals = redis.call('HMGET', KEYS[3], unpack(fields))
    for i = 1, #fields do
      if vals[i] then
        local val = resolve(ns, parts[2 * i - 1], vals[i])
        if val then
          blobs[#blobs + 1] = parts[2 * i - 1]
          blobs[#blobs + 1] = val
        end
      end
    end
  end
  local writes = {}
  local wf = redis.call('ZRANGEBYLEX', KEYS[5], '[' .. member .. '\0', '(' .. member .. '\1')
  if #wf > 0 then
    local vals = redis.call('HMGET', KEYS[4], unpack(wf))
    for i = 1, #wf do
      if vals[i] then writes[#writes + 1] = vals[i] end
    end
  end
  return {member, rec, blobs, writes}
end
local out = {}
if ARGV[1] == 'latest' then
  local ns = ARGV[2]
  local m = redis.call('ZREVRANGEBYLEX', KEYS[1], '(' .. ns .. '\1', '[' .. ns .. '\0',
    'LIMIT', 0, 1)
  if #m > 0 then out[1] = load(m[1]) end
else
  for i = 2, #ARGV do
    local r = load(ARGV[i])
    if r then out[#out + 1] = r end
  end
end
return out
"""
