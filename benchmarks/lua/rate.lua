-- A fixed request rate R over all connections: requests go out on one schedule,
-- one slot every 1/R seconds, each connection taking the next free slot when its
-- previous response is complete (wrk's delay(), whose timers count whole
-- milliseconds, so about R/1000 requests leave together each millisecond). The
-- connections start spread over the schedule, so they do not fire in lockstep.
-- While fewer than C requests are outstanding, a stalled server does not hold
-- the schedule back (the other connections keep sending on time); beyond that
-- the load becomes closed-loop, as wrk's is. Prints latency percentiles as JSON.
local has_ffi, ffi = pcall(require, "ffi")
if not has_ffi then
  error("rate.lua needs a wrk built with LuaJIT (its FFI reads the monotonic clock)")
end
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } rate_timespec;
int clock_gettime(int clock_id, rate_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local now = ffi.new("rate_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now)
  return tonumber(now.tv_sec) * 1000 + tonumber(now.tv_nsec) / 1e6
end

local interval_ms, next_slot = 1, nil

init = function(args)
  interval_ms = 1000 / (tonumber(args[1]) or 1000)
end

delay = function()
  local t = now_ms()
  next_slot = (next_slot or t) + interval_ms
  local wait = next_slot - t
  if wait <= 0 then
    return 0
  end
  return math.floor(wait + 0.5)
end

done = function(summary, latency, requests)
  local out = {}
  for _, p in ipairs({50, 75, 90, 95, 99, 99.9, 99.99}) do
    out[#out + 1] = string.format('"%s": %d', p, latency:percentile(p))
  end
  io.write(string.format('RATE_JSON {"requests": %d, "errors": %d, "percentiles_us": {%s}}\n',
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout, table.concat(out, ", ")))
end
