-- The rate-limit budget of one (key, model) shared by every process through Redis: the
-- algorithm of budget.rs (read its comments; keep the two in step, the scenario tests run
-- against both) on state kept in Redis, run atomically.
--
-- KEYS[1] state (hash), KEYS[2] answers of the current window (list of
-- "used:started:ours"),
-- KEYS[3] requests in flight (hash seq -> "generation:carried"), KEYS[4] day count (hash).
-- ARGV[1] operation, ARGV[2] now in Unix ms ('' = this server's clock: every process
-- compares reset times with one clock, whatever its own says), ARGV[3] linger ms (keys
-- live this long after the window they describe), ARGV[4..] the operation's arguments;
-- '' stands for "none".
--
-- Times are Unix milliseconds; every key gets an expiry on each write.

local S, A, F, D = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local MARGIN, POLL, MAX_WAIT, UNKNOWN_WINDOW, DAY = 20, 50, 120000, 60000, 86400000

local function num(v)
  if v == nil or v == false or v == '' then return nil end
  return tonumber(v)
end

local op = ARGV[1]
local now = num(ARGV[2])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local linger = tonumber(ARGV[3])

local st = {}
do
  local raw = redis.call('HGETALL', S)
  for i = 1, #raw, 2 do st[raw[i]] = tonumber(raw[i + 1]) end
end
local gen = st.gen or 0
local ours = st.ours or 0
local max_used = st.max_used or 0
local others = st.others or 0
local started = st.started or 0

