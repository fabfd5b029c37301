-- PUT a new diary entry at a fresh client id; tokens of many patients in turn.
-- TOKENS_FILE holds one access token per line.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

local function uuid()
  local t = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (t:gsub("[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919 + math.floor(os.clock() * 1e6))
end

local body = '{"recorded_at":"2026-11-20T08:30:00+01:00","pain":5,"sleep_hours":6.5,"stress":4,'
  .. '"tags":["weather"],"sites":[{"region":"neck","side":"left","qualities":["aching"]}]}'

request = function()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format("PUT", "/v1/patients/me/entries/" .. uuid(), {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end
