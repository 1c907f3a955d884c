--[[
  Removes an origin's oldest parked notifications (they are in a retry tier now) and forgets
  the origin once none is left.

    KEYS[1]  parked list   origin_parked:{origins:<group>}:<origin>
    KEYS[2]  parked set    origin_parked_set:{origins:<group>}
    ARGV[1]  how many to remove
    ARGV[2]  origin

  Output: how many are left.
]]
redis.call('LTRIM', KEYS[1], tonumber(ARGV[1]), -1)
local left = redis.call('LLEN', KEYS[1])
if left == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return left
