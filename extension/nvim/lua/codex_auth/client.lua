-- The codex-auth sidecar: started on first use, initialized with protocol
-- version 1, requests queued until then, stopped on VimLeavePre.

local config = require('codex_auth.config')
local rpc = require('codex_auth.rpc')

local M = {}

M.PROTOCOL_VERSION = '1'

-- 'stopped' | 'starting' | 'ready' | 'failed'
M.state = 'stopped'
M.conn = nil
-- The initialize result, and the error that stopped the last start.
M.server = nil
M.error = nil

local queue = {}
-- Set by init.lua: on_notification(method, params), on_request(method,
-- params, reply), on_ready(), on_failed(message).
M.handlers = {}

local function version_string()
  local v = vim.version()
  return string.format('%d.%d.%d', v.major, v.minor, v.patch)
end

local function major(v)
  return tostring(v):match('^[^.]*')
end

local function flush(err)
  local q = queue
  queue = {}
  for _, item in ipairs(q) do
    if err then
      item.callback({ code = -32603, message = err }, nil)
    else
      M.conn:request(item.method, item.params, item.callback)
    end
  end
end

local function fail(message)
  M.state = 'failed'
  M.error = message
  flush(message)
  if M.handlers.on_failed then
    M.handlers.on_failed(message)
  end
end

--- The command line the sidecar is started with.
function M.cmd()
  return { config.server_path(), 'serve', '--log-level', config.get().log_level, '--log-file', config.log_file() }
end

--- Starts the sidecar (no-op when it runs or is starting). Its
--- environment is Neovim's.
function M.start()
  if M.state == 'starting' or M.state == 'ready' then
    return
  end
  local bin = config.server_path()
  if vim.fn.executable(bin) ~= 1 then
    fail(string.format('codex-auth not found (%s): install it or set server_path', bin))
    return
  end
  vim.fn.mkdir(vim.fn.fnamemodify(config.log_file(), ':h'), 'p')
  M.state, M.error, M.server = 'starting', nil, nil
  local conn, err
  conn, err = rpc.start(M.cmd(), {
    on_notification = function(method, params)
      if M.handlers.on_notification then
        M.handlers.on_notification(method, params or {})
      end
    end,
    on_request = function(method, params, reply)
      if M.handlers.on_request then
        M.handlers.on_request(method, params or {}, reply)
      else
        reply(nil, { code = -32601, message = 'method not found' })
      end
    end,
    on_exit = function(code, _, stderr_tail)
      if M.conn ~= conn then
        return
      end
      M.conn = nil
      if M.state == 'stopping' then
        M.state = 'stopped'
        return
      end
      local msg = string.format('codex-auth exited (code %s)', tostring(code))
      local last = vim.trim(stderr_tail or ''):match('[^\n]*$')
      if last and last ~= '' then
        msg = msg .. ': ' .. last
      end
      fail(msg)
    end,
  })
  if not conn then
    fail(err)
    return
  end
  M.conn = conn
  conn:request('initialize', {
    processId = vim.fn.getpid(),
    clientInfo = { name = 'Neovim', version = version_string() },
    capabilities = { window = { showDocument = { support = true } } },
    initializationOptions = { protocolVersion = M.PROTOCOL_VERSION },
  }, function(ierr, result)
    if M.conn ~= conn then
      return
    end
    if ierr then
      M.conn = nil
      fail('codex-auth initialize: ' .. tostring(ierr.message))
      conn:stop(500)
      return
    end
    local info = result and result.capabilities and result.capabilities.experimental
      and result.capabilities.experimental.codexAuth
    local got = info and info.protocolVersion
    if got == nil or major(got) ~= M.PROTOCOL_VERSION then
      fail(string.format('codex-auth speaks protocol %s; this plugin speaks %s: update both',
        tostring(got), M.PROTOCOL_VERSION))
      M.conn = nil
      conn:stop(500)
      return
    end
    M.server = result
    M.state = 'ready'
    conn:notify('initialized', vim.empty_dict())
    flush(nil)
    if M.handlers.on_ready then
      M.handlers.on_ready()
    end
  end)
end

--- Sends a request, starting the sidecar first when needed.
--- callback(err, result): err is {code, message} or nil.
function M.request(method, params, callback)
  if M.state == 'ready' and M.conn then
    return M.conn:request(method, params, callback)
  end
  if M.state ~= 'starting' then
    M.start()
  end
  if M.state == 'failed' then
    local e = M.error
    vim.schedule(function()
      callback({ code = -32603, message = e }, nil)
    end)
    return
  end
  table.insert(queue, { method = method, params = params, callback = callback })
end

--- Sends a request and waits at most timeout_ms. Returns result, err.
function M.request_sync(method, params, timeout_ms)
  local done, res, rerr = false, nil, nil
  M.request(method, params, function(e, r)
    done, res, rerr = true, r, e
  end)
  if not vim.wait(timeout_ms, function()
    return done
  end, 10) then
    return nil, { code = -32603, message = string.format('codex-auth did not answer %s within %d ms', method, timeout_ms) }
  end
  return res, rerr
end

--- Waits at most timeout_ms for the sidecar to be ready (starting it).
function M.ensure_started(timeout_ms)
  M.start()
  vim.wait(timeout_ms, function()
    return M.state ~= 'starting'
  end, 10)
  return M.state == 'ready'
end

--- The sidecar's pid (nil when not running).
function M.pid()
  return M.conn and M.conn.pid
end

--- Stops the sidecar (VimLeavePre).
function M.stop()
  local conn = M.conn
  if not conn then
    return
  end
  M.state = 'stopping'
  flush('codex-auth stopped')
  conn:stop(1000)
end

return M
