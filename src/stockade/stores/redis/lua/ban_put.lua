-- core.bans.merge (stockade store migrate): a ban record joined with what its key holds.
-- KEYS: record, index, banned.
-- ARGV: now, strikes, banned_until or '', offences, remember_until or '', network (1/0), expires_at.
-- Returns the merged banned_until ('' for none).
local key, index, banned = KEYS[1], KEYS[2], KEYS[3]
local now = num(ARGV[1])
local old = load_ban(key)
local old_e = redis.call('HGET', key, 'e')
local st = {
  s = union(old.s, times(ARGV[2])),
  b = old.b,
  o = math.max(old.o, tonumber(ARGV[4])),
  m = old.m,
  n = old.n or ARGV[6] == '1',
}
if ARGV[3] ~= '' then st.b = later(st.b, num(ARGV[3])) end
if ARGV[5] ~= '' then st.m = later(st.m, num(ARGV[5])) end
local e = num(ARGV[7])
if old_e then e = math.max(e, num(old_e)) end
store_ban(key, index, banned, st, e, now)
return opt(st.b)
