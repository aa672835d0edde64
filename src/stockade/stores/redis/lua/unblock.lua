-- core.lockout.unblock: remove a block record, expired or not, and its failures.
-- KEYS: state, index. ARGV: now. Returns the removed blocked_until, or '' when none.
local key, index = KEYS[1], KEYS[2]
local now = num(ARGV[1])
local st = load(key)
if st.b == nil then return '' end
local removed = st.b
st.f = {}
st.b = nil
-- No failures are left, so the failure window does not matter for expires_at.
save(key, index, st, 0, now)
return fmt(removed)
