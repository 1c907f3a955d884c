--[[
  Claims many notifications at once: for each, whether it was already sent, is being sent
  by someone else (and for how much longer), or is now claimed by the caller.

  Input, per notification i from 0 (numKeys = 2 × notifications):
    KEYS[2i+1]  done marker      processed_messages:{id}[suffix]
    KEYS[2i+2]  claim            notification_lock:{id}[suffix]
    ARGV[2i+1]  claim token
    ARGV[2i+2]  claim TTL, ms

  Output, two numbers per notification:
    0, 0      already done
    1, 0      claimed
    2, pttl   busy: claimed by another token for pttl more ms

  SET, EXISTS and PTTL work on a key of any type, so no key can fail the batch.
]]
local answers = {}
for i = 0, #KEYS / 2 - 1 do
  local done, claim = KEYS[2 * i + 1], KEYS[2 * i + 2]
  if redis.call('EXISTS', done) == 1 then
    answers[2 * i + 1], answers[2 * i + 2] = 0, 0
  elseif redis.call('SET', claim, ARGV[2 * i + 1], 'NX', 'PX', ARGV[2 * i + 2]) then
    answers[2 * i + 1], answers[2 * i + 2] = 1, 0
  else
    answers[2 * i + 1], answers[2 * i + 2] = 2, redis.call('PTTL', claim)
  end
end
return answers
