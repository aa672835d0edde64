-- core.bans.strike. KEYS: record, index, banned. ARGV: now, policy (7).
-- Returns {count in the window, banned (1/0), banned_until or ''}.
local key, index, banned = KEYS[1], KEYS[2], KEYS[3]
local now = num(ARGV[1])
local p = ban_policy(2)
local st = load_ban(key)
if st.b ~= nil and st.b - now > 0 then
  return {0, 1, fmt(st.b)}
end
local strikes = {}
for _, t in ipairs(st.s) do
  if not (now - t > p.window) then strikes[#strikes + 1] = t end
end
strikes[#strikes + 1] = now
if #strikes > p.kept then
  local tail = {}
  for i = #strikes - p.kept + 1, #strikes do tail[#tail + 1] = strikes[i] end
  strikes = tail
end
local offences = st.o
if st.m ~= nil and not (st.m - now > 0) then offences = 0 end
if #strikes < p.threshold then
  st.s, st.b, st.o = strikes, nil, offences
  store_ban(key, index, banned, st, ban_expires_at(st, p.window), now, true)
  return {#strikes, 0, ''}
end
local till = now + ban_duration(p, offences)
local new = {s = {}, b = till, o = offences + 1, m = till + p.remember, n = st.n}
store_ban(key, index, banned, new, ban_expires_at(new, p.window), now)
return {#strikes, 1, fmt(till)}
