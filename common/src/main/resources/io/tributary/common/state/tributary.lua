#!lua name=tributary

-- Applies one batch of one partition atomically, if the partition still stands where the caller
-- continued from (fencing). KEYS[1] is the partition's meta hash, KEYS[2] its outbox stream; every
-- other key is named by index from the ops in ARGV. All keys share the partition's hash tag, so this
-- runs on Redis Cluster too.
--
-- ARGV: expected position ('' when none), new position, new stream time, the oldest outbox position
-- to keep ('' to keep all: entries before it were relayed), the outbox entry ('' when the batch has none),
-- then ops:
--   'D' key ttl n id...               record decided event ids (de-duplication)
--   'W' key ttl n (group value)...    write whole window values into a window-start hash
--   'H' key ttl n value...            add to a HyperLogLog; its count after the batch is returned
-- TTLs only ever extend a key's life. Returns {'ok', distinct count...} in H-op order, or
-- {'conflict', stored position, stored stream time}. The outbox entry (id '<new position>-0') keeps
-- the distinct counts too, so a relay that reads it back after a crash publishes what was applied.

local function extend(key, ttl)
  local t = tonumber(ttl)
  if redis.call('PTTL', key) < t then
    redis.call('PEXPIRE', key, t)
  end
end

local function apply(keys, args)
  local meta, outbox = keys[1], keys[2]
  local stored = redis.call('HGET', meta, 'pos')
  if (stored or '') ~= args[1] then
    return {'conflict', stored or '', redis.call('HGET', meta, 'st') or ''}
  end
  if stored and tonumber(args[2]) <= tonumber(stored) then
    return redis.error_reply('new position ' .. args[2] .. ' is not after the stored ' .. stored)
  end
  if not stored then
    -- An outbox without a position belongs to state that is gone; its ids would refuse the new entries.
    redis.call('DEL', outbox)
  end
  local counts = {}
  local i = 6
  local n = #args
  while i <= n do
    local op = args[i]
    local key = keys[tonumber(args[i + 1])]
    local ttl = args[i + 2]
    local count = tonumber(args[i + 3])
    if op == 'D' then
      for j = 1, count, 500 do
        local fields = {}
        for k = j, math.min(j + 499, count) do
          fields[#fields + 1] = args[i + 3 + k]
          fields[#fields + 1] = '1'
        end
        redis.call('HSET', key, unpack(fields))
      end
      extend(key, ttl)
      i = i + 4 + count
    elseif op == 'W' then
      for j = 1, count, 500 do
        redis.call('HSET', key, unpack(args, i + 2 + 2 * j, i + 3 + 2 * math.min(j + 499, count)))
      end
      extend(key, ttl)
      i = i + 4 + 2 * count
    elseif op == 'H' then
      for j = 1, count, 500 do
        redis.call('PFADD', key, unpack(args, i + 3 + j, i + 3 + math.min(j + 499, count)))
      end
      if count == 0 then
        redis.call('PFADD', key)
      end
      extend(key, ttl)
      counts[#counts + 1] = redis.call('PFCOUNT', key)
      i = i + 4 + count
    else
      return redis.error_reply('unknown op ' .. tostring(op))
    end
  end
  if args[5] ~= '' then
    redis.call('XADD', outbox, args[2] .. '-0', 'p', args[5], 'd', table.concat(counts, ','))
  end
  if args[4] ~= '' then
    redis.call('XTRIM', outbox, 'MINID', args[4] .. '-0')
  end
  redis.call('HSET', meta, 'pos', args[2], 'st', args[3])
  local out = {'ok'}
  for _, c in ipairs(counts) do
    out[#out + 1] = c
  end
  return out
end

redis.register_function('tributary_apply', apply)
