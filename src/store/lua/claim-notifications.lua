--[[
  Claims many notifications at once: for each, whether it was already sent, was attempted
  since the caller's copy was written (the copy is superseded), is being sent by someone else
  (and for how much longer), or is now claimed by the caller.

  Input, per notification i from 0 (numKeys = 3 × notifications):
    KEYS[3i+1]  done marker      processed_messages:{id}[suffix]
    KEYS[3i+2]  claim            notification_lock:{id}[suffix]
    KEYS[3i+3]  status           notification_status:{id}[suffix]
    ARGV[4i+1]  claim token
    ARGV[4i+2]  claim TTL, ms
    ARGV[4i+3]  attempts made before the caller's copy was written (its record's history)
    ARGV[4i+4]  deferrals (refusals without an attempt) before it was written

  Output, two numbers per notification:
    0, 0      already done
    1, 0      claimed
    2, pttl   busy: claimed by another token for pttl more ms
    3, 0      superseded: the status says "retrying" after more attempts than the copy knows
              of, or as many and more deferrals; a later copy (the retry record that attempt
              or deferral wrote, before its status) carries it on

  A copy read twice (a rebalance, a stream replaced, a crash before a commit) would otherwise
  make its own attempt and write its own retry record at every step of the schedule: twins.

  SET, EXISTS and PTTL work on a key of any type, and a status that is not ours is ignored
  (GET through redis.pcall, decoding through pcall), so no key can fail the batch.
]]
-- The status says "retrying" after more attempts than the caller's copy knows of, or as many
-- and more deferrals (a status written before deferrals were kept counts none).
local function supersedes(status, attemptsKnown, deferralsKnown)
  local json = redis.pcall('GET', status)
  if type(json) ~= 'string' then return false end
  local ok, parsed = pcall(cjson.decode, json)
  if not ok or type(parsed) ~= 'table' or parsed.status ~= 'retrying' or type(parsed.attempts) ~= 'number' then return false end
  if parsed.attempts ~= attemptsKnown then return parsed.attempts > attemptsKnown end
  return type(parsed.deferrals) == 'number' and parsed.deferrals > deferralsKnown
end

local answers = {}
for i = 0, #KEYS / 3 - 1 do
  local done, claim, status = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  local token, ttl, attemptsKnown, deferralsKnown = ARGV[4 * i + 1], ARGV[4 * i + 2], tonumber(ARGV[4 * i + 3]), tonumber(ARGV[4 * i + 4])
  if redis.call('EXISTS', done) == 1 then
    answers[2 * i + 1], answers[2 * i + 2] = 0, 0
  elseif supersedes(status, attemptsKnown, deferralsKnown) then
    answers[2 * i + 1], answers[2 * i + 2] = 3, 0
  elseif redis.call('SET', claim, token, 'NX', 'PX', ttl) then
    answers[2 * i + 1], answers[2 * i + 2] = 1, 0
  else
    answers[2 * i + 1], answers[2 * i + 2] = 2, redis.call('PTTL', claim)
  end
end
return answers
