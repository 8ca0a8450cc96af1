#!lua name=tributary_history

-- Stores one partition's batch of events in a history and answers each event's features, computed
-- from the key's events stored before it (event time, ties by id) at the moment the event is first
-- stored, and kept with it: a replayed or retried event gets the same features back. Layout and
-- semantics: docs/operations.md, "Event history".
--
-- KEYS, three per history key: H (hash: 'e'..id -> msgpack {time, value1, ...}, 'x'..id -> the
-- features' JSON text, 'b'..window..':'..bucket -> msgpack partials, 'mt' -> newest time,
-- 'co' -> cut-off), Z (sorted set: event ids scored by time), B (sorted set: bucket fields scored by
-- their bucket's end).
-- ARGV[1]: the plan, JSON {w = {{last, width, {numeric field indexes}, {distinct field indexes}}},
--   m = {{function, window index, field index}}, o = feature order {{'m'|'l', index}},
--   l = {{field index, n}}, x = {last, limit} or absent, num = {1 when field i is numeric}, r = retention,
--   ttl = wall-clock lifetime in ms}.
-- ARGV[2..]: one event each, JSON {key index, id, time, {value or null per kept field}}, in input order.
-- Returns one JSON text per event: the feature values in order, then the matches when asked for.
-- Every read is clipped at the key's cut-off (the retention behind its newest event): what lies
-- behind it is forgotten, whether or not the lazy expiry has deleted it yet.

local MAX_SCAN = 1000

local function num(x)
  if x ~= x or x == math.huge or x == -math.huge then
    return 'null'
  end
  if x == math.floor(x) and math.abs(x) < 1e15 then
    return string.format('%d', x)
  end
  return string.format('%.17g', x)
end

local function value_json(v, numeric)
  if v == nil or v == false then
    return 'null'
  end
  if numeric and tonumber(v) then
    return v
  end
  return cjson.encode(v)
end

-- True when the stored event (t, member) lies strictly before (ts, id).
local function before(t, member, ts, id)
  return t < ts or (t == ts and member < id)
end

local function hmget_events(H, ids)
  local out = {}
  for i = 1, #ids, MAX_SCAN do
    local fields = {}
    for j = i, math.min(i + MAX_SCAN - 1, #ids) do
      fields[#fields + 1] = 'e' .. ids[j]
    end
    local got = redis.call('HMGET', H, unpack(fields))
    for j = 1, #got do
      out[#out + 1] = got[j] and cmsgpack.unpack(got[j]) or false
    end
  end
  return out
end

local function new_acc(nfields)
  local acc = {n = 0, c = {}, s = {}, mn = {}, mx = {}, d = {}}
  for f = 1, nfields do
    acc.c[f] = 0
    acc.s[f] = 0
    acc.d[f] = {}
  end
  return acc
end

-- Adds one event's values to a window's accumulator.
local function add_event(acc, rec, wspec)
  acc.n = acc.n + 1
  for _, f in ipairs(wspec[3]) do
    local x = tonumber(rec[f + 1])
    if x then
      acc.c[f] = acc.c[f] + 1
      acc.s[f] = acc.s[f] + x
      if acc.mn[f] == nil or x < acc.mn[f] then acc.mn[f] = x end
      if acc.mx[f] == nil or x > acc.mx[f] then acc.mx[f] = x end
    end
  end
  for _, f in ipairs(wspec[4]) do
    local v = rec[f + 1]
    if v ~= nil and v ~= false then
      acc.d[f][v] = true
    end
  end
end

-- Adds a bucket's partials ({n, {c, s, mn, mx} per numeric field, {values} per distinct field}).
local function add_bucket(acc, packed, wspec)
  local b = cmsgpack.unpack(packed)
  acc.n = acc.n + b[1]
  local i = 2
  for _, f in ipairs(wspec[3]) do
    local p = b[i]
    i = i + 1
    if p[1] > 0 then
      acc.c[f] = acc.c[f] + p[1]
      acc.s[f] = acc.s[f] + p[2]
      if acc.mn[f] == nil or p[3] < acc.mn[f] then acc.mn[f] = p[3] end
      if acc.mx[f] == nil or p[4] > acc.mx[f] then acc.mx[f] = p[4] end
    end
  end
  for _, f in ipairs(wspec[4]) do
    for _, v in ipairs(b[i]) do
      acc.d[f][v] = true
    end
    i = i + 1
  end
end

-- Events of Z scored in [lo, hi] (hi exclusive unless inclusive), those at time ts only when their id is below id.
local function scan(acc, H, Z, lo, hi, inclusive, ts, id, wspec)
  local ids = redis.call('ZRANGEBYSCORE', Z, lo, inclusive and hi or ('(' .. hi), 'WITHSCORES')
  local chosen = {}
  for i = 1, #ids, 2 do
    if before(tonumber(ids[i + 1]), ids[i], ts, id) then
      chosen[#chosen + 1] = ids[i]
    end
  end
  for _, rec in ipairs(hmget_events(H, chosen)) do
    if rec then
      add_event(acc, rec, wspec)
    end
  end
end

local function window_acc(H, Z, B, wi, wspec, ts, id, cutoff, nfields)
  local acc = new_acc(nfields)
  local last, width = wspec[1], wspec[2]
  local lo = ts - last
  if lo < cutoff then lo = cutoff end
  if lo > ts then
    return acc
  end
  local blo, bhi = math.floor(lo / width), math.floor(ts / width)
  if blo == bhi then
    scan(acc, H, Z, lo, ts, true, ts, id, wspec)
    return acc
  end
  scan(acc, H, Z, lo, (blo + 1) * width, false, ts, id, wspec)
  if bhi > blo + 1 then
    -- Only the buckets that exist: a quiet key has few, and none are read for nothing.
    local prefix = 'b' .. wi .. ':'
    local fields = {}
    for _, field in ipairs(redis.call('ZRANGEBYSCORE', B, (blo + 2) * width, bhi * width)) do
      if string.sub(field, 1, #prefix) == prefix then
        fields[#fields + 1] = field
      end
    end
    for i = 1, #fields, MAX_SCAN do
      local got = redis.call('HMGET', H, unpack(fields, i, math.min(i + MAX_SCAN - 1, #fields)))
      for j = 1, #got do
        if got[j] then add_bucket(acc, got[j], wspec) end
      end
    end
  end
  scan(acc, H, Z, bhi * width, ts, true, ts, id, wspec)
  return acc
end

local function measure(acc, fn, f)
  if fn == 'count' then return num(acc.n) end
  if fn == 'sum' then return num(acc.s[f]) end
  if fn == 'avg' then return acc.c[f] > 0 and num(acc.s[f] / acc.c[f]) or 'null' end
  if fn == 'min' then return acc.mn[f] and num(acc.mn[f]) or 'null' end
  if fn == 'max' then return acc.mx[f] and num(acc.mx[f]) or 'null' end
  local n = 0
  for _ in pairs(acc.d[f]) do n = n + 1 end
  return num(n)
end

-- Up to count stored events strictly before (ts, id) and not before lo, newest first: {ids}, {times}.
local function latest(Z, ts, id, lo, count)
  local ids, times = {}, {}
  local offset = 0
  while #ids < count do
    local chunk = count + 16
    local got = redis.call('ZREVRANGEBYSCORE', Z, ts, lo, 'WITHSCORES', 'LIMIT', offset, chunk)
    for i = 1, #got, 2 do
      local t = tonumber(got[i + 1])
      if #ids < count and before(t, got[i], ts, id) then
        ids[#ids + 1] = got[i]
        times[#times + 1] = t
      end
    end
    if #got < 2 * chunk then break end
    offset = offset + chunk
  end
  return ids, times
end

local function features(H, Z, B, plan, ts, id, cutoff, nfields)
  local accs = {}
  for wi, wspec in ipairs(plan.w) do
    accs[wi] = window_acc(H, Z, B, wi, wspec, ts, id, cutoff, nfields)
  end
  local parts = {}
  for _, o in ipairs(plan.o) do
    if o[1] == 'm' then
      local m = plan.m[o[2]]
      parts[#parts + 1] = measure(accs[m[2]], m[1], m[3])
    else
      local l = plan.l[o[2]]
      local ids = latest(Z, ts, id, cutoff, l[2])
      local values = {}
      for i, rec in ipairs(hmget_events(H, ids)) do
        values[i] = value_json(rec and rec[l[1] + 1], plan.num[l[1]] == 1)
      end
      parts[#parts + 1] = '[' .. table.concat(values, ',') .. ']'
    end
  end
  if plan.x then
    local lo = ts - plan.x[1]
    if lo < cutoff then lo = cutoff end
    local ids, times = latest(Z, ts, id, lo, plan.x[2])
    local matches = {}
    for i, rec in ipairs(hmget_events(H, ids)) do
      local m = {cjson.encode(ids[i]), num(times[i])}
      for f = 1, nfields do
        m[#m + 1] = value_json(rec and rec[f + 1], plan.num[f] == 1)
      end
      matches[i] = '[' .. table.concat(m, ',') .. ']'
    end
    parts[#parts + 1] = '[' .. table.concat(matches, ',') .. ']'
  end
  return '[' .. table.concat(parts, ',') .. ']'
end

local function add_to_bucket(H, B, wi, wspec, ts, rec)
  local b = math.floor(ts / wspec[2])
  local field = 'b' .. wi .. ':' .. b
  local packed = redis.call('HGET', H, field)
  local p
  if packed then
    p = cmsgpack.unpack(packed)
  else
    p = {0}
    for _ in ipairs(wspec[3]) do p[#p + 1] = {0, 0, 0, 0} end
    for _ in ipairs(wspec[4]) do p[#p + 1] = {} end
    redis.call('ZADD', B, (b + 1) * wspec[2], field)
  end
  p[1] = p[1] + 1
  local i = 2
  for _, f in ipairs(wspec[3]) do
    local x = tonumber(rec[f + 1])
    local q = p[i]
    if x then
      if q[1] == 0 or x < q[3] then q[3] = x end
      if q[1] == 0 or x > q[4] then q[4] = x end
      q[1] = q[1] + 1
      q[2] = q[2] + x
    end
    i = i + 1
  end
  for _, f in ipairs(wspec[4]) do
    local v = rec[f + 1]
    if v ~= nil and v ~= false then
      local list, present = p[i], false
      for _, known in ipairs(list) do
        if known == v then present = true break end
      end
      if not present then list[#list + 1] = v end
    end
    i = i + 1
  end
  redis.call('HSET', H, field, cmsgpack.pack(p))
end

-- Deletes what lies more than the retention behind the key's newest event: at most 64 events and
-- 64 buckets per event stored, so it keeps up with the writes at a bounded cost per call.
local function expire(H, Z, B, cutoff, limit)
  local old = redis.call('ZRANGEBYSCORE', Z, '-inf', '(' .. cutoff, 'LIMIT', 0, limit)
  if #old > 0 then
    local fields = {}
    for _, member in ipairs(old) do
      fields[#fields + 1] = 'e' .. member
      fields[#fields + 1] = 'x' .. member
    end
    redis.call('HDEL', H, unpack(fields))
    redis.call('ZREM', Z, unpack(old))
  end
  local buckets = redis.call('ZRANGEBYSCORE', B, '-inf', cutoff, 'LIMIT', 0, limit)
  if #buckets > 0 then
    redis.call('HDEL', H, unpack(buckets))
    redis.call('ZREM', B, unpack(buckets))
  end
end

local function record(keys, args)
  local plan = cjson.decode(args[1])
  local nfields = #plan.num
  local out = {}
  local touched = {}
  for a = 2, #args do
    local ev = cjson.decode(args[a])
    local k, id, ts, values = ev[1], ev[2], ev[3], ev[4]
    local H, Z, B = keys[3 * k - 2], keys[3 * k - 1], keys[3 * k]
    touched[k] = touched[k] or {0, 0}
    local meta = redis.call('HMGET', H, 'mt', 'co')
    local newest = tonumber(meta[1]) or ts
    local cutoff = tonumber(meta[2]) or (ts - plan.r)
    -- An event behind the cut-off is forgotten, whether or not the lazy expiry has deleted it yet.
    local stored = ts >= cutoff and redis.call('HGET', H, 'x' .. id)
    if stored then
      out[#out + 1] = stored
    else
      local text = features(H, Z, B, plan, ts, id, cutoff, nfields)
      out[#out + 1] = text
      local rec = {ts}
      for f = 1, nfields do
        local v = values[f]
        if v == nil or v == cjson.null then
          rec[f + 1] = false
        else
          rec[f + 1] = tostring(v)
        end
      end
      redis.call('HSET', H, 'e' .. id, cmsgpack.pack(rec), 'x' .. id, text)
      redis.call('ZADD', Z, ts, id)
      for wi, wspec in ipairs(plan.w) do
        add_to_bucket(H, B, wi, wspec, ts, rec)
      end
      if ts > newest then newest = ts end
      if newest - plan.r > cutoff then cutoff = newest - plan.r end
      redis.call('HSET', H, 'mt', newest, 'co', cutoff)
      touched[k] = {cutoff, touched[k][2] + 1}
    end
  end
  for k, t in pairs(touched) do
    if t[2] > 0 then
      expire(keys[3 * k - 2], keys[3 * k - 1], keys[3 * k], t[1], 64 * t[2])
    end
    for i = 3 * k - 2, 3 * k do
      redis.call('PEXPIRE', keys[i], plan.ttl)
    end
  end
  return out
end

redis.register_function('tributary_history', record)
