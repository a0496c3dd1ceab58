-- wrk script for cold transform runs: each request asks for another width
-- (the path's "WIDTH" becomes BASE..BASE+99), so that neither ProgImage's
-- single-flight nor any cache can share work between concurrent requests.
local base = tonumber(os.getenv("VARY_BASE") or "250")
local counter = 0
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  counter = math.random(0, 99)
end
request = function()
  counter = counter + 1
  local path = wrk.path:gsub("WIDTH", tostring(base + counter % 100))
  return wrk.format("GET", path)
end
