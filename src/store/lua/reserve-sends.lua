--[[
  Reserves the next send slot of many rate-limited callback origins at once (GCRA: the
  generic cell rate algorithm, as a meter that schedules). Each origin keeps its
  theoretical arrival time (TAT): the earliest moment its next send may go. A send takes
  max(TAT, now, the origin's Retry-After hold) and moves TAT one interval past it, so sends
  of one origin are spaced by its interval whichever replica makes them. The clock is
  Redis's, the same for every replica.

  Input, per reservation i from 1 (numKeys = 1 + reservations):
    KEYS[1]     holds hash       origin_holds:{origins:<group>}   (origin → epoch ms)
    KEYS[1+i]   rate key         origin_rate:{origins:<group>}:<origin>
    ARGV[2i-1]  origin           (the field of the holds hash)
    ARGV[2i]    interval, ms     (1000 / the origin's limit per second)

  Output: Redis's time now, then one number per reservation: the reserved slot, epoch ms
  (Redis's clock). Absolute, not "in so many ms": an answer read late (a busy replica) must
  not push the send later; the replica turns them into its own clock (lib/clock-offset.ts).
]]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local slots = { now }
for i = 1, #KEYS - 1 do
  local key = KEYS[1 + i]
  local interval = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now) or now
  if tat < now then tat = now end
  local hold = tonumber(redis.call('HGET', KEYS[1], ARGV[2 * i - 1]) or 0) or 0
  if hold > tat then tat = hold end
  local nextTat = tat + interval
  redis.call('SET', key, string.format('%.3f', nextTat), 'PX', math.ceil(nextTat - now) + 1000)
  slots[i + 1] = math.ceil(tat)
end
return slots
