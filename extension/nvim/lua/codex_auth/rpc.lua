-- JSON-RPC 2.0 over a child's stdio, framed like LSP (Content-Length).
--
-- Neovim's vim.lsp.rpc would do the framing, but it writes every message
-- it sends and receives to lsp.log at debug level and the sidecar's stderr
-- at error level; account/token answers with a secret and an API-key login
-- sends one, so this small transport keeps them out of every log.
-- It works the same on Neovim 0.7 (vim.loop) and 0.10+ (vim.uv).

local uv = vim.uv or vim.loop

local M = {}

local Conn = {}
Conn.__index = Conn

-- Replaces vim.NIL (JSON null) with nil, recursively.
local function strip_nil(v)
  if v == vim.NIL then
    return nil
  end
  if type(v) == 'table' then
    for k, x in pairs(v) do
      v[k] = strip_nil(x)
    end
  end
  return v
end
M.strip_nil = strip_nil

--- Spawns cmd (a list) and returns a connection, or nil and an error.
--- handlers: on_notification(method, params), on_request(method, params,
--- reply(result, err)), on_exit(code, signal, stderr_tail). Every handler
--- runs on the main loop (scheduled), never in a fast event.
function M.start(cmd, handlers)
  local stdin, stdout, stderr = uv.new_pipe(false), uv.new_pipe(false), uv.new_pipe(false)
  local self = setmetatable({
    handlers = handlers,
    pending = {},
    next_id = 0,
    buffer = '',
    stderr_tail = '',
    closed = false,
    stdin = stdin,
  }, Conn)
  local args = {}
  for i = 2, #cmd do
    args[#args + 1] = cmd[i]
  end
  local handle, pid = uv.spawn(cmd[1], { args = args, stdio = { stdin, stdout, stderr } }, function(code, signal)
    vim.schedule(function()
      self:_exited(code, signal)
    end)
  end)
  if not handle then
    for _, p in ipairs({ stdin, stdout, stderr }) do
      p:close()
    end
    return nil, string.format('cannot start %s: %s', cmd[1], tostring(pid))
  end
  self.handle, self.pid = handle, pid
  stdout:read_start(function(err, chunk)
    if err or not chunk then
      if not stdout:is_closing() then
        stdout:close()
      end
      return
    end
    vim.schedule(function()
      self:_feed(chunk)
    end)
  end)
  stderr:read_start(function(err, chunk)
    if err or not chunk then
      if not stderr:is_closing() then
        stderr:close()
      end
      return
    end
    -- Keep only the end, to explain an unexpected exit; never logged.
    self.stderr_tail = (self.stderr_tail .. chunk):sub(-2000)
  end)
  return self
end

function Conn:_write(msg)
  if self.closed or self.stdin:is_closing() then
    return false
  end
  local body = vim.json.encode(msg)
  self.stdin:write('Content-Length: ' .. #body .. '\r\n\r\n' .. body)
  return true
end

--- Sends a request; callback(err, result) runs once, with err a table
--- {code, message} (JSON-RPC error) or nil. Returns the request id.
function Conn:request(method, params, callback)
  self.next_id = self.next_id + 1
  local id = self.next_id
  self.pending[id] = callback
  if not self:_write({ jsonrpc = '2.0', id = id, method = method, params = params }) then
    self.pending[id] = nil
    vim.schedule(function()
      callback({ code = -32603, message = 'codex-auth is not running' }, nil)
    end)
  end
  return id
end

function Conn:notify(method, params)
  return self:_write({ jsonrpc = '2.0', method = method, params = params })
end

function Conn:_dispatch(msg)
  if type(msg) ~= 'table' then
    return
  end
  if msg.method ~= nil and msg.id ~= nil and msg.id ~= vim.NIL then
    -- A request from the server.
    local id, answered = msg.id, false
    local function reply(result, err)
      if answered then
        return
      end
      answered = true
      if err then
        self:_write({ jsonrpc = '2.0', id = id, error = err })
      else
        self:_write({ jsonrpc = '2.0', id = id, result = result == nil and vim.NIL or result })
      end
    end
    self.handlers.on_request(msg.method, strip_nil(msg.params), reply)
  elseif msg.method ~= nil then
    self.handlers.on_notification(msg.method, strip_nil(msg.params))
  elseif msg.id ~= nil then
    local cb = self.pending[msg.id]
    self.pending[msg.id] = nil
    if cb then
      if msg.error ~= nil and msg.error ~= vim.NIL then
        cb(strip_nil(msg.error), nil)
      else
        cb(nil, strip_nil(msg.result))
      end
    end
  end
end

function Conn:_feed(chunk)
  self.buffer = self.buffer .. chunk
  while true do
    local header_end = self.buffer:find('\r\n\r\n', 1, true)
    if not header_end then
      return
    end
    local header = self.buffer:sub(1, header_end - 1)
    local length = tonumber(header:lower():match('content%-length:%s*(%d+)'))
    if not length then
      -- Not a frame header: drop it (stdout carries frames only).
      self.buffer = self.buffer:sub(header_end + 4)
    else
      local body_start = header_end + 4
      if #self.buffer < body_start + length - 1 then
        return
      end
      local body = self.buffer:sub(body_start, body_start + length - 1)
      self.buffer = self.buffer:sub(body_start + length)
      local ok, msg = pcall(vim.json.decode, body)
      if ok then
        self:_dispatch(msg)
      end
    end
  end
end

function Conn:_exited(code, signal)
  self.closed = true
  self.exit_code, self.exit_signal = code, signal
  if self.handle and not self.handle:is_closing() then
    self.handle:close()
  end
  if not self.stdin:is_closing() then
    self.stdin:close()
  end
  local pending = self.pending
  self.pending = {}
  for _, cb in pairs(pending) do
    cb({ code = -32603, message = string.format('codex-auth exited (code %s)', tostring(code)) }, nil)
  end
  self.handlers.on_exit(code, signal, self.stderr_tail)
end

function Conn:is_running()
  return not self.closed
end

--- Ends the child the LSP way (shutdown, exit, end of input), waiting at
--- most timeout_ms, then SIGTERM. Safe to call from VimLeavePre.
function Conn:stop(timeout_ms)
  if self.closed then
    return
  end
  timeout_ms = timeout_ms or 1000
  local done = false
  self:request('shutdown', nil, function()
    done = true
  end)
  vim.wait(timeout_ms / 2, function()
    return done or self.closed
  end, 10)
  self:notify('exit', nil)
  if not self.stdin:is_closing() then
    self.stdin:shutdown()
  end
  vim.wait(timeout_ms / 2, function()
    return self.closed
  end, 10)
  if not self.closed and self.handle and not self.handle:is_closing() then
    self.handle:kill('sigterm')
  end
end

return M
