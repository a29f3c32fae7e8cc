-- wrk script: GET one path (env PATHQ) with a bearer token (env TOKEN).
local path = os.getenv("PATHQ")
local auth = "Bearer " .. os.getenv("TOKEN")
request = function()
  return wrk.format("GET", path, { ["Authorization"] = auth })
end
