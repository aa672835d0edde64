-- core.lockout.check_block: consult (and lift when expired) the block of a secondary key of
-- a login. The record is written back even when unchanged, as the other backends do, so its
-- expiry follows the current policy. KEYS: state, index. ARGV: now, policy (6).
-- Returns {'none' | 'blocked' | 'unblocked', blocked_until or ''}.
local key, index = KEYS[1], KEYS[2]
local now = num(ARGV[1])
local p = policy(2)
local st = load(key)
local status, till = 'none', ''
if is_blocked(st, now) then
  status, till = 'blocked', fmt(st.b)
elseif st.b ~= nil then
  status = 'unblocked'
  st.b = nil
end
save(key, index, st, p.window, now)
return {status, till}
