-- POST a body of N bytes (1 MiB by default) to /upload; the server echoes it back.
init = function(args)
  local size = tonumber(args[1]) or 1048576
  wrk.method = "POST"
  wrk.path = "/upload"
  wrk.body = string.rep("x", size)
  wrk.headers["Content-Type"] = "application/octet-stream"
end
