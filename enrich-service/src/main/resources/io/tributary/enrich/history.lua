#!lua name=tributary_history

-- Stores one partition's batch of events in a history and answers each event's features, computed
-- from the key's events stored before it (event time, ties by id) at the moment the event is first
-- stored, and kept with it: a replayed or retried event gets the same features back. Layout and
-- semantics: docs/operations.md, "Event history".
--
-- KEYS, three per history key: H (hash: 'x'..id -> the features' JSON text, 'mt' -> newest time,
-- 'co' -> cut-off, 'pe' -> wall time of the last TTL refresh; in list mode 'L' -> msgpack list of
-- the events; in the sorted-set layout 'e'..id -> msgpack {time, value1, ...}, 'b'..window..':'..bucket
-- -> msgpack partials, 'ot' -> oldest stored time), Z (sorted set: event ids scored by time) and
-- B (sorted set: bucket fields scored by their bucket's end), both for the sorted-set layout only.
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
  if not string.find(v, '[%c"\\]') then
    return '"' .. v .. '"'
  end
  return cjson.encode(v)
end

-- Byte order, as sorted sets and the SQL store's VARBINARY order ids: Lua's '<' follows the
-- server's collation locale.
local function bytes_less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y
    end
  end
  return #a < #b
end

-- True when the stored event (t, member) lies strictly before (ts, id).
local function before(t, member, ts, id)
  return t < ts or (t == ts and bytes_less(member, id))
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

-- The features' JSON text from the windows' accumulators; latest(lo, count) gives up to count stored
-- events strictly before the event and not before lo, newest first: {ids}, {times}, {records}.
local function render(plan, accs, latest, ts, cutoff, nfields)
  local parts = {}
  for _, o in ipairs(plan.o) do
    if o[1] == 'm' then
      local m = plan.m[o[2]]
      parts[#parts + 1] = measure(accs[m[2]], m[1], m[3])
    else
      local l = plan.l[o[2]]
      local _, _, recs = latest(cutoff, l[2])
      local values = {}
      for i, rec in ipairs(recs) do
        values[i] = value_json(rec and rec[l[1] + 1], plan.num[l[1]] == 1)
      end
      parts[#parts + 1] = '[' .. table.concat(values, ',') .. ']'
    end
  end
  if plan.x then
    local lo = ts - plan.x[1]
    if lo < cutoff then lo = cutoff end
    local ids, times, recs = latest(lo, plan.x[2])
    local matches = {}
    for i, rec in ipairs(recs) do
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

-- A dense key: edges read from Z, interior windows from the bucket partials.
local function dense_features(H, Z, B, plan, ts, id, cutoff, nfields)
  local accs = {}
  for wi, wspec in ipairs(plan.w) do
    accs[wi] = window_acc(H, Z, B, wi, wspec, ts, id, cutoff, nfields)
  end
  return render(plan, accs, function(lo, count)
    local ids, times = latest(Z, ts, id, lo, count)
    return ids, times, hmget_events(H, ids)
  end, ts, cutoff, nfields)
end

-- A sparse key: events holds all its stored events not behind the cut-off, ascending by (time, id).
local function sparse_features(events, plan, ts, id, cutoff, nfields)
  local accs = {}
  for wi, wspec in ipairs(plan.w) do
    local acc = new_acc(nfields)
    local lo = ts - wspec[1]
    if lo < cutoff then lo = cutoff end
    for _, e in ipairs(events) do
      if e[2] >= lo and before(e[2], e[1], ts, id) then
        add_event(acc, e[3], wspec)
      end
    end
    accs[wi] = acc
  end
  return render(plan, accs, function(lo, count)
    local ids, times, recs = {}, {}, {}
    for i = #events, 1, -1 do
      local e = events[i]
      if #ids >= count or e[2] < lo then break end
      if before(e[2], e[1], ts, id) then
        ids[#ids + 1], times[#times + 1], recs[#recs + 1] = e[1], e[2], e[3]
      end
    end
    return ids, times, recs
  end, ts, cutoff, nfields)
end

local function new_partial(wspec)
  local p = {0}
  for _ in ipairs(wspec[3]) do p[#p + 1] = {0, 0, 0, 0} end
  for _ in ipairs(wspec[4]) do p[#p + 1] = {} end
  return p
end

-- Adds one event's values to a bucket's partials ({n, {c, s, mn, mx} per numeric field, {values} per distinct field}).
local function add_to_partial(p, wspec, rec)
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
end

-- Adds the events ({id, time, record}) to their buckets of every window: appends the changed bucket
-- fields and values to writes (for one HSET) and indexes the new buckets in B; fresh builds them
-- from these events alone, whatever partials are stored. Returns true when B got a member.
local function add_to_buckets(H, B, plan, events, writes, fresh)
  local fields, partials, order = {}, {}, {}
  for wi, wspec in ipairs(plan.w) do
    for _, e in ipairs(events) do
      local b = math.floor(e[2] / wspec[2])
      local field = 'b' .. wi .. ':' .. b
      if not partials[field] then
        partials[field] = {wi, b}
        order[#order + 1] = field
      end
    end
  end
  for _, field in ipairs(order) do fields[#fields + 1] = field end
  local got = {}
  for i = 1, fresh and 0 or #fields, MAX_SCAN do
    local part = redis.call('HMGET', H, unpack(fields, i, math.min(i + MAX_SCAN - 1, #fields)))
    for j = 1, #part do got[i + j - 1] = part[j] end
  end
  local indexed = {}
  for i, field in ipairs(fields) do
    local wi, b = partials[field][1], partials[field][2]
    local wspec = plan.w[wi]
    local p
    if got[i] then
      p = cmsgpack.unpack(got[i])
    else
      p = new_partial(wspec)
      indexed[#indexed + 1] = (b + 1) * wspec[2]
      indexed[#indexed + 1] = field
    end
    partials[field] = {wi, b, p}
  end
  for wi, wspec in ipairs(plan.w) do
    for _, e in ipairs(events) do
      add_to_partial(partials['b' .. wi .. ':' .. math.floor(e[2] / wspec[2])][3], wspec, e[3])
    end
  end
  for _, field in ipairs(fields) do
    writes[#writes + 1] = field
    writes[#writes + 1] = cmsgpack.pack(partials[field][3])
  end
  if #indexed > 0 then
    redis.call('ZADD', B, unpack(indexed))
    return true
  end
  return false
end

-- Deletes what lies more than the retention behind the key's newest event: at most limit events and
-- limit buckets, so it keeps up with the writes at a bounded cost per call. Returns the oldest stored
-- time when everything behind the cut-off is gone, nil when some is left for the next call.
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
  if #old >= limit or #buckets >= limit then
    return nil
  end
  local first = redis.call('ZRANGE', Z, 0, 0, 'WITHSCORES')
  return first[2] and tonumber(first[2]) or cutoff
end

-- A key starts in list mode: H's field 'L' holds its events not behind the cut-off, {id, time,
-- record} in (time, id) order, read and written whole with the rest of H, two commands per event.
-- The insert that takes it past SPARSE events moves it to the sorted-set layout (records in 'e'
-- fields, Z, partials and B) for good.
local SPARSE = 64

-- Inserts the entry {id, time, record} into the ordered list.
local function insert(list, entry)
  local i = #list
  while i > 0 and before(entry[2], entry[1], list[i][2], list[i][1]) do
    list[i + 1] = list[i]
    i = i - 1
  end
  list[i + 1] = entry
end

local function as_record(ts, values, nfields)
  local rec = {ts}
  for f = 1, nfields do
    local v = values[f]
    if v == nil or v == cjson.null then
      rec[f + 1] = false
    else
      rec[f + 1] = tostring(v)
    end
  end
  return rec
end

-- One event of a key in list mode; appends to writes and deletes, returns the features and, when
-- the key moved to the sorted-set layout, its cut-off and oldest stored time.
local function record_listed(H, Z, B, plan, packed, ts, id, rec, newest, cutoff, nfields, writes, deletes)
  local list = packed and cmsgpack.unpack(packed) or {}
  local text = sparse_features(list, plan, ts, id, cutoff, nfields)
  if ts < cutoff then
    -- Forgotten: not stored, so a retry gets the same empty features again.
    return text
  end
  insert(list, {id, ts, rec})
  if ts > newest then newest = ts end
  if newest - plan.r > cutoff then cutoff = newest - plan.r end
  local kept = {}
  for _, e in ipairs(list) do
    if e[2] >= cutoff then
      kept[#kept + 1] = e
    else
      deletes[#deletes + 1] = 'x' .. e[1]
    end
  end
  local n = #writes
  writes[n + 1], writes[n + 2], writes[n + 3], writes[n + 4], writes[n + 5], writes[n + 6] =
    'x' .. id, text, 'mt', newest, 'co', cutoff
  if #kept <= SPARSE then
    writes[#writes + 1] = 'L'
    writes[#writes + 1] = cmsgpack.pack(kept)
    return text
  end
  local members = {}
  for _, e in ipairs(kept) do
    members[#members + 1] = e[2]
    members[#members + 1] = e[1]
    writes[#writes + 1] = 'e' .. e[1]
    writes[#writes + 1] = cmsgpack.pack(e[3])
  end
  redis.call('ZADD', Z, unpack(members))
  add_to_buckets(H, B, plan, kept, writes, true)
  writes[#writes + 1] = 'ot'
  writes[#writes + 1] = kept[1][2]
  deletes[#deletes + 1] = 'L'
  return text, cutoff, kept[1][2]
end

-- One event of a key in the sorted-set layout; appends to writes, returns the features.
local function record_sorted(H, Z, B, plan, ts, id, rec, newest, cutoff, nfields, writes, t)
  local current = redis.call('ZRANGEBYSCORE', Z, cutoff, '+inf', 'WITHSCORES', 'LIMIT', 0, SPARSE + 1)
  local text
  if #current <= 2 * SPARSE then
    -- Few events within retention: read them whole.
    local events, fields = {}, {}
    for i = 1, #current, 2 do
      events[#events + 1] = {current[i], tonumber(current[i + 1])}
      fields[#fields + 1] = 'e' .. current[i]
    end
    if #fields > 0 then
      local recs = redis.call('HMGET', H, unpack(fields))
      for i, e in ipairs(events) do
        e[3] = recs[i] and cmsgpack.unpack(recs[i]) or {e[2]}
      end
    else
      t.created = true
    end
    text = sparse_features(events, plan, ts, id, cutoff, nfields)
  else
    text = dense_features(H, Z, B, plan, ts, id, cutoff, nfields)
  end
  if add_to_buckets(H, B, plan, {{id, ts, rec}}, writes) then
    t.created = true
  end
  if ts > newest then newest = ts end
  if newest - plan.r > cutoff then cutoff = newest - plan.r end
  if t.oldest == nil or ts < t.oldest then t.oldest = ts end
  local n = #writes
  writes[n + 1], writes[n + 2], writes[n + 3], writes[n + 4] = 'e' .. id, cmsgpack.pack(rec), 'x' .. id, text
  writes[n + 5], writes[n + 6], writes[n + 7], writes[n + 8] = 'mt', newest, 'co', cutoff
  if t.oldest > -math.huge then
    writes[#writes + 1] = 'ot'
    writes[#writes + 1] = t.oldest
  end
  redis.call('ZADD', Z, ts, id)
  t.cutoff = cutoff
  t.stored = t.stored + 1
  return text
end

local function record(keys, args)
  local plan = cjson.decode(args[1])
  local nfields = #plan.num
  local now = redis.call('TIME')
  now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  local out = {}
  local touched = {}
  for a = 2, #args do
    local ev = cjson.decode(args[a])
    local k, id, ts, values = ev[1], ev[2], ev[3], ev[4]
    local H, Z, B = keys[3 * k - 2], keys[3 * k - 1], keys[3 * k]
    local meta = redis.call('HMGET', H, 'mt', 'co', 'ot', 'pe', 'L', 'x' .. id)
    local t = touched[k]
    if not t then
      t = {stored = 0, written = false, due = not meta[4] or now - tonumber(meta[4]) > plan.ttl / 8}
      t.oldest = tonumber(meta[3])
      if t.oldest == nil and meta[1] and not meta[5] then
        t.oldest = -math.huge
      end
      touched[k] = t
    end
    local newest = tonumber(meta[1]) or ts
    local cutoff = tonumber(meta[2]) or (ts - plan.r)
    -- An event behind the cut-off is forgotten, whether or not the lazy expiry has deleted it yet.
    local stored = ts >= cutoff and meta[6]
    if stored then
      out[#out + 1] = stored
    else
      local rec = as_record(ts, values, nfields)
      local writes, deletes = {}, {}
      if meta[5] or not meta[1] then
        local text, moved, oldest = record_listed(H, Z, B, plan, meta[5], ts, id, rec, newest, cutoff, nfields, writes, deletes)
        out[#out + 1] = text
        if moved then
          t.sorted, t.created, t.cutoff, t.oldest = true, true, moved, oldest
        end
      else
        out[#out + 1] = record_sorted(H, Z, B, plan, ts, id, rec, newest, cutoff, nfields, writes, t)
        t.sorted = true
      end
      if #writes > 0 then
        redis.call('HSET', H, unpack(writes))
        t.written = true
      end
      if #deletes > 0 then
        redis.call('HDEL', H, unpack(deletes))
      end
    end
  end
  for k, t in pairs(touched) do
    local H, Z, B = keys[3 * k - 2], keys[3 * k - 1], keys[3 * k]
    if t.sorted and t.stored > 0 and (t.oldest == nil or t.oldest < t.cutoff) then
      local oldest = expire(H, Z, B, t.cutoff, 64 * t.stored)
      redis.call('HSET', H, 'ot', oldest or (t.cutoff - 1))
      t.created = true
    end
    -- Refreshed when an eighth of the lifetime has passed, or when Z or B may just have been created.
    if t.written and (t.due or t.created) then
      local ttl = plan.ttl + math.floor(plan.ttl / 8)
      redis.call('HSET', H, 'pe', now)
      redis.call('PEXPIRE', H, ttl)
      if t.sorted then
        redis.call('PEXPIRE', Z, ttl)
        redis.call('PEXPIRE', B, ttl)
      end
    end
  end
  return out
end

redis.register_function('tributary_history', record)
