/**
 * The Lua scripts of the Redis engine. Each touches the keys of one channel only, all
 * hash-tagged `{channel}`, so that in Redis Cluster one script runs on one slot. Times
 * come from Redis's own clock (TIME), not a node's: every node then agrees on a
 * message's time and on what is old enough to trim.
 *
 * Keys of a channel (see keys.ts): meta hash { e: epoch, s: top offset }, the stream of
 * retained messages (entry id = `offset-0`, fields t = time ms, d = envelope JSON), one
 * string per remembered idempotency key, and the presence hash.
 */

/** Shared by every script: Redis time in ms, epoch creation, and trimming by age. */
const COMMON = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The channel's epoch, creating the meta with a fresh one when it is gone (a new life
-- of the channel: offsets restart at 1 and cursors of the old life get a gap notice).
-- A stream left from an earlier life goes with it, or its ids would be ahead of the new offsets.
local function ensure_meta(meta, stream, new_epoch, empty_ttl)
  local epoch = redis.call('HGET', meta, 'e')
  if not epoch then
    epoch = new_epoch
    redis.call('DEL', stream)
    redis.call('HSET', meta, 'e', epoch, 's', 0)
    redis.call('PEXPIRE', meta, empty_ttl)
  end
  return epoch
end

-- Entries are appended in time order, so the old ones are a prefix: find the first
-- young enough entry and trim everything before it.
local function trim_age(stream, cutoff)
  -- The common case, one entry looked at: the oldest is young enough.
  local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
  if #oldest == 0 or tonumber(oldest[1][2][2]) >= cutoff then return end
  while true do
    local entries = redis.call('XRANGE', stream, '-', '+', 'COUNT', 100)
    if #entries == 0 then return end
    for _, entry in ipairs(entries) do
      if tonumber(entry[2][2]) >= cutoff then
        redis.call('XTRIM', stream, 'MINID', entry[1])
        return
      end
    end
    if #entries < 100 then
      redis.call('DEL', stream)
      return
    end
    local last = entries[#entries][1]
    local after = tonumber(string.match(last, '^(%d+)')) + 1
    redis.call('XTRIM', stream, 'MINID', after .. '-0')
  end
end

-- first..last retained; first = last + 1 when nothing is.
local function bounds(meta, stream)
  local last = tonumber(redis.call('HGET', meta, 's') or '0')
  local head = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
  local first = last + 1
  if #head > 0 then first = tonumber(string.match(head[1][1], '^(%d+)')) end
  return first, last
end
`;

/**
 * Publishes a batch of messages to one channel, all or nothing, and answers
 * `{offset, epoch, time, duplicate}` per message, flattened.
 *
 * KEYS: meta, stream, then one idempotency key per message that has one.
 * ARGV: new_epoch, max_count, max_age_ms, meta_ttl_ms, dedupe_ms, publish_command,
 *       pubsub_channel, envelope_head, deadline_ms, then per message: key_index (0 = none),
 *       envelope_tail.
 *
 * `deadline_ms` (Redis time) is when the node will have given up on the answer and told
 * the publisher 503: a script that only gets to run later (Redis was paused, or busy)
 * publishes nothing, so a refused publish doesn't turn up afterwards as a message.
 *
 * The envelope is assembled here from the node's pre-serialised head (`{"channel":…,"offset":`)
 * and tail (`,"event":…,"data":…}` after the time), because offset, epoch and time are only
 * known inside the script; it is stored and published as that one string, so every node
 * and every history read hands out the same bytes.
 */
export const PUBLISH = `${COMMON}
local meta, stream = KEYS[1], KEYS[2]
local new_epoch, max_count, max_age, meta_ttl, dedupe = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local publish_command, pubsub_channel, head, deadline = ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9])
local now = now_ms()
if now > deadline then return redis.error_reply('TIMEOUT the publish reached Redis after the node gave up on it') end
local epoch = ensure_meta(meta, stream, new_epoch, meta_ttl)
local out = {}
local published = false
for i = 10, #ARGV, 2 do
  local key_index = tonumber(ARGV[i])
  local tail = ARGV[i + 1]
  local prior = false
  if key_index > 0 then prior = redis.call('GET', KEYS[key_index]) end
  if prior then
    local offset, prior_epoch, time = string.match(prior, '^(%d+):([^:]+):(%d+)$')
    out[#out + 1] = offset
    out[#out + 1] = prior_epoch
    out[#out + 1] = time
    out[#out + 1] = 1
  else
    local offset = redis.call('HINCRBY', meta, 's', 1)
    local envelope = head .. offset .. ',"epoch":"' .. epoch .. '","time":' .. now .. tail
    redis.call('XADD', stream, 'MAXLEN', max_count, offset .. '-0', 't', now, 'd', envelope)
    redis.call(publish_command, pubsub_channel, envelope)
    if key_index > 0 then
      redis.call('SET', KEYS[key_index], offset .. ':' .. epoch .. ':' .. now, 'PX', dedupe)
    end
    out[#out + 1] = offset
    out[#out + 1] = epoch
    out[#out + 1] = now
    out[#out + 1] = 0
    published = true
  end
end
if published then
  trim_age(stream, now - max_age)
  redis.call('PEXPIRE', stream, max_age)
  redis.call('PEXPIRE', meta, meta_ttl)
end
return out
`;

/**
 * The channel's state and up to `limit` messages after `after`, oldest first.
 * KEYS: meta, stream. ARGV: new_epoch, max_age_ms, empty_ttl_ms, after, limit (0 = state only).
 * Answers {epoch, first, last, envelope…}.
 */
export const READ = `${COMMON}
local meta, stream = KEYS[1], KEYS[2]
local new_epoch, max_age, empty_ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local after, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local epoch = ensure_meta(meta, stream, new_epoch, empty_ttl)
trim_age(stream, now_ms() - max_age)
local first, last = bounds(meta, stream)
local out = { epoch, first, last }
if limit > 0 and after < last then
  local from = math.max(after + 1, first)
  local entries = redis.call('XRANGE', stream, from .. '-0', '+', 'COUNT', limit)
  for _, entry in ipairs(entries) do out[#out + 1] = entry[2][4] end
end
return out
`;

/**
 * Sets this node's count of subscribers to a channel and answers the sum over every node
 * whose count has not expired. Each node's entry is `count:until_ms` (Redis time), so a
 * node that dies stops being counted once its entry expires.
 * While a node has subscribers it also keeps a never-published channel's meta (and so its
 * epoch) alive for at least `keep_ms`, so that a first message doesn't open a new epoch
 * under them.
 * KEYS: presence hash, meta. ARGV: node id, local count, ttl ms, keep_ms.
 */
export const PRESENCE = `${COMMON}
local key, meta, node, count, ttl, keep = KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
if count > 0 then
  redis.call('HSET', key, node, count .. ':' .. (now + ttl))
  redis.call('PEXPIRE', key, ttl)
  local pttl = redis.call('PTTL', meta)
  if pttl >= 0 and pttl < keep then redis.call('PEXPIRE', meta, keep) end
else
  redis.call('HDEL', key, node)
end
local total = 0
local entries = redis.call('HGETALL', key)
for i = 1, #entries, 2 do
  local n, untilms = string.match(entries[i + 1], '^(%d+):(%d+)$')
  if tonumber(untilms) > now then total = total + tonumber(n) else redis.call('HDEL', key, entries[i]) end
end
return total
`;
