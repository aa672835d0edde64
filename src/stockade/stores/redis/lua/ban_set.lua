-- core.bans.ban (by hand): exactly the requested end, unless keep_longer and a ban in force
-- ends later. KEYS: record, index, banned.
-- ARGV: now, policy (7), until, network (1/0), keep_longer (1/0). Returns the ban's end.
local key, index, banned = KEYS[1], KEYS[2], KEYS[3]
local now = num(ARGV[1])
local p = ban_policy(2)
local st = load_ban(key)
local wanted = num(ARGV[9])
if ARGV[11] == '1' and st.b ~= nil and st.b - now > 0 and st.b >= wanted then
  return fmt(st.b)
end
st.s = {}
st.b = wanted
st.n = ARGV[10] == '1'
store_ban(key, index, banned, st, ban_expires_at(st, p.window), now)
return fmt(wanted)
