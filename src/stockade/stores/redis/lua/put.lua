-- core.lockout.merge (stockade store migrate): a record joined with what its key holds. KEYS: state, index.
-- ARGV: now, failures, blocked_until, auth_until, reservations, expires_at (numbers as the
-- hash fields hold them; '' for an absent blocked_until or auth_until).
local key, index = KEYS[1], KEYS[2]
local now = num(ARGV[1])
local old = load(key)
local old_e = redis.call('HGET', key, 'e')
local st = {f = union(old.f, times(ARGV[2])), b = old.b, a = old.a, r = union(old.r, times(ARGV[5]))}
if ARGV[3] ~= '' then st.b = later(st.b, num(ARGV[3])) end
if ARGV[4] ~= '' then st.a = later(st.a, num(ARGV[4])) end
local e = num(ARGV[6])
if old_e then e = math.max(e, num(old_e)) end
store(key, index, st, e, now)
return 1