local function save()
  redis.call('DEL', S)
  local fields = {'gen', gen, 'ours', ours, 'max_used', max_used, 'others', others,
                  'started', started}
  for _, f in ipairs({'limit', 'per_day', 'reset', 'opened', 'expired', 'blocked'}) do
    if st[f] ~= nil then
      fields[#fields + 1] = f
      fields[#fields + 1] = st[f]
    end
  end
  redis.call('HSET', S, unpack(fields))
  -- Live while the window (or a hold) lasts, plus the linger; the state is rebuilt from
  -- answers if it goes, so nothing outlives a dead process by more than that.
  local ends = now
  if st.reset and st.reset > ends then ends = st.reset end
  if st.blocked and st.blocked > ends then ends = st.blocked end
  if st.reset == nil and st.opened and st.opened + UNKNOWN_WINDOW > ends then
    ends = st.opened + UNKNOWN_WINDOW
  end
  local ttl = ends - now + linger
  redis.call('PEXPIRE', S, ttl)
  redis.call('PEXPIRE', A, ttl)
  redis.call('PEXPIRE', F, ttl)
end

local function parse_booking(v)
  local g, c = string.match(v, '^(%d+):(%d)$')
  return tonumber(g), c == '1'
end

-- Start a new window; requests in flight that started in the old one are booked to it,
-- once.
local function roll_over(reset)
  local old = gen
  gen = gen + 1
  local f = redis.call('HGETALL', F)
  local carried = 0
  for i = 1, #f, 2 do
    local g, c = parse_booking(f[i + 1])
    if g == old and not c then
      redis.call('HSET', F, f[i], gen .. ':1')
      carried = carried + 1
    else
      redis.call('HDEL', F, f[i])
    end
  end
  st.reset = reset
  st.opened = nil
  ours = carried
  max_used = 0
  others = 0
  redis.call('DEL', A)
end

local function used()
  return math.max(ours + others, max_used)
end

-- Tighten the lower bound on others' requests (see budget.rs).
local function refresh_others()
  local a = redis.call('LRANGE', A, 0, -1)
  if #a == 0 then return end
  local answers, counts = {}, {}
  for i, v in ipairs(a) do
    local u, s, o = string.match(v, '^(%d+):(%d+):(%d)$')
    answers[i] = {tonumber(u), tonumber(s)}
    if o == '1' then counts[#counts + 1] = tonumber(u) end
  end
  local pending_seqs = {}
  local f = redis.call('HGETALL', F)
  for i = 1, #f, 2 do
    local g = parse_booking(f[i + 1])
    if g == gen then pending_seqs[#pending_seqs + 1] = tonumber(f[i]) end
  end
  for _, ans in ipairs(answers) do
    local u, started_then = ans[1], ans[2]
    local answered = 0
    for _, c in ipairs(counts) do
      if c <= u then answered = answered + 1 end
    end
    local pending = 0
    for _, s in ipairs(pending_seqs) do
      if s < started_then then pending = pending + 1 end
    end
    if u - answered - pending > others then others = u - answered - pending end
  end
end

-- Takes back the booking of request `seq`: its generation, or nil.
local function unbook(seq)
  if seq == nil then return nil end
  local v = redis.call('HGET', F, seq)
  if not v then return nil end
  redis.call('HDEL', F, seq)
  return (parse_booking(v))
end

local function day_count()
  local d = redis.call('HMGET', D, 'day', 'count')
  local today = math.floor(now / DAY)
  if num(d[1]) ~= today then return today, 0 end
  return today, num(d[2]) or 0
end

local function set_day_count(today, count)
  redis.call('HSET', D, 'day', today, 'count', count)
  redis.call('PEXPIRE', D, DAY - now % DAY + linger)
end

if op == 'reserve' then
  -- ARGV[4] limit per window, ARGV[5] per day: what this process knows, for a state
  -- that expired or never learned them.
  if st.limit == nil then st.limit = num(ARGV[4]) end
  if st.per_day == nil then st.per_day = num(ARGV[5]) end
  if st.blocked then
    if st.blocked > now then
      return {0, math.min(st.blocked - now, MAX_WAIT)}
    end
    st.blocked = nil
    if st.reset and st.reset <= now and (st.expired == nil or st.reset > st.expired) then
      st.expired = st.reset
    end
    roll_over(nil)
  end
  if st.reset and now >= st.reset then
    st.expired = st.reset
    roll_over(nil)
  elseif st.reset == nil and st.opened and now >= st.opened + UNKNOWN_WINDOW then
    roll_over(nil)
  end
  local today, count = day_count()
  if st.per_day and count >= st.per_day then
    save()
    return {0, math.min(DAY - now % DAY, MAX_WAIT)}
  end
  if st.limit and used() >= st.limit then
    save()
    if st.reset then
      return {0, math.min(math.max(st.reset - now, 0) + MARGIN, MAX_WAIT)}
    end
    return {0, POLL}
  end
  local seq = started
  started = started + 1
  ours = ours + 1
  if st.opened == nil then st.opened = now end
  redis.call('HSET', F, seq, gen .. ':0')
  if st.per_day then set_day_count(today, count + 1) end
  save()
  return {1, seq}
elseif op == 'complete' then
  -- ARGV[4] seq, ARGV[5] '1' when the answer had rate-limit headers, ARGV[6] limit,
  -- ARGV[7] remaining, ARGV[8] reset.
  local booked = unbook(num(ARGV[4]))
  if ARGV[5] ~= '1' then
    save()
    return {1, 0}
  end
  local limit, remaining, reset = num(ARGV[6]), num(ARGV[7]), num(ARGV[8])
  if limit then st.limit = limit end
  local stale = reset ~= nil and ((st.expired ~= nil and reset <= st.expired)
    or (st.reset ~= nil and reset < st.reset))
  if stale then
    if booked == gen and ours > 0 then ours = ours - 1 end
    refresh_others()
    save()
    return {1, 0}
  end
  if st.reset == nil and reset ~= nil then
    st.reset = reset
  elseif st.reset ~= nil and reset ~= nil and reset > st.reset then
    st.expired = st.reset
    roll_over(reset)
    if num(ARGV[4]) ~= nil then ours = ours + 1 end
  end
  if st.limit and remaining then
    local u = math.max(st.limit - remaining, 0)
    if u > max_used then max_used = u end
    local mine = '0'
    if num(ARGV[4]) ~= nil then mine = '1' end
    redis.call('RPUSH', A, u .. ':' .. started .. ':' .. mine)
    refresh_others()
  end
  save()
  return {1, 0}
elseif op == 'hold' then
  -- ARGV[4] seq, ARGV[5] Retry-After in ms.
  unbook(num(ARGV[4]))
  local retry = num(ARGV[5])
  local until_ = nil
  if retry then until_ = now + math.min(retry, MAX_WAIT) end
  if st.reset and st.reset > now and (until_ == nil or st.reset > until_) then
    until_ = st.reset
  end
  if until_ == nil then until_ = now + 1000 end
  until_ = until_ + MARGIN
  if st.blocked == nil or until_ > st.blocked then st.blocked = until_ end
  refresh_others()
  save()
  return {1, 0}
elseif op == 'release' then
  -- ARGV[4] seq.
  local booked = unbook(num(ARGV[4]))
  if booked ~= nil then
    if booked == gen and ours > 0 then ours = ours - 1 end
    local today, count = day_count()
    if st.per_day and count > 0 then set_day_count(today, count - 1) end
  end
  save()
  return {1, 0}
elseif op == 'seed' then
  -- ARGV[4] limit per window, ARGV[5] per day.
  if st.limit == nil then st.limit = num(ARGV[4]) end
  if num(ARGV[5]) then st.per_day = num(ARGV[5]) end
  save()
  return {1, 0}
end
return redis.error_reply('unknown pacing operation')
