--[[
  Claims many notifications at once: for each, whether it was already sent (and how it
  ended), is being sent by someone else (and for how much longer), or is now claimed by the
  caller.

  Input, per notification i from 0 (numKeys = 3 × notifications):
    KEYS[3i+1]  done marker      processed_messages:{id}[suffix]
    KEYS[3i+2]  claim            notification_lock:{id}[suffix]
    KEYS[3i+3]  status           notification_status:{id}[suffix]
    ARGV[2i+1]  claim token
    ARGV[2i+2]  claim TTL, ms

  Output, two values per notification:
    0, status   already done; status: its status JSON as settled ('' when gone), from which
                the outcome record is published again (it may not have left before a crash)
    1, 0        claimed
    2, pttl     busy: claimed by another token for pttl more ms

  SET, EXISTS and PTTL work on a key of any type, and the status is read with pcall, so no
  key can fail the batch.
]]
local answers = {}
for i = 0, #KEYS / 3 - 1 do
  local done, claim, status = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  if redis.call('EXISTS', done) == 1 then
    local settled = redis.pcall('GET', status)
    if type(settled) ~= 'string' then settled = '' end
    answers[2 * i + 1], answers[2 * i + 2] = 0, settled
  elseif redis.call('SET', claim, ARGV[2 * i + 1], 'NX', 'PX', ARGV[2 * i + 2]) then
    answers[2 * i + 1], answers[2 * i + 2] = 1, 0
  else
    answers[2 * i + 1], answers[2 * i + 2] = 2, redis.call('PTTL', claim)
  end
end
return answers
