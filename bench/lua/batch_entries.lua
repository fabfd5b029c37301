-- POST batches of 500 new diary entries; tokens of many patients in turn.
local writes = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "writes.lua")
request = function()
  local items = {}
  for i = 1, 500 do
    items[i] = '{"id":"' .. writes.uuid() .. '","recorded_at":"2026-11-20T08:30:00+01:00",'
      .. '"pain":' .. (i % 11) .. ',"sleep_hours":6.5,"stress":4,"tags":["weather"]}'
  end
  local body = '{"items":[' .. table.concat(items, ",") .. ']}'
  return wrk.format("POST", "/v1/patients/me/entries/batch", writes.next_headers("application/json"), body)
end
