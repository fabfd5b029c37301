-- PUT a new diary entry at a fresh client id; tokens of many patients in turn.
local writes = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "writes.lua")
local body = '{"recorded_at":"2026-11-20T08:30:00+01:00","pain":5,"sleep_hours":6.5,"stress":4,'
  .. '"tags":["weather"],"sites":[{"region":"neck","side":"left","qualities":["aching"]}]}'

request = function()
  local path = "/v1/patients/me/entries/" .. writes.uuid()
  return wrk.format("PUT", path, writes.next_headers("application/json"), body)
end
