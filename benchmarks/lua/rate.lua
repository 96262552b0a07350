-- A fixed request rate: each of the C connections waits C/R seconds between
-- requests (wrk's delay()), then prints latency percentiles as JSON.
-- Closed-loop per connection, so it under-reports queueing delay compared to wrk2.
local rate, conns = 1000, 100
init = function(args)
  rate = tonumber(args[1]) or rate
  conns = tonumber(args[2]) or conns
end

delay = function()
  return math.floor(conns * 1000 / rate)
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
