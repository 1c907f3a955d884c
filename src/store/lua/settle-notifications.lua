--[[
  Settles many notifications at once after an attempt (or a final refusal): each is either
  done (delivered or given up: the done marker is set) or waiting for a retry; in both
  cases the caller's claim is released and the status, with its attempt history inside, is
  recorded in one SET.

  Input:
    ARGV[1]  TTL of the done marker and status, seconds
    ARGV[2]  attempts kept in a history
  and per notification i from 0 (numKeys = 3 × notifications):
    KEYS[3i+1]  done marker      processed_messages:{id}[suffix]
    KEYS[3i+2]  claim            notification_lock:{id}[suffix]
    KEYS[3i+3]  status           notification_status:{id}[suffix]
    ARGV[4i+3]  '1' done, '0' waiting for a retry
    ARGV[4i+4]  claim token ('' when none is held)
    ARGV[4i+5]  status JSON, its "history" holding this settlement's attempt (or none)
    ARGV[4i+6]  '1' when attempts came before this one: their history (the status's so far)
                goes first; '0' for a notification's first attempt (the common case: one SET)

  A notification already done when its settlement arrives was settled by another copy (one
  whose claim expired while its process was frozen, say): the first settlement stands; the
  late one only releases its own claim.

  Output: per notification, 1 when this settlement stands, 0 when another copy's did already
  (the caller then must not act on its own: a given-up copy writes no dead letter).

  One notification's keys must not fail the batch: a claim or status written by something
  else (another type, not our JSON) goes through redis.pcall and pcall(cjson.decode), and
  such a key only loses its own history. SET works on keys of any type.
]]
local ttl, kept = ARGV[1], tonumber(ARGV[2])

-- The status to write, with the history kept so far before its own entry (at most `kept`).
local function withEarlierHistory(status, statusJson)
  local earlierJson = redis.pcall('GET', status)
  if type(earlierJson) ~= 'string' then return statusJson end
  local ok, earlier = pcall(cjson.decode, earlierJson)
  if not ok or type(earlier) ~= 'table' or type(earlier.history) ~= 'table' or #earlier.history == 0 then return statusJson end
  local latest = cjson.decode(statusJson)
  local history = {}
  for _, entry in ipairs(earlier.history) do history[#history + 1] = entry end
  for _, entry in ipairs(latest.history) do history[#history + 1] = entry end
  local first = math.max(1, #history - kept + 1)
  latest.history = {}
  for j = first, #history do latest.history[#latest.history + 1] = history[j] end
  return cjson.encode(latest)
end

local stands = {}
for i = 0, #KEYS / 3 - 1 do
  local done, claim, status = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  local finished, token, statusJson, afterEarlier = ARGV[4 * i + 3], ARGV[4 * i + 4], ARGV[4 * i + 5], ARGV[4 * i + 6]
  -- settled: by another copy before this settlement (a done one sets the marker in the same command)
  local settled
  if finished == '1' then settled = not redis.call('SET', done, '_', 'EX', ttl, 'NX') else settled = redis.call('EXISTS', done) == 1 end
  if token ~= '' and redis.pcall('GET', claim) == token then redis.call('DEL', claim) end
  if not settled then
    if afterEarlier == '1' then statusJson = withEarlierHistory(status, statusJson) end
    redis.call('SET', status, statusJson, 'EX', ttl)
  end
  stands[i + 1] = settled and 0 or 1
end
return stands
