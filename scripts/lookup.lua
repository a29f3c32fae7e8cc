-- wrk script: GET /api/v1/residents?id_number=… with random known numbers.
local ids = {}
for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
local auth = "Bearer " .. os.getenv("TOKEN")
math.randomseed(42)
request = function()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/api/v1/residents?id_number=" .. id, { ["Authorization"] = auth })
end
