-- Shared helpers, prepended to every script of this directory when it is loaded.
--
-- The state of one lockout key is a hash, the image of core/lockout.py's LockoutState:
--   f  failure times, oldest first, separated by spaces
--   b  blocked_until (no field: no block record)
--   a  auth_until (no field: no login remembered)
--   r  expiry times of the reservations, separated by spaces
--   e  expires_at: after it nothing in the record matters and the sweep deletes it
-- Every key of a shard shares the shard's hash tag with the shard's index, a sorted set
-- (member: state key, score: expires_at), so a transition updates both in one script on
-- one cluster slot.
--
-- Lua numbers are doubles like Python floats: the same expressions as core/lockout.py give
-- bit-identical results. Numbers are written with 17 significant digits, which round-trips
-- every double; "inf" and "-inf" stand for the infinities.

-- Seconds a record outlives expires_at before Redis drops it by itself, so that the sweep
-- can still report the end of a block.
local GRACE = 86400
-- The longest TTL set (milliseconds), far beyond any real setting, short of overflow.
local MAX_TTL_MS = 1e15

local function num(s)
  if s == 'inf' then return math.huge end
  if s == '-inf' then return -math.huge end
  return tonumber(s)
end

local function fmt(x)
  if x == math.huge then return 'inf' end
  if x == -math.huge then return '-inf' end
  return string.format('%.17g', x)
end

local function times(s)
  local out = {}
  if s then
    for word in string.gmatch(s, '%S+') do out[#out + 1] = num(word) end
  end
  return out
end

local function join(list)
  local parts = {}
  for i, t in ipairs(list) do parts[i] = fmt(t) end
  return table.concat(parts, ' ')
end

-- The policy travels as six arguments from ARGV[i]: max_retries ('' for infinity),
-- block_time, fail_expire_time, auth_timeout, reservation_timeout, kept failures.
local function policy(i)
  return {
    max = ARGV[i] ~= '' and tonumber(ARGV[i]) or nil,
    block = num(ARGV[i + 1]),
    window = num(ARGV[i + 2]),
    auth = num(ARGV[i + 3]),
    reservation = num(ARGV[i + 4]),
    kept = tonumber(ARGV[i + 5]),
  }
end

local function load(key)
  local v = redis.call('HMGET', key, 'f', 'b', 'a', 'r')
  return {f = times(v[1]), b = v[2] and num(v[2]) or nil, a = v[3] and num(v[3]) or nil, r = times(v[4])}
end

local function is_empty(st)
  return #st.f == 0 and st.b == nil and st.a == nil and #st.r == 0
end

local function is_blocked(st, now)
  return st.b ~= nil and st.b - now > 0
end

local function expires_at(st, window)
  local e = -math.huge
  for _, t in ipairs(st.f) do e = math.max(e, t + window) end
  for _, t in ipairs(st.r) do e = math.max(e, t) end
  if st.b ~= nil then e = math.max(e, st.b) end
  if st.a ~= nil then e = math.max(e, st.a) end
  return e
end

local function opt(x)
  if x == nil then return '' end
  return fmt(x)
end

-- Every change is announced on <prefix>changes, so that each process's local view of blocks
-- and clean users follows it: "<state key>\t<blocked_until>\t<busy 1/0>\t<auth_until>", the
-- empty string for an absent number. Key names hold no tab (their fields are percent-encoded).
local function announce(key, st)
  local channel = string.match(key, '^(.-)lockout:{') .. 'changes'
  local busy = '0'
  if st ~= nil and (#st.f > 0 or #st.r > 0) then busy = '1' end
  local b, a = '', ''
  if st ~= nil then b, a = opt(st.b), opt(st.a) end
  redis.call('PUBLISH', channel, key .. '\t' .. b .. '\t' .. busy .. '\t' .. a)
end

local function ttl_ms(e, now)
  return string.format('%d', math.min(math.ceil((math.max(e - now, 0) + GRACE) * 1000), MAX_TTL_MS))
end

-- An index lives as long as its longest-lived record (its highest score) plus the grace.
local function index_ttl(index, now)
  local top = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  if #top == 0 then return end
  local e = num(top[2])
  if e == math.huge then
    redis.call('PERSIST', index)
  else
    redis.call('PEXPIRE', index, ttl_ms(e, now))
  end
end

-- Append a hash field and its number to an HSET argument list, unless the number is absent.
local function put_field(fields, name, value)
  if value ~= nil then
    fields[#fields + 1] = name
    fields[#fields + 1] = fmt(value)
  end
end

-- Write st with expires_at e (delete the record when it is empty), its TTL and its index entry.
local function store(key, index, st, e, now)
  redis.call('DEL', key)
  announce(key, st)
  if is_empty(st) then
    redis.call('ZREM', index, key)
    index_ttl(index, now)
    return
  end
  local fields = {'f', join(st.f), 'r', join(st.r), 'e', fmt(e)}
  put_field(fields, 'b', st.b)
  put_field(fields, 'a', st.a)
  redis.call('HSET', key, unpack(fields))
  -- The TTL counts from the caller's `now`, so that clock skew between the application and
  -- Redis does not matter. A record that lives forever (a block or a duration of infinity)
  -- is the one kind of key without a TTL.
  if e ~= math.huge then
    redis.call('PEXPIRE', key, ttl_ms(e, now))
  end
  redis.call('ZADD', index, fmt(e), key)
  index_ttl(index, now)
end

local function save(key, index, st, window, now)
  store(key, index, st, expires_at(st, window), now)
end

-- Failures still inside the window: strictly `now - t > window` is forgotten.
local function window(failures, now, w)
  local out = {}
  for _, t in ipairs(failures) do
    if not (now - t > w) then out[#out + 1] = t end
  end
  return out
end

local function live(reservations, now)
  local out = {}
  for _, t in ipairs(reservations) do
    if t > now then out[#out + 1] = t end
  end
  return out
end

-- Give back the reservation that ends first.
local function drop_one(reservations)
  local ordered = {}
  for i, t in ipairs(reservations) do ordered[i] = t end
  table.sort(ordered)
  table.remove(ordered, 1)
  return ordered
end

-- core.lockout.union: the times of a and b in order, each as often as in the one that has it
-- more often (a merge of the two sorted lists that takes equal times once).
local function union(a, b)
  local x, y = {}, {}
  for i, t in ipairs(a) do x[i] = t end
  for i, t in ipairs(b) do y[i] = t end
  table.sort(x)
  table.sort(y)
  local out, i, j = {}, 1, 1
  while i <= #x or j <= #y do
    if j > #y or (i <= #x and x[i] < y[j]) then
      out[#out + 1] = x[i]
      i = i + 1
    elseif i > #x or y[j] < x[i] then
      out[#out + 1] = y[j]
      j = j + 1
    else
      out[#out + 1] = x[i]
      i = i + 1
      j = j + 1
    end
  end
  return out
end

local function later(a, b)
  if a == nil then return b end
  if b == nil then return a end
  return math.max(a, b)
end

local function flag(b)
  if b then return 1 end
  return 0
end
