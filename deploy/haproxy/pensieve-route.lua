-- The routing key of a request to Pensieve, for HAProxy (haproxy.cfg.template loads this file):
-- the sample fetch lua.pensieve_route_key returns 16 lowercase hex chars, which the frontend
-- sets as X-Pensieve-Route-Key; the backend hashes that header (consistent hashing), so every
-- turn of a conversation reaches the replica that holds its KV cache. The rules, in order:
--   1. a path naming a conversation or a response (/v1/conversations/conv_<key>...,
--      /v1/responses/resp_<key>...): the key its id carries (its first 16 hex chars);
--   2. POST /v1/responses: the key of previous_response_id, else of conversation (a string or
--      {id}); the replica gives the response it makes the same key;
--   3. POST /v1/chat/completions (clients that resend the whole history): SHA-256 of the leading
--      messages (every message up to and including the first user message), so every resend of
--      one conversation gets the same key;
--   4. POST /v1/completions: SHA-256 of the prompt's first line (at most 256 bytes);
--   5. anything else: a random key (a new chain; the replica writes it into the ids it mints).
-- The body is read by a small JSON scanner that respects strings (a key name inside a string
-- value never matches) and copes with a body cut at HAProxy's buffer size (tune.bufsize): it
-- keeps what it found before the cut. src/cluster/route-key.ts and json-scan.ts are its
-- TypeScript twin, byte for byte; the tests compare the two through a real HAProxy. Which rule
-- decided is left in the variable txn.pensieve_route_source (for logs and the tests).

local END = setmetatable({}, { __tostring = function() return 'json: body ended' end })
local MALFORMED = setmetatable({}, { __tostring = function() return 'json: malformed' end })

local MAX_DEPTH = 32
local PROMPT_KEY_BYTES = 256
local REPLACEMENT = '\239\191\189' -- U+FFFD, what JavaScript's UTF-8 encoder writes for a lone surrogate
local ESC = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' }
local HEX16 = string.rep('[0-9a-f]', 16)
local OWN_ID = '^[a-z]+_(' .. HEX16 .. ')' .. string.rep('[0-9a-f]', 32) .. '$'

local Scanner = {}
Scanner.__index = Scanner

