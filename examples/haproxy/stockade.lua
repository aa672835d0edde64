-- HAProxy (2.6 or later, built with Lua) asks stockade's decision endpoint about every request.
--
--   global
--       lua-load /etc/haproxy/stockade.lua
--   frontend www
--       http-request lua.stockade http://127.0.0.1:9190/forward
--
-- The check request describes the original request in the X-Forwarded-Method, -Uri, -Host,
-- -Proto and -For headers (those of the /forward check path), set here from what HAProxy
-- parsed: a client's own headers of those names are replaced, never passed on. The other
-- request headers go along (a rule may read the User-Agent, the Authorization is checked).
-- A 2xx answer lets the request on with X-Stockade-Client-IP and X-Stockade-Decision-ID set
-- for the backend; any other answer goes to the client as it is (the 401 with its
-- challenge, the 403 with its Retry-After). When stockade cannot be asked, the request is
-- refused with 503: a guard that cannot decide does not let requests through.

-- Set here; and the other headers naming a client, which only a proxy may send: a client's
-- own are dropped (keep [decision] client_header = "x-forwarded-for").
local QUESTION = {
    ["x-forwarded-method"] = true,
    ["x-forwarded-uri"] = true,
    ["x-forwarded-host"] = true,
    ["x-forwarded-proto"] = true,
    ["x-forwarded-for"] = true,
    ["forwarded"] = true,
    ["x-real-ip"] = true,
}
-- The check request's own framing; it carries no body.
local FRAMING = {
    ["host"] = true,
    ["content-length"] = true,
    ["transfer-encoding"] = true,
    ["connection"] = true,
    ["keep-alive"] = true,
    ["expect"] = true,
    ["upgrade"] = true,
}
local TO_BACKEND = { "x-stockade-client-ip", "x-stockade-decision-id" }
local NOT_COPIED = { ["content-length"] = true, ["connection"] = true, ["transfer-encoding"] = true }

local function values(list)
    -- HAProxy numbers a header's values from 0.
    local out = {}
    local i = 0
    while list[i] ~= nil do
        out[#out + 1] = list[i]
        i = i + 1
    end
    return out
end

local function check(txn, url)
    local headers = {}
    for name, list in pairs(txn.http:req_get_headers()) do
        local lower = string.lower(name)
        if not QUESTION[lower] and not FRAMING[lower] then
            headers[lower] = values(list)
        end
    end
    local host = txn.f:req_hdr("host")
    headers["x-forwarded-method"] = { txn.f:method() }
    headers["x-forwarded-uri"] = { txn.f:pathq() }
    if host ~= nil and host ~= "" then
        headers["x-forwarded-host"] = { host }
    end
    headers["x-forwarded-proto"] = { txn.f:ssl_fc() and "https" or "http" }
    headers["x-forwarded-for"] = { txn.f:src() }

    local ok, answer = pcall(function()
        return core.httpclient():get({ url = url, headers = headers, timeout = 1000 })
    end)
    local status = ok and answer ~= nil and tonumber(answer.status) or nil
    if status == nil or status == 0 then
        txn:done({ status = 503, headers = { ["content-type"] = { "text/plain" } }, body = "Service Unavailable\n" })
        return
    end
    local answered = answer.headers or {}
    if status >= 200 and status < 300 then
        for _, name in ipairs(TO_BACKEND) do
            local list = answered[name]
            if list ~= nil and list[0] ~= nil then
                txn.http:req_set_header(name, list[0])
            else
                txn.http:req_del_header(name)
            end
        end
        return
    end
    local reply = { status = status, headers = {}, body = answer.body or "" }
    for name, list in pairs(answered) do
        local lower = string.lower(name)
        if not NOT_COPIED[lower] then
            reply.headers[lower] = values(list)
        end
    end
    txn:done(reply)
end

core.register_action("stockade", { "http-req" }, check, 1)
