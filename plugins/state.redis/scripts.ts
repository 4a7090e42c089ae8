// Lua for state.redis. Dapr's layout: one hash per key with `data` (the value's bytes) and `version` (an integer,
// the ETag; HINCRBY on every write), `first-write` set when written with first-write concurrency (daprd refuses an
// unconditional write to such a key later), plus rapr's `contentType` when the value has one.

/**
 * Every write, single or transactional: KEYS[i] is operation i's key, ARGV holds 7 values per operation:
 * kind ("set" | "del"), etag ("" = none), value, first-write ("1" | "0"), ttl seconds ("0" = none), the version a
 * new key starts at, content type ("" = none). All checks run before any write; returns 0 when every operation
 * applied, else the 1-based index of the first whose ETag (or first-write) check failed, and nothing is written.
 * A check sees the key as earlier operations of the same call leave it: a key this call wrote matches no ETag.
 */
export const WRITE = `
local seen = {}
local function current(k)
  if seen[k] == nil then
    local v = redis.pcall("HGET", k, "version")
    if type(v) ~= "string" then v = false end
    seen[k] = v
  end
  return seen[k]
end
for i = 1, #KEYS do
  local a = (i - 1) * 7
  local kind, etag = ARGV[a + 1], ARGV[a + 2]
  local ver = current(KEYS[i])
  if etag ~= "" then
    if ver ~= etag then return i end
  elseif kind == "set" and ARGV[a + 4] == "1" and ver then
    return i
  end
  if kind == "set" then seen[KEYS[i]] = "*" else seen[KEYS[i]] = false end
end
for i = 1, #KEYS do
  local a = (i - 1) * 7
  local k = KEYS[i]
  if ARGV[a + 1] == "del" then
    redis.call("DEL", k)
  else
    local ver = redis.pcall("HGET", k, "version")
    if type(ver) == "table" then
      redis.call("DEL", k)
      ver = false
    end
    if ver then
      redis.call("HINCRBY", k, "version", 1)
      redis.call("HSET", k, "data", ARGV[a + 3])
    else
      redis.call("HSET", k, "data", ARGV[a + 3], "version", ARGV[a + 6])
    end
    if ARGV[a + 4] == "1" then redis.call("HSET", k, "first-write", 0) end
    if ARGV[a + 7] ~= "" then redis.call("HSET", k, "contentType", ARGV[a + 7]) else redis.call("HDEL", k, "contentType") end
    if ARGV[a + 5] ~= "0" then redis.call("EXPIRE", k, ARGV[a + 5]) else redis.call("PERSIST", k) end
  end
end
return 0
`;

/**
 * One key: {data, version, contentType, pttl} or nil when missing. A plain string value (written by a client that
 * predates the hash layout; daprd reads those too) comes back with an empty version.
 */
export const READ = `
local r = redis.pcall("HMGET", KEYS[1], "data", "version", "contentType")
if r.err then
  local s = redis.pcall("GET", KEYS[1])
  if type(s) ~= "string" then return nil end
  return {s, "", "", redis.call("PTTL", KEYS[1])}
end
if not r[1] then return nil end
return {r[1], r[2] or "", r[3] or "", redis.call("PTTL", KEYS[1])}
`;
