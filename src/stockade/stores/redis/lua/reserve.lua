-- core.lockout.reserve. KEYS: state, index. ARGV: now, policy (6).
-- Returns {granted (1/0), blocked (1/0), blocked_until or ''}.
local key, index = KEYS[1], KEYS[2]
local now = num(ARGV[1])
local p = policy(2)
local st = load(key)
local reservations = live(st.r, now)
if is_blocked(st, now) then
  st.r = reservations
  save(key, index, st, p.window, now)
  return {0, 1, fmt(st.b)}
end
local failures = window(st.f, now, p.window)
st.f = failures
st.r = reservations
if p.max ~= nil and #failures + #reservations >= p.max then
  save(key, index, st, p.window, now)
  return {0, 0, ''}
end
reservations[#reservations + 1] = now + p.reservation
save(key, index, st, p.window, now)
return {1, 0, ''}
