--[[
  An origin asked (Retry-After) not to be called before a time: keeps the later of that and
  any hold it already has, and drops holds that are over.

    KEYS[1]  holds hash   origin_holds:{origins:<group>}   (origin → epoch ms)
    ARGV[1]  origin
    ARGV[2]  until, epoch ms
    ARGV[3]  now, epoch ms
]]
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or 0) or 0
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local until_ms = tonumber(all[i + 1])
  if until_ms and until_ms < tonumber(ARGV[3]) then redis.call('HDEL', KEYS[1], all[i]) end
end
return 1
