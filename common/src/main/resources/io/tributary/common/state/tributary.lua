#!lua name=tributary

-- Applies one batch of one partition atomically, if the partition still stands where the caller
-- continued from (fencing). KEYS[1] is the partition's meta hash; every other key is named by index
-- from the ops in ARGV. All keys share the partition's hash tag, so this runs on Redis Cluster too.
--
-- ARGV: expected position ('' when none), new position, new stream time, then ops:
--   'D' key ttl n id...             record applied event ids (de-duplication)
--   'W' key ttl n (code field value)...   update a window hash; codes: I incr, F incrbyfloat, < min, > max
--   'H' key ttl n value...          add to a HyperLogLog
--   'Z' key ttl score member        add a window start to a group's index
--   'S' key ttl member              add a group to a window's set of groups
-- Returns {'ok', {window hash fields...}, ..., {distinct count}, ...} in op order for W and H ops,
-- or {'conflict', stored position, stored stream time}.

local function extend(key, ttl)
  local t = tonumber(ttl)
  if redis.call('PTTL', key) < t then
    redis.call('PEXPIRE', key, t)
  end
end

local function apply(keys, args)
  local meta = keys[1]
  local stored = redis.call('HGET', meta, 'pos')
  if (stored or '') ~= args[1] then
    return {'conflict', stored or '', redis.call('HGET', meta, 'st') or ''}
  end
  local out = {'ok'}
  local i = 4
  local n = #args
  while i <= n do
    local op = args[i]
    local key = keys[tonumber(args[i + 1])]
    local ttl = args[i + 2]
    if op == 'D' then
      local count = tonumber(args[i + 3])
      for j = 1, count do
        redis.call('HSET', key, args[i + 3 + j], '1')
      end
      extend(key, ttl)
      i = i + 4 + count
    elseif op == 'W' then
      local count = tonumber(args[i + 3])
      local j = i + 4
      for _ = 1, count do
        local code, field, value = args[j], args[j + 1], args[j + 2]
        if code == 'I' then
          redis.call('HINCRBY', key, field, value)
        elseif code == 'F' then
          redis.call('HINCRBYFLOAT', key, field, value)
        else
          local current = redis.call('HGET', key, field)
          if not current or (code == '<' and tonumber(value) < tonumber(current))
              or (code == '>' and tonumber(value) > tonumber(current)) then
            redis.call('HSET', key, field, value)
          end
        end
        j = j + 3
      end
      redis.call('HINCRBY', key, 'v', 1)
      redis.call('PEXPIRE', key, ttl)
      out[#out + 1] = redis.call('HGETALL', key)
      i = j
    elseif op == 'H' then
      local count = tonumber(args[i + 3])
      for j = 1, count, 500 do
        redis.call('PFADD', key, unpack(args, i + 3 + j, i + 3 + math.min(j + 499, count)))
      end
      redis.call('PEXPIRE', key, ttl)
      out[#out + 1] = redis.call('PFCOUNT', key)
      i = i + 4 + count
    elseif op == 'Z' then
      redis.call('ZADD', key, args[i + 3], args[i + 4])
      extend(key, ttl)
      i = i + 5
    elseif op == 'S' then
      redis.call('SADD', key, args[i + 3])
      extend(key, ttl)
      i = i + 4
    else
      return redis.error_reply('unknown op ' .. tostring(op))
    end
  end
  redis.call('HSET', meta, 'pos', args[2], 'st', args[3])
  return out
end

redis.register_function('tributary_apply', apply)
