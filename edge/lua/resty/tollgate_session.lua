-- Tollgate's edge check: is this request's session cookie a live Tollgate session, and is that session a
-- member of group G? Answered from Redis alone, without calling Tollgate. Contract: docs/edge-contract.md.
-- Formats: "resty" (flask-resty-shared-session 0.1.2 cookies and keys), "v1" (Tollgate's own), or "any".
-- Positive answers may be cached per worker while Tollgate's invalidations reach it (positive_cache below).
--
--   local edge = require "resty.tollgate_session"
--   local config = edge.configure { format = "v1", secret = os.getenv("TOLLGATE_SESSIONS_SECRET"), ... }
--   edge.start_invalidation_listener(config)      -- init_worker phase: turns the positive cache on
--   edge.authorize(config, group)                 -- access phase: 401 / 403 / 503, or falls through
--   local session, err, status = edge.new(config) -- then session:verify_signature(), session:is_group_member(g)
local ffi = require "ffi"
local redis = require "resty.redis"
local ngx_base64 = require "ngx.base64"
local lrucache = require "resty.lrucache"

local ffi_new, ffi_string = ffi.new, ffi.string
local bit_bor, bit_bxor = bit.bor, bit.bxor
local byte, sub, find = string.byte, string.sub, string.find

-- HMAC-SHA256 and SHA-256 come from the OpenSSL nginx is linked with; ngx_lua itself only has SHA-1.
for _, declaration in ipairs({
    "typedef struct evp_md_st EVP_MD;",
    "const EVP_MD *EVP_sha256(void);",
    "unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len, const unsigned char *d, size_t n, unsigned char *md, unsigned int *md_len);",
    "unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md);",
}) do
    pcall(ffi.cdef, declaration)
end
local C = ffi.C
local digest_buffer = ffi_new("unsigned char[32]")
local digest_length = ffi_new("unsigned int[1]")

local _M = { _VERSION = "1.0.0" }
local Session = {}
Session.__index = Session

local MAX_COOKIE_HEADER_BYTES = 4096

local base64url = ngx_base64.encode_base64url

local function hmac_sha256(key, message)
    C.HMAC(C.EVP_sha256(), key, #key, message, #message, digest_buffer, digest_length)
    return ffi_string(digest_buffer, digest_length[0])
end

local function sha256(message)
    C.SHA256(message, #message, digest_buffer)
    return ffi_string(digest_buffer, 32)
end

-- Compares in time that depends only on the length, so a forged signature learns nothing from timing.
local function constant_time_equal(left, right)
    if type(left) ~= "string" or type(right) ~= "string" or #left ~= #right then
        return false
    end
    local difference = 0
    for i = 1, #left do
        difference = bit_bor(difference, bit_bxor(byte(left, i), byte(right, i)))
    end
    return difference == 0
end

-- The positive cache: "(session, group) is allowed" kept per worker for at most `seconds`, and used only
-- while this worker's subscriber to Tollgate's invalidation channel is connected and has seen a heartbeat
-- within `heartbeat_timeout_ms`. Sessions of a format not listed are always asked of Redis: the Flask
-- package writes resty sessions and publishes nothing. `false` turns the cache off.
local function configure_positive_cache(options, key_prefix)
    if options == false then
        return nil
    end
    options = options or {}
    local formats = {}
    for _, format in ipairs(options.formats or { "v1" }) do
        assert(format == "v1" or format == "resty", "positive_cache.formats: v1 and/or resty")
        formats[format] = true
    end
    local seconds = options.seconds or 5
    assert(type(seconds) == "number" and seconds > 0, "positive_cache.seconds must be positive")
    return {
        seconds = seconds,
        formats = formats,
        channel = options.channel or (key_prefix .. ":invalidations"),
        heartbeat_timeout_ms = options.heartbeat_timeout_ms or 3000,
        reconnect_delay_ms = options.reconnect_delay_ms or 1000,
        entries = assert(lrucache.new(options.size or 10000)),
        -- Bumped by every invalidation and every flush, so a Redis answer that was in flight meanwhile is
        -- not cached afterwards.
        epoch = 0,
        is_subscribed = false,
        heartbeat_at = 0,
    }
end

local function is_cache_usable(cache)
    return cache ~= nil and cache.is_subscribed
        and (ngx.now() - cache.heartbeat_at) * 1000 < cache.heartbeat_timeout_ms
end

local function flush_positive_cache(cache)
    cache.is_subscribed = false
    cache.heartbeat_at = 0
    cache.epoch = cache.epoch + 1
    cache.entries:flush_all()
end

--- Validates the configuration once (init_by_lua) and precomputes the resty derived key.
function _M.configure(options)
    assert(type(options) == "table", "tollgate_session.configure: options table required")
    local format = options.format or "v1"
    assert(format == "v1" or format == "resty" or format == "any", "format must be v1, resty or any")
    assert(type(options.secret) == "string" and options.secret ~= "",
        "secret required: set TOLLGATE_SESSIONS_SECRET and `env TOLLGATE_SESSIONS_SECRET;`")
    local is_resty = format == "resty"
    local salt = options.salt or "flask-resty-session"
    local cookie_name = options.cookie_name or (is_resty and "session" or "tollgate_session")
    assert(not find(cookie_name, "[^%w_-]"), "cookie_name: letters, digits, _ and - only")
    local redis_options = options.redis or {}
    local host = redis_options.host or "127.0.0.1"
    local port = redis_options.port or 6379
    local db = redis_options.db or 0
    local key_prefix = options.key_prefix or (is_resty and "resty_shared_session" or "tollgate_session")
    return {
        -- A cookie's signature is valid or not forever (for one secret), so a verified cookie need not be
        -- verified again; liveness and membership are still asked of Redis on every request.
        verified_cookies = assert(lrucache.new(options.verified_cookie_cache_size or 10000)),
        format = format,
        secret = options.secret,
        resty_key = ngx.hmac_sha1(options.secret, salt),
        cookie_name = cookie_name,
        cookie_variable = "cookie_" .. cookie_name,
        key_prefix = key_prefix,
        positive_cache = configure_positive_cache(options.positive_cache, key_prefix),
        redis = {
            host = host,
            port = port,
            db = db,
            password = redis_options.password,
            timeout_ms = redis_options.timeout_ms or 1000,
            pool = host .. ":" .. port .. ":" .. db,
            pool_size = redis_options.pool_size or 64,
            idle_timeout_ms = redis_options.idle_timeout_ms or 60000,
        },
    }
end

-- The session cookie's one value, or nil and why: absent, oversized or repeated.
-- nginx's own parser finds the value; a second "<name>=" at a cookie boundary means a second value.
local function read_cookie(config)
    -- $http_cookie joins every Cookie header with "; ", so a second header cannot hide a second value.
    local header = ngx.var.http_cookie
    if header == nil then
        return nil, "no session cookie"
    end
    if #header > MAX_COOKIE_HEADER_BYTES then
        return nil, "cookie header too large"
    end
    local value = ngx.var[config.cookie_variable]
    if value == nil then
        return nil, "no session cookie"
    end
    local needle, occurrences, from = config.cookie_name .. "=", 0, 1
    while true do
        local first, last = find(header, needle, from, true)
        if not first then
            break
        end
        local before = first > 1 and byte(header, first - 1) or nil
        if before == nil or before == 59 or before == 32 or before == 9 then -- start, ';', ' ', tab
            occurrences = occurrences + 1
        end
        from = last + 1
    end
    if occurrences > 1 then
        return nil, "session cookie sent more than once"
    end
    return value
end

-- Parses and authenticates the cookie by recomputing its HMAC. Returns the session's key id, the stored
-- signature to compare with (resty) or nil (v1), or nil and an error.
local function authenticate(config, cookie)
    local format = config.format
    if (format == "resty" or format == "any") and #cookie == 64 and sub(cookie, 37, 37) == "." then
        local sid, signature = sub(cookie, 1, 36), sub(cookie, 38)
        if not find(sid, "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$")
            or find(sid, "%u") then
            return nil, nil, "malformed session id"
        end
        if not constant_time_equal(signature, base64url(ngx.hmac_sha1(config.resty_key, sid))) then
            return nil, nil, "bad signature"
        end
        return sid, signature
    end
    if (format == "v1" or format == "any") and #cookie == 90 and sub(cookie, 1, 3) == "v1." and sub(cookie, 47, 47) == "." then
        local id, tag = sub(cookie, 4, 46), sub(cookie, 48)
        if find(id, "[^%w_-]") or find(tag, "[^%w_-]") then
            return nil, nil, "malformed session cookie"
        end
        if not constant_time_equal(tag, base64url(hmac_sha256(config.secret, "v1." .. id))) then
            return nil, nil, "bad signature"
        end
        return base64url(sha256(id)), nil
    end
    return nil, nil, "session cookie has the wrong shape"
end

local function connect(config)
    local red = redis:new()
    red:set_timeout(config.redis.timeout_ms)
    local ok, err = red:connect(config.redis.host, config.redis.port, { pool = config.redis.pool })
    if not ok then
        return nil, err
    end
    if red:get_reused_times() == 0 then
        if config.redis.password then
            ok, err = red:auth(config.redis.password)
            if not ok then
                return nil, err
            end
        end
        if config.redis.db ~= 0 then
            ok, err = red:select(config.redis.db)
            if not ok then
                return nil, err
            end
        end
    end
    return red
end

-- The session a cookie names (its key id and, in resty format, its stored signature), from the cookies this
-- worker has verified before or by authenticating it; nil, nil, reason for one that is not genuine.
local function identify(config, cookie)
    local verified = config.verified_cookies:get(cookie)
    if verified then
        return verified[1], verified[2]
    end
    if find(cookie, "[^\33-\126]") then
        return nil, nil, "session cookie is not printable ASCII"
    end
    local session_id, stored_signature, reason = authenticate(config, cookie)
    if session_id then
        config.verified_cookies:set(cookie, { session_id, stored_signature })
    end
    return session_id, stored_signature, reason
end

local function new_session(config, session_id, stored_signature)
    return setmetatable({
        _config = config,
        _session_id = session_id,
        _stored_signature = stored_signature,
        _authenticated = true,
        _verified = false,
    }, Session)
end

--- Reads and authenticates the request's session cookie. On failure returns nil, err, status (401).
function _M.new(config)
    local cookie, err = read_cookie(config)
    if not cookie then
        return nil, err, ngx.HTTP_UNAUTHORIZED
    end
    local session_id, stored_signature, reason = identify(config, cookie)
    if not session_id then
        return nil, reason, ngx.HTTP_UNAUTHORIZED
    end
    return new_session(config, session_id, stored_signature)
end

function Session:_redis()
    if not self._red then
        local red, err = connect(self._config)
        if not red then
            return nil, err
        end
        self._red = red
    end
    return self._red
end

--- Returns the Redis connection to the pool; call once the checks are done.
function Session:close()
    if self._red then
        self._red:set_keepalive(self._config.redis.idle_timeout_ms, self._config.redis.pool_size)
        self._red = nil
    end
end

--- true if the cookie's HMAC is right (checked in new) and the session is alive in Redis: its stored
--- signature equals the cookie's (resty, as the original module checks) or its data key exists (v1).
--- Returns nil, err, status: 401 for a dead session, 503 when Redis cannot be asked.
function Session:verify_signature()
    if not self._authenticated then
        return nil, "cookie not authenticated", ngx.HTTP_UNAUTHORIZED
    end
    local red, err = self:_redis()
    if not red then
        return nil, err, ngx.HTTP_SERVICE_UNAVAILABLE
    end
    local prefix, id = self._config.key_prefix, self._session_id
    local alive
    if self._stored_signature then
        local stored
        stored, err = red:get(prefix .. ":signature:" .. id)
        if err then
            return nil, err, ngx.HTTP_SERVICE_UNAVAILABLE
        end
        alive = stored ~= ngx.null and constant_time_equal(stored, self._stored_signature)
    else
        local exists
        exists, err = red:exists(prefix .. ":data:" .. id)
        if err then
            return nil, err, ngx.HTTP_SERVICE_UNAVAILABLE
        end
        alive = exists == 1
    end
    if not alive then
        return nil, "session expired or destroyed", ngx.HTTP_UNAUTHORIZED
    end
    self._verified = true
    return true
end

-- 1 or 0; nil, err, 503 when Redis cannot be asked.
function Session:_sismember(group)
    local red, err = self:_redis()
    if not red then
        return nil, err, ngx.HTTP_SERVICE_UNAVAILABLE
    end
    local member
    member, err = red:sismember(self._config.key_prefix .. ":groups:" .. self._session_id, group)
    if err then
        return nil, err, ngx.HTTP_SERVICE_UNAVAILABLE
    end
    return member
end

--- true if the verified session is a member of `group`; nil, err, status (403, or 503 when Redis fails).
--- Refuses (401) when verify_signature has not succeeded first.
function Session:is_group_member(group)
    if not self._verified then
        return nil, "verify_signature must succeed first", ngx.HTTP_UNAUTHORIZED
    end
    if type(group) ~= "string" or group == "" then
        return nil, "no group", ngx.HTTP_FORBIDDEN
    end
    local member, err, status = self:_sismember(group)
    if not member then
        return nil, err, status
    end
    if member ~= 1 then
        return nil, "not a member of this group", ngx.HTTP_FORBIDDEN
    end
    return true
end

-- The access phase runs on every request, cache hits included, so the common case is one command: the
-- groups SET is written with the session's TTL and deleted with it, so membership implies a live session.
-- Only a refusal asks again, to tell a dead session (401) from a non-member (403).
function Session:_check_member_fast(group)
    local member, err, status = self:_sismember(group)
    if not member then
        return nil, err, status
    end
    if member == 1 then
        self._verified = true
        return true
    end
    return self:_refuse_non_member()
end

-- After a "not a member": 401 for a dead session, else 403.
function Session:_refuse_non_member()
    local ok, err, status = self:verify_signature()
    if not ok then
        return nil, err, status
    end
    return nil, "not a member of this group", ngx.HTTP_FORBIDDEN
end

-- true when this worker holds a live "allowed" for the session and the group as written in the URL.
local function is_cached_allowed(cache, session_id, url_group)
    local groups = cache.entries:get(session_id)
    local expires_at = groups and groups[url_group]
    return expires_at ~= nil and ngx.now() < expires_at
end

-- The member check of _check_member_fast, asking the groups SET's remaining lifetime in the same round trip,
-- so a cached "allowed" never outlives the session. Cached under the group as written in the URL, so a hit
-- unescapes nothing.
function Session:_check_member_caching(cache, url_group)
    local group = ngx.unescape_uri(url_group)
    local red, err = self:_redis()
    if not red then
        return nil, err, ngx.HTTP_SERVICE_UNAVAILABLE
    end
    local epoch = cache.epoch
    local groups_key = self._config.key_prefix .. ":groups:" .. self._session_id
    red:init_pipeline(2)
    red:sismember(groups_key, group)
    red:pttl(groups_key)
    local results
    results, err = red:commit_pipeline()
    if not results then
        return nil, err, ngx.HTTP_SERVICE_UNAVAILABLE
    end
    local member, ttl_ms = results[1], results[2]
    if type(member) == "table" then
        return nil, member[2], ngx.HTTP_SERVICE_UNAVAILABLE
    end
    if member ~= 1 then
        return self:_refuse_non_member()
    end
    self._verified = true
    if epoch == cache.epoch and is_cache_usable(cache) and type(ttl_ms) == "number" and ttl_ms > 0 then
        local groups = cache.entries:get(self._session_id) or {}
        groups[url_group] = ngx.now() + math.min(cache.seconds, ttl_ms / 1000)
        cache.entries:set(self._session_id, groups)
    end
    return true
end

--- Access-phase helper: ends the request with 401, 403 or 503, or returns when the session may pass.
--- `group` nil checks the session only. Same decisions as verify_signature then is_group_member.
function _M.authorize(config, group)
    local cookie, err = read_cookie(config)
    local session_id, stored_signature, status
    if cookie then
        session_id, stored_signature, err = identify(config, cookie)
    end
    if not session_id then
        ngx.log(ngx.INFO, "tollgate edge: ", err)
        return ngx.exit(ngx.HTTP_UNAUTHORIZED)
    end
    local cache = config.positive_cache
    local is_cacheable = group ~= nil and is_cache_usable(cache)
        and cache.formats[stored_signature and "resty" or "v1"]
    if is_cacheable and is_cached_allowed(cache, session_id, group) then
        return
    end
    local session = new_session(config, session_id, stored_signature)
    local ok
    if group == nil then
        ok, err, status = session:verify_signature()
    elseif is_cacheable then
        ok, err, status = session:_check_member_caching(cache, group)
    else
        ok, err, status = session:_check_member_fast(ngx.unescape_uri(group))
    end
    if status == ngx.HTTP_SERVICE_UNAVAILABLE then
        ngx.log(ngx.ERR, "tollgate edge: redis: ", err)
    else
        session:close()
    end
    if not ok then
        return ngx.exit(status)
    end
end

-- One subscription per worker, for as long as the worker lives: a message names a session whose cached
-- answers are dropped, "heartbeat" (sent by every Tollgate each second) keeps the cache usable. Silence for
-- heartbeat_timeout_ms or a dropped connection flushes the cache and resubscribes.
local function listen_for_invalidations(premature, config)
    if premature or ngx.worker.exiting() then
        return
    end
    local cache = config.positive_cache
    local red, err = connect(config)
    if red then
        red:set_timeout(cache.heartbeat_timeout_ms)
        local ok
        ok, err = red:subscribe(cache.channel)
        if ok then
            flush_positive_cache(cache)
            cache.is_subscribed = true
            while not ngx.worker.exiting() do
                local message
                message, err = red:read_reply()
                if not message then
                    break
                end
                if message[1] == "message" then
                    if message[3] == "heartbeat" then
                        cache.heartbeat_at = ngx.now()
                    else
                        cache.epoch = cache.epoch + 1
                        cache.entries:delete(message[3])
                    end
                end
            end
        end
        red:close()
    end
    -- Logged once per outage: while no Tollgate runs, resubscribing times out every few seconds.
    if is_cache_usable(cache) then
        ngx.log(ngx.WARN, "tollgate edge: invalidations lost (", err, "): every check asks Redis until they are back")
    end
    flush_positive_cache(cache)
    if not ngx.worker.exiting() then
        local scheduled, timer_err = ngx.timer.at(cache.reconnect_delay_ms / 1000, listen_for_invalidations, config)
        if not scheduled then
            -- Safe (the cache stays off), but the operator must know it will not come back on its own.
            ngx.log(ngx.ERR, "tollgate edge: cannot resubscribe to invalidations (", timer_err,
                "): the positive cache stays off until nginx reloads")
        end
    end
end

--- init_worker phase: subscribes this worker to the invalidation channel, which turns the positive cache on.
--- Without it (or with positive_cache = false) every check asks Redis.
function _M.start_invalidation_listener(config)
    if config.positive_cache then
        assert(ngx.timer.at(0, listen_for_invalidations, config))
    end
end

--- true while this worker may answer from its positive cache (for monitoring and tests).
function _M.is_positive_cache_usable(config)
    return is_cache_usable(config.positive_cache)
end

return _M
