-- The in-flight slots of one wallet, shared by every process that uses it (see
-- `inflight/redis.rs`). KEYS[1]: a sorted set, holder token -> end of its lease (Unix ms on
-- the Redis server's clock). ARGV: op ('take' | 'renew' | 'give'), token, max, lease_ms.
-- Returns 1 (taken / renewed / given) or 0 (all slots held / the lease was lost).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op, token = ARGV[1], ARGV[2]
local max, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
if op == 'give' then
  redis.call('ZREM', KEYS[1], token)
  return 1
end
-- A holder that stopped renewing (a process that died) gives its slot back here.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZSCORE', KEYS[1], token)
if op == 'renew' and not held then
  return 0
end
if op == 'take' and not held and redis.call('ZCARD', KEYS[1]) >= max then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, token)
redis.call('PEXPIRE', KEYS[1], lease * 2)
return 1
