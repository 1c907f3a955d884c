--[[
  Settles many notifications at once after an attempt (or a final refusal): each is either
  done (delivered or given up: the done marker is set) or waiting for a retry; in both
  cases the caller's claim is released and the status and attempt history are recorded.

  Input:
    ARGV[1]  TTL of the done marker, status and history, seconds
    ARGV[2]  attempts kept in a history
  and per notification i from 0 (numKeys = 4 × notifications):
    KEYS[4i+1]  done marker      processed_messages:{id}[suffix]
    KEYS[4i+2]  claim            notification_lock:{id}[suffix]
    KEYS[4i+3]  status           notification_status:{id}[suffix]
    KEYS[4i+4]  attempt history  notification_attempts:{id}[suffix]
    ARGV[4i+3]  '1' done, '0' waiting for a retry
    ARGV[4i+4]  claim token ('' when none is held)
    ARGV[4i+5]  status JSON
    ARGV[4i+6]  attempt JSON ('' when no attempt was made)

  A notification already done when its settlement arrives was settled by another copy (one
  whose claim expired while its process was frozen, say): the first settlement stands; the
  late one only releases its own claim.

  Output: per notification, 1 when this settlement stands, 0 when another copy's did already
  (the caller then must not act on its own: a given-up copy writes no dead letter).

  One notification's keys must not fail the batch: commands that can meet a key of another
  type (a claim or history written by something else) go through redis.pcall, and such a
  key only loses its own bookkeeping. SET and EXPIRE work on keys of any type.
]]
local ttl, kept = ARGV[1], tonumber(ARGV[2])
local stands = {}
for i = 0, #KEYS / 4 - 1 do
  local done, claim, status, attempts = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3], KEYS[4 * i + 4]
  local finished, token, statusJson, attemptJson = ARGV[4 * i + 3], ARGV[4 * i + 4], ARGV[4 * i + 5], ARGV[4 * i + 6]
  -- settled: by another copy before this settlement (a done one sets the marker in the same command)
  local settled
  if finished == '1' then settled = not redis.call('SET', done, '_', 'EX', ttl, 'NX') else settled = redis.call('EXISTS', done) == 1 end
  if token ~= '' and redis.pcall('GET', claim) == token then redis.call('DEL', claim) end
  if not settled then redis.call('SET', status, statusJson, 'EX', ttl) end
  if attemptJson ~= '' and not settled then
    local length = redis.pcall('RPUSH', attempts, attemptJson)
    if type(length) == 'number' and length > kept then redis.call('LTRIM', attempts, -kept, -1) end
    redis.call('EXPIRE', attempts, ttl)
  end
  stands[i + 1] = settled and 0 or 1
end
return stands
