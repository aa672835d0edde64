-- Delete up to `limit` records of one shard whose expires_at is before `now`.
-- KEYS: the shard's index. ARGV: now, limit. The state keys, found through the index, share
-- its hash tag and so its slot. Returns {records deleted, state keys whose block ended}.
local index = KEYS[1]
local now = num(ARGV[1])
local limit = tonumber(ARGV[2])
local deleted = 0
local ended = {}
while deleted < limit do
  local names = redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. ARGV[1], 'LIMIT', 0, limit - deleted)
  if #names == 0 then break end
  for _, name in ipairs(names) do
    local v = redis.call('HMGET', name, 'e', 'b')
    if not v[1] then
      -- Redis expired the record by its TTL: only the index entry was left.
      redis.call('ZREM', index, name)
    elseif num(v[1]) < now then
      redis.call('DEL', name)
      redis.call('ZREM', index, name)
      announce(name, nil)
      deleted = deleted + 1
      if v[2] then ended[#ended + 1] = name end
    else
      redis.call('ZADD', index, v[1], name)
    end
  end
end
index_ttl(index, now)
return {deleted, ended}
