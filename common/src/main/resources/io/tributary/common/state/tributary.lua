#!lua name=tributary

-- Applies one batch of one partition atomically, if the partition still stands where the caller
-- continued from (fencing). KEYS[1] is the partition's meta hash; every other key is named by index
-- from the ops in ARGV. All keys share the partition's hash tag, so this runs on Redis Cluster too.
--
-- ARGV: expected position ('' when none), new position, new stream time, then ops:
--   'D' key ttl n id...             record applied event ids (de-duplication)
--   'W' key ttl n (code field value)...   update a window hash; codes: I incr, F incrbyfloat, < min, > max;
--                                          the first op is always I count: the count is also the window's version
--   'H' key ttl n value...          add to a HyperLogLog
--   'S' key ttl member              add a group to a window's set of groups
-- A window key (and its HyperLogLogs) gets its TTL when created: its expiry in stream time minus the
-- stream time then; a window's set of groups is extended when it gains a member. Returns {'ok', {window hash fields...}, ..., {distinct count}, ...} in op order for W and H ops,
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
  -- whether the last window hash was created by this call; its HyperLogLogs follow it
  local created = false
  local i = 4
  local n = #args
  while i <= n do
    local op = args[i]
    local key = keys[tonumber(args[i + 1])]
    local ttl = args[i + 2]
    if op == 'D' then
      local count = tonumber(args[i + 3])
      local fields = {}
      for j = 1, count do
        fields[#fields + 1] = args[i + 3 + j]
        fields[#fields + 1] = '1'
        if #fields >= 1000 or j == count then
          redis.call('HSET', key, unpack(fields))
          fields = {}
        end
      end
      extend(key, ttl)
      i = i + 4 + count
    elseif op == 'W' then
      -- The reply is the window's new fields, taken from the writes' own results: no read-back.
      local count = tonumber(args[i + 3])
      local j = i + 4
      local fields = {}
      created = false
      for _ = 1, count do
        local code, field, value = args[j], args[j + 1], args[j + 2]
        local now
        if code == 'I' then
          now = redis.call('HINCRBY', key, field, value)
          if field == 'count' and now == tonumber(value) then
            created = true
          end
        elseif code == 'F' then
          now = redis.call('HINCRBYFLOAT', key, field, value)
        else
          now = redis.call('HGET', key, field)
          if not now or (code == '<' and tonumber(value) < tonumber(now))
              or (code == '>' and tonumber(value) > tonumber(now)) then
            redis.call('HSET', key, field, value)
            now = value
          end
        end
        fields[#fields + 1] = field
        fields[#fields + 1] = tostring(now)
        j = j + 3
      end
      if created then
        redis.call('PEXPIRE', key, ttl)
      end
      out[#out + 1] = fields
      i = j
    elseif op == 'H' then
      local count = tonumber(args[i + 3])
      for j = 1, count, 500 do
        redis.call('PFADD', key, unpack(args, i + 3 + j, i + 3 + math.min(j + 499, count)))
      end
      if created then
        redis.call('PEXPIRE', key, ttl)
      end
      out[#out + 1] = redis.call('PFCOUNT', key)
      i = i + 4 + count
    elseif op == 'S' then
      if redis.call('SADD', key, args[i + 3]) == 1 then
        extend(key, ttl)
      end
      i = i + 4
    else
      return redis.error_reply('unknown op ' .. tostring(op))
    end
  end
  redis.call('HSET', meta, 'pos', args[2], 'st', args[3])
  return out
end

redis.register_function('tributary_apply', apply)
