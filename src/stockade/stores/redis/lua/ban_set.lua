-- core.bans.ban (by hand): exactly the requested end. KEYS: record, index, banned.
-- ARGV: now, policy (7), until, network (1/0).
local key, index, banned = KEYS[1], KEYS[2], KEYS[3]
local now = num(ARGV[1])
local p = ban_policy(2)
local st = load_ban(key)
st.s = {}
st.b = num(ARGV[9])
st.n = ARGV[10] == '1'
store_ban(key, index, banned, st, ban_expires_at(st, p.window), now)
return 1
