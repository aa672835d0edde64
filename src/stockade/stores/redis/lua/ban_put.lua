-- Write a ban record exactly as given (stockade store migrate). KEYS: record, index, banned.
-- ARGV: now, strikes, banned_until or '', offences, remember_until or '', network (1/0), expires_at.
local key, index, banned = KEYS[1], KEYS[2], KEYS[3]
local now = num(ARGV[1])
local st = {s = times(ARGV[2]), b = nil, o = tonumber(ARGV[4]), m = nil, n = ARGV[6] == '1'}
if ARGV[3] ~= '' then st.b = num(ARGV[3]) end
if ARGV[5] ~= '' then st.m = num(ARGV[5]) end
store_ban(key, index, banned, st, num(ARGV[7]), now)
return 1
