-- GET one path (PATH) with one bearer token (TOKEN).
local path = os.getenv("BENCH_PATH")
local headers = { ["Authorization"] = "Bearer " .. os.getenv("TOKEN") }
request = function()
  return wrk.format("GET", path, headers)
end
