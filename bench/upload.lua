-- POSTs the file named by UPLOAD_FILE as a raw body; a unique trailer after
-- the image's end marker makes every body new, so none is a duplicate.
local f = assert(io.open(os.getenv("UPLOAD_FILE"), "rb"))
local body = f:read("*all")
f:close()
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function request()
  counter = counter + 1
  local trailer = string.format("%d-%d-%d", tid or 0, counter, math.random(1, 1e9))
  return wrk.format("POST", "/v1/images", {["Content-Type"] = "image/jpeg"}, body .. trailer)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
  io.write(string.format("non2xx_or_errors=%d\n", errors))
end
