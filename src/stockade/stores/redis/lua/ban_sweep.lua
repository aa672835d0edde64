-- Lift ended bans and delete records holding nothing live, in one shard.
-- KEYS: the shard's ban index, its banned set. ARGV: now, limit.
-- Returns {records handled, record names whose ban ended}.
local index, banned = KEYS[1], KEYS[2]
local now = num(ARGV[1])
local limit = tonumber(ARGV[2])
local handled = 0
local ended = {}
local names = redis.call('ZRANGEBYSCORE', index, '-inf', ARGV[1], 'LIMIT', 0, limit)
for _, name in ipairs(names) do
  handled = handled + 1
  if redis.call('EXISTS', name) == 0 then
    -- Redis expired the record by its TTL: only its set entries were left.
    redis.call('ZREM', index, name)
    redis.call('ZREM', banned, name)
  else
    local st = load_ban(name)
    if st.b ~= nil and not (st.b - now > 0) then
      ended[#ended + 1] = name
      st.b = nil
    end
    -- What is left is offences to remember (strikes never outlive an ended ban's sweep).
    local e = ban_expires_at(st, 0)
    if e < now then st = {s = {}, b = nil, o = 0, m = nil, n = st.n} end
    store_ban(name, index, banned, st, e, now)
  end
end
index_ttl(index, now)
index_ttl(banned, now)
return {handled, ended}
