-- core.lockout.release. KEYS: state, index. ARGV: now, policy (6).
local key, index = KEYS[1], KEYS[2]
local now = num(ARGV[1])
local p = policy(2)
local st = load(key)
st.r = drop_one(live(st.r, now))
save(key, index, st, p.window, now)
return 1