local function scanner(buf)
  return setmetatable({ buf = buf, pos = 1, len = #buf }, Scanner)
end

-- Skips white space; the next byte, not taken.
function Scanner:peek()
  local p = self.buf:find('[^ \t\r\n]', self.pos)
  if p == nil then
    self.pos = self.len + 1
    error(END, 0)
  end
  self.pos = p
  return self.buf:byte(p)
end

function Scanner:expect(byte)
  if self:peek() ~= byte then error(MALFORMED, 0) end
  self.pos = self.pos + 1
end

function Scanner:hex4()
  if self.pos + 3 > self.len then error(END, 0) end
  local h = self.buf:sub(self.pos, self.pos + 3)
  if not h:match('^%x%x%x%x$') then error(MALFORMED, 0) end
  self.pos = self.pos + 4
  return tonumber(h, 16)
end

-- A limited string's bytes: up to (not including) its first newline, at most limit.max.
local function cut(s, limit)
  local e = math.min(#s, limit.max)
  if limit.newline then
    local nl = s:find('\n', 1, true)
    if nl ~= nil and nl - 1 < e then e = nl - 1 end
  end
  return s:sub(1, e)
end

-- Decodes the string at the cursor to bytes. With a limit ({max, newline}) it returns as soon as
-- the limit is met, the rest unread. Second result: read to its closing quote.
function Scanner:string(limit)
  self:expect(34)
  local buf, out, n, nl = self.buf, {}, 0, false
  local function add(s)
    out[#out + 1] = s
    n = n + #s
    if limit ~= nil and limit.newline and not nl and s:find('\n', 1, true) then nl = true end
  end
  local function done()
    return limit ~= nil and (n >= limit.max or (limit.newline and nl))
  end
  while true do
    if done() then return cut(table.concat(out), limit), false end
    if self.pos > self.len then error(END, 0) end
    local q = buf:find('["\\]', self.pos)
    if q == nil then
      add(buf:sub(self.pos))
      self.pos = self.len + 1
    elseif q > self.pos then
      add(buf:sub(self.pos, q - 1))
      self.pos = q
    elseif buf:byte(q) == 34 then
      self.pos = q + 1
      local s = table.concat(out)
      if limit ~= nil then s = cut(s, limit) end
      return s, true
    else
      self.pos = q + 1
      if self.pos > self.len then error(END, 0) end
      local e = buf:sub(self.pos, self.pos)
      self.pos = self.pos + 1
      if e ~= 'u' then
        local b = ESC[e]
        if b == nil then error(MALFORMED, 0) end
        add(b)
      else
        local cp = self:hex4()
        if cp >= 0xD800 and cp < 0xDC00 then
          -- A high surrogate pairs with a following \u low surrogate; alone it is U+FFFD.
          local paired = false
          if self.pos <= self.len and buf:byte(self.pos) == 92 then
            if self.pos + 1 > self.len then error(END, 0) end
            if buf:byte(self.pos + 1) == 117 then
              local save = self.pos
              self.pos = self.pos + 2
              local low = self:hex4()
              if low >= 0xDC00 and low < 0xE000 then
                add(utf8.char(0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)))
                paired = true
              else
                self.pos = save
              end
            end
          end
          if not paired then add(REPLACEMENT) end
        elseif cp >= 0xDC00 and cp < 0xE000 then
          add(REPLACEMENT)
        else
          add(utf8.char(cp))
        end
      end
    end
  end
end

function Scanner:skip_string()
  local pos = self.pos + 1
  while true do
    local q = self.buf:find('["\\]', pos)
    if q == nil then
      self.pos = self.len + 1
      error(END, 0)
    end
    if self.buf:byte(q) == 34 then
      self.pos = q + 1
      return
    end
    pos = q + 2
  end
end

-- Steps over the value at the cursor without decoding it (strings respected, nesting counted).
function Scanner:skip_value()
  local buf = self.buf
  local first = self:peek()
  if first == 34 then return self:skip_string() end
  if first ~= 123 and first ~= 91 then
    local d = buf:find('[,}%] \t\r\n]', self.pos)
    if d == nil then
      self.pos = self.len + 1
      error(END, 0)
    end
    self.pos = d
    return
  end
  local depth = 0
  while true do
    local q = buf:find('["{}%[%]]', self.pos)
    if q == nil then
      self.pos = self.len + 1
      error(END, 0)
    end
    local c = buf:byte(q)
    if c == 34 then
      self.pos = q
      self:skip_string()
    else
      self.pos = q + 1
      if c == 123 or c == 91 then
        depth = depth + 1
      else
        depth = depth - 1
        if depth == 0 then return end
      end
    end
  end
end

-- Opens the object at the cursor; the function returned gives each key, or nil at '}'.
function Scanner:object()
  self:expect(123)
  local first = true
  return function()
    if self:peek() == 125 then
      self.pos = self.pos + 1
      return nil
    end
    if not first then self:expect(44) end
    first = false
    local key = self:string()
    self:expect(58)
    return key
  end
end

-- Opens the array at the cursor; the function returned is true while an element follows.
function Scanner:array()
  self:expect(91)
  local first = true
  return function()
    if self:peek() == 93 then
      self.pos = self.pos + 1
      return false
    end
    if not first then self:expect(44) end
    first = false
    return true
  end
end

-- Decodes the value at the cursor (only small values: one message of a chat).
function Scanner:value(depth)
  depth = depth or 0
  if depth > MAX_DEPTH then error(MALFORMED, 0) end
  local c = self:peek()
  if c == 34 then return { kind = 'string', bytes = (self:string()) } end
  if c == 123 then
    local entries = {}
    local next_key = self:object()
    local key = next_key()
    while key ~= nil do
      local v = self:value(depth + 1)
      if entries[key] == nil then entries[key] = v end -- the first of duplicate keys wins
      key = next_key()
    end
    return { kind = 'object', entries = entries }
  end
  if c == 91 then
    local items = {}
    local more = self:array()
    while more() do items[#items + 1] = self:value(depth + 1) end
    return { kind = 'array', items = items }
  end
  self:skip_value()
  return { kind = 'scalar' }
end

local function id_key(v)
  if v ~= nil and v.kind == 'string' then return v.bytes:match(OWN_ID) end
  return nil
end

-- previous_response_id's key, else conversation's: what was found before the body ended.
local function chain_key(body)
  local s = scanner(body)
  local previous, conversation
  pcall(function()
    local next_key = s:object()
    local key = next_key()
    while key ~= nil do
      if key == 'previous_response_id' and previous == nil then
        previous = id_key(s:value())
      elseif key == 'conversation' and conversation == nil then
        local v = s:value()
        if v.kind == 'object' then v = v.entries['id'] end
        conversation = id_key(v)
      else
        s:skip_value()
      end
      key = next_key()
    end
  end)
  if previous ~= nil then return previous, 'previous_response_id' end
  if conversation ~= nil then return conversation, 'conversation' end
  return nil
end

local function content_text(content)
  if content == nil then return '' end
  if content.kind == 'string' then return content.bytes end
  if content.kind ~= 'array' then return '' end
  local texts = {}
  for _, part in ipairs(content.items) do
    local text = part.kind == 'object' and part.entries['text'] or nil
    if text ~= nil and text.kind == 'string' then texts[#texts + 1] = text.bytes end
  end
  return table.concat(texts)
end

-- The leading messages as bytes: role NUL text NUL, up to and including the first user message.
local function messages_prefix(body)
  local s = scanner(body)
  local next_key = s:object()
  local key = next_key()
  while key ~= nil do
    if key == 'messages' then
      if s:peek() ~= 91 then return nil end
      local parts = {}
      local more = s:array()
      while more() do
        local m = s:value()
        local role = m.kind == 'object' and m.entries['role'] or nil
        local role_bytes = (role ~= nil and role.kind == 'string') and role.bytes or ''
        local text = m.kind == 'object' and content_text(m.entries['content']) or ''
        parts[#parts + 1] = role_bytes .. '\0' .. text .. '\0'
        if role_bytes == 'user' then break end
      end
      if #parts == 0 then return nil end
      return table.concat(parts)
    end
    s:skip_value()
    key = next_key()
  end
  return nil
end

-- The prompt's first line (a string, or the first string of an array), at most PROMPT_KEY_BYTES.
local function prompt_line(body)
  local s = scanner(body)
  local next_key = s:object()
  local key = next_key()
  while key ~= nil do
    if key == 'prompt' then
      local c = s:peek()
      if c == 91 then
        if not s:array()() then return nil end
        c = s:peek()
      end
      if c ~= 34 then return nil end
      return (s:string({ max = PROMPT_KEY_BYTES, newline = true }))
    end
    s:skip_value()
    key = next_key()
  end
  return nil
end

local function hash_key(txn, bytes)
  local digest = txn.c:sha2(bytes, 256)
  return (digest:sub(1, 8):gsub('.', function(c) return string.format('%02x', c:byte()) end))
end

-- nil, or the key and the rule's name, from a POST body.
local function body_key(txn, path, body)
  if path == '/v1/responses' then return chain_key(body) end
  local rule, source
  if path == '/v1/chat/completions' then
    rule, source = messages_prefix, 'messages'
  elseif path == '/v1/completions' then
    rule, source = prompt_line, 'prompt'
  else
    return nil
  end
  local ok, bytes = pcall(rule, body)
  if not ok then
    if bytes == END or bytes == MALFORMED then return nil end
    error(bytes, 0)
  end
  if bytes == nil then return nil end
  return hash_key(txn, bytes), source
end

local function route_key(txn)
  local path = txn.sf:path() or ''
  local segment = path:match('^/v1/conversations/([^/]+)') or path:match('^/v1/responses/([^/]+)')
  local key = segment and segment:match(OWN_ID)
  if key ~= nil then return key, 'path' end
  if txn.sf:method() == 'POST' then
    local source
    key, source = body_key(txn, path, txn.sf:req_body() or '')
    if key ~= nil then return key, source end
  end
  return string.format('%08x%08x', txn.f:rand(), txn.f:rand()), 'random'
end

core.register_fetches('pensieve_route_key', function(txn)
  local ok, key, source = pcall(route_key, txn)
  if not ok then
    -- A bug here must not refuse the request: it is routed by a random key, and the log says why.
    core.Warning('pensieve-route: ' .. tostring(key))
    key, source = string.format('%08x%08x', txn.f:rand(), txn.f:rand()), 'error'
  end
  txn:set_var('txn.pensieve_route_source', source)
  return key
end)
