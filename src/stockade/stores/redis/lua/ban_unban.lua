-- Forget a ban key altogether. KEYS: record, index, banned. ARGV: now.
-- Returns the removed banned_until, or '' when there was none.
local key, index, banned = KEYS[1], KEYS[2], KEYS[3]
local now = num(ARGV[1])
local st = load_ban(key)
if ban_empty(st) then return '' end
store_ban(key, index, banned, {s = {}, b = nil, o = 0, m = nil, n = st.n}, 0, now)
return opt(st.b)
