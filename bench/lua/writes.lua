-- Shared by the write scripts (loaded with dofile): the access tokens of many patients (TOKENS_FILE, one per
-- line, taken in turn), random version-4 UUIDs as client ids, and a seed per wrk thread.
local writes = { tokens = {}, counter = 0 }
for line in io.lines(os.getenv("TOKENS_FILE")) do writes.tokens[#writes.tokens + 1] = line end

function writes.next_headers(content_type)
  writes.counter = writes.counter + 1
  return {
    ["Content-Type"] = content_type,
    ["Authorization"] = "Bearer " .. writes.tokens[(writes.counter % #writes.tokens) + 1],
  }
end

function writes.uuid()
  local t = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (t:gsub("[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end

-- wrk's hooks, for the script that loads this file: each thread gets a number, and its own
-- random seed (two threads started in the same instant must not draw the same ids).
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919 + math.floor(os.clock() * 1e6))
end

return writes
