// The store's side of a fleet lease: one atomic Lua script, run by every adapter. The Rust
// reference model `poolgate_core::fleet::Store::apply` follows it step by step, and the
// property tests check the fleet limit against that model.
//
// KEYS[1]: hash, instance id -> "held seq expires ticket" (expires: store ms; ticket 0 = not
//          waiting). KEYS[2]: the ticket counter (FIFO order of waiting instances).
// ARGV: id, seq, want, waiting (0/1), fleet limit, lease ms.
// Returns { held, ttl ms, other instances waiting, instances }.
// Time is the store's own (TIME), never an instance's clock.

export const LEASE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local seq = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local waiting = ARGV[4] == '1'
local limit = tonumber(ARGV[5])
local lease = tonumber(ARGV[6])
local all = redis.call('HGETALL', KEYS[1])
local me = nil
local others, head, queued, count = 0, nil, 0, 0
for i = 1, #all, 2 do
  local k = all[i]
  local h, s, e, q = string.match(all[i + 1], '^(%d+) (%d+) (%d+) (%d+)$')
  h, s, e, q = tonumber(h), tonumber(s), tonumber(e), tonumber(q)
  if e == nil or e <= now then
    redis.call('HDEL', KEYS[1], k)
  elseif k == id then
    me = { h, s, e, q }
  else
    count = count + 1
    others = others + h
    if q > 0 then
      queued = queued + 1
      if head == nil or q < head then head = q end
    end
  end
end
if me ~= nil and seq <= me[2] then
  return { me[1], me[3] - now, queued, count + 1 }
end
local held, ticket = 0, 0
if me ~= nil then held, ticket = me[1], me[4] end
if (not waiting) or want <= held then ticket = 0 end
if want <= held then
  held = want
else
  if waiting and ticket == 0 then ticket = redis.call('INCR', KEYS[2]) end
  local allowed = (head == nil) or (ticket > 0 and ticket < head)
  local free = limit - others - held
  if allowed and free > 0 then
    held = held + math.min(want - held, free)
    ticket = 0
  end
end
if held == 0 and ticket == 0 then
  redis.call('HDEL', KEYS[1], id)
  return { 0, 0, queued, count }
end
redis.call('HSET', KEYS[1], id, string.format('%d %d %d %d', held, seq, now + lease, ticket))
redis.call('PEXPIRE', KEYS[1], lease * 2)
redis.call('PEXPIRE', KEYS[2], lease * 2)
return { held, lease, queued, count + 1 }
`;

/** The two keys of fleet `key` (one hash slot in Redis Cluster). */
export function leaseKeys(key) {
  return [`poolgate:{${key}}:leases`, `poolgate:{${key}}:tickets`];
}
