-- core.lockout.block: exactly the requested end. KEYS: state, index.
-- ARGV: now, policy (6), until.
local key, index = KEYS[1], KEYS[2]
local now = num(ARGV[1])
local p = policy(2)
local st = load(key)
st.f = {}
st.b = num(ARGV[8])
save(key, index, st, p.window, now)
return 1
