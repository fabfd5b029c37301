-- POST batches of 500 new diary entries, tokens of many patients in turn (TOKENS_FILE).
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local counter = 0

local function uuid()
  local t = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (t:gsub("[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end

function init(args)
  math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6))
end

request = function()
  counter = counter + 1
  local items = {}
  for i = 1, 500 do
    items[i] = '{"id":"' .. uuid() .. '","recorded_at":"2026-11-20T08:30:00+01:00","pain":'
      .. (i % 11) .. ',"sleep_hours":6.5,"stress":4,"tags":["weather"]}'
  end
  return wrk.format("POST", "/v1/patients/me/entries/batch", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1],
  }, '{"items":[' .. table.concat(items, ",") .. ']}')
end
