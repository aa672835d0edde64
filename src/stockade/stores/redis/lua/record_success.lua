-- core.lockout.succeed on the primary key of a login, after its other keys were checked
-- (the store first reads whether the login needs no write at all, as the other backends do).
-- KEYS: state, index. ARGV: now, policy (6), reserved (1/0), refused_until ('' unless an other
-- key refuses the login). Returns {accepted (1/0), blocked_until or '', unblocked (1/0)}.
local key, index = KEYS[1], KEYS[2]
local now = num(ARGV[1])
local p = policy(2)
local reserved = ARGV[8] == '1'
local st = load(key)
if ARGV[9] ~= '' then
  if reserved then st.r = drop_one(live(st.r, now)) end
  save(key, index, st, p.window, now)
  return {0, ARGV[9], 0}
end
local reservations = live(st.r, now)
if reserved then reservations = drop_one(reservations) end
if is_blocked(st, now) then
  st.r = reservations
  save(key, index, st, p.window, now)
  return {0, fmt(st.b), 0}
end
local unblocked = st.b ~= nil
save(key, index, {f = {}, a = now + p.auth, r = reservations}, p.window, now)
return {1, '', flag(unblocked)}
