-- wrk script for cold transform runs: each request asks for another width
-- (the path's "WIDTH" becomes BASE..BASE+99), so that neither ProgImage's
-- single-flight nor any cache can share work between concurrent requests.
-- wrk's threads take turns through the widths (thread i of n asks for
-- BASE+i, BASE+i+n, ...), so no two threads ask for one width at once;
-- n is VARY_THREADS (default 2, as wrk -t2).
local base = tonumber(os.getenv("VARY_BASE") or "250")
local step = tonumber(os.getenv("VARY_THREADS") or "2")
local next_id = 0
setup = function(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
local counter = 0
init = function(args)
  counter = id
end
request = function()
  local path = wrk.path:gsub("WIDTH", tostring(base + counter % 100))
  counter = counter + step
  return wrk.format("GET", path)
end
