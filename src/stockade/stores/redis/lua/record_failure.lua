-- core.lockout.fail. KEYS: state, index. ARGV: now, policy (6), reserved (1/0).
-- Returns {failures in the window, blocked (1/0), blocked_until or ''}.
local key, index = KEYS[1], KEYS[2]
local now = num(ARGV[1])
local p = policy(2)
local st = load(key)
local reservations = live(st.r, now)
if ARGV[8] == '1' then reservations = drop_one(reservations) end
local failures = window(st.f, now, p.window)
failures[#failures + 1] = now
if #failures > p.kept then
  local tail = {}
  for i = #failures - p.kept + 1, #failures do tail[#tail + 1] = failures[i] end
  failures = tail
end
local count = #failures
st.r = reservations
if p.max == nil or count < p.max then
  local previous = st.b
  st.f = failures
  save(key, index, st, p.window, now)
  return {count, 0, opt(previous)}
end
local till = now + p.block
if st.b ~= nil then till = math.max(till, st.b) end
st.f = {}
st.b = till
save(key, index, st, p.window, now)
return {count, 1, fmt(till)}
