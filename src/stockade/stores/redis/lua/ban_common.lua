-- Helpers of the ban scripts, prepended after common.lua.
--
-- The state of one ban key is a hash, the image of core/bans.py's BanState:
--   s  strike times, oldest first, separated by spaces
--   b  banned_until (no field: not banned)
--   o  offences: automatic bans remembered for escalation
--   m  remember_until: when the offences are forgotten
--   n  1 for a network banned by hand
--   e  expires_at
-- Each record has two sorted sets in its shard (same hash tag): the shard's ban index
-- (score: when the sweep must look at it, its ban's end or its expiry) and the shard's
-- banned set (score: banned_until), which a process reads whole to load every active ban.

local function load_ban(key)
  local v = redis.call('HMGET', key, 's', 'b', 'o', 'm', 'n')
  return {
    s = times(v[1]),
    b = v[2] and num(v[2]) or nil,
    o = v[3] and tonumber(v[3]) or 0,
    m = v[4] and num(v[4]) or nil,
    n = v[5] == '1',
  }
end

local function ban_empty(st)
  return #st.s == 0 and st.b == nil and st.o == 0
end

local function ban_expires_at(st, window)
  local e = -math.huge
  for _, t in ipairs(st.s) do e = math.max(e, t + window) end
  if st.b ~= nil then e = math.max(e, st.b) end
  if st.m ~= nil and st.o > 0 then e = math.max(e, st.m) end
  return e
end

-- "ban\t<record>\t<banned_until>\t<network 1/0>" on <prefix>changes.
local function announce_ban(key, st)
  local channel = string.match(key, '^(.-)ban:{') .. 'changes'
  local b, n = '', '0'
  if st ~= nil then
    b = opt(st.b)
    if st.n then n = '1' end
  end
  redis.call('PUBLISH', channel, 'ban\t' .. key .. '\t' .. b .. '\t' .. n)
end

-- Write a ban record with expires_at e, its TTL, its index entry and its banned-set entry.
-- quiet: the ban itself did not change (a strike below the threshold), so nothing is
-- announced; a late "not banned" from an earlier strike could otherwise undo, in the
-- writer's own view, the ban its next strike has just set there.
local function store_ban(key, index, banned, st, e, now, quiet)
  redis.call('DEL', key)
  if not quiet then announce_ban(key, st) end
  if ban_empty(st) then
    redis.call('ZREM', index, key)
    redis.call('ZREM', banned, key)
    index_ttl(index, now)
    index_ttl(banned, now)
    return
  end
  local fields = {'s', join(st.s), 'o', tostring(st.o), 'e', fmt(e)}
  put_field(fields, 'b', st.b)
  put_field(fields, 'm', st.m)
  if st.n then
    fields[#fields + 1] = 'n'
    fields[#fields + 1] = '1'
  end
  redis.call('HSET', key, unpack(fields))
  if e ~= math.huge then
    redis.call('PEXPIRE', key, ttl_ms(e, now))
  end
  local due = e
  if st.b ~= nil then due = math.min(st.b, e) end
  redis.call('ZADD', index, fmt(due), key)
  index_ttl(index, now)
  if st.b ~= nil then
    redis.call('ZADD', banned, fmt(st.b), key)
    index_ttl(banned, now)
  else
    redis.call('ZREM', banned, key)
    index_ttl(banned, now)
  end
end

-- The ban policy as eight arguments from ARGV[i]: threshold, window, block_duration,
-- escalation factor, escalation max, remember, kept strikes.
local function ban_policy(i)
  return {
    threshold = tonumber(ARGV[i]),
    window = num(ARGV[i + 1]),
    duration = num(ARGV[i + 2]),
    factor = num(ARGV[i + 3]),
    max = num(ARGV[i + 4]),
    remember = num(ARGV[i + 5]),
    kept = tonumber(ARGV[i + 6]),
  }
end

-- core.bans.BanPolicy.duration
local function ban_duration(p, earlier)
  if p.factor == 1 or earlier == 0 then return p.duration end
  local d = p.duration
  for _ = 1, earlier do
    d = d * p.factor
    if d >= p.max then return math.max(p.max, p.duration) end
  end
  return d
end
