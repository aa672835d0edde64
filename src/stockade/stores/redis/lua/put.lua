-- Write a record exactly as given (stockade store migrate). KEYS: state, index.
-- ARGV: now, failures, blocked_until, auth_until, reservations, expires_at (numbers as the
-- hash fields hold them; '' for an absent blocked_until or auth_until).
local key, index = KEYS[1], KEYS[2]
local now = num(ARGV[1])
local st = {f = times(ARGV[2]), b = nil, a = nil, r = times(ARGV[5])}
if ARGV[3] ~= '' then st.b = num(ARGV[3]) end
if ARGV[4] ~= '' then st.a = num(ARGV[4]) end
store(key, index, st, num(ARGV[6]), now)
return 1
