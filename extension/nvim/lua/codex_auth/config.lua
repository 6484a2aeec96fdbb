-- The options, merged with the defaults once, by setup{}.

local M = {}

M.defaults = {
  -- The codex-auth binary: nil finds `codex-auth` on PATH.
  server_path = nil,
  -- The sidecar's log level: 'debug', 'info', 'warn' or 'error'.
  log_level = 'warn',
  -- The sidecar's log; nil is stdpath('cache')/codex_auth.log. Logs never
  -- hold a secret.
  log_file = nil,
  -- function(url) -> boolean opened: nil is vim.ui.open where it exists,
  -- else xdg-open / open / wslview where there is a display, else the URL
  -- is shown.
  open_url = nil,
}

M.options = nil

local levels = { debug = 'debug', info = 'info', warn = 'warn', warning = 'warn', error = 'error' }

--- Merges opts with the defaults (once per call of setup) and validates.
function M.setup(opts)
  opts = opts or {}
  if type(opts) ~= 'table' then
    error('codex_auth: setup{} takes a table', 2)
  end
  local types = { server_path = { 'string' }, log_level = { 'string', 'number' }, log_file = { 'string' },
    open_url = { 'function' } }
  for name, allowed in pairs(types) do
    local v = opts[name]
    if v ~= nil and not vim.tbl_contains(allowed, type(v)) then
      error(string.format('codex_auth: %s must be a %s, not a %s', name, table.concat(allowed, ' or '), type(v)), 2)
    end
  end
  local o = vim.tbl_extend('force', {}, M.defaults, opts)
  if type(o.log_level) == 'number' then
    local by_number = { [vim.log.levels.DEBUG] = 'debug', [vim.log.levels.INFO] = 'info',
      [vim.log.levels.WARN] = 'warn', [vim.log.levels.ERROR] = 'error' }
    o.log_level = by_number[o.log_level] or 'warn'
  end
  o.log_level = levels[tostring(o.log_level):lower()]
  if not o.log_level then
    error('codex_auth: log_level must be debug, info, warn or error', 2)
  end
  if o.server_path then
    o.server_path = vim.fn.expand(o.server_path)
  end
  if o.log_file then
    o.log_file = vim.fn.expand(o.log_file)
  end
  M.options = o
  return o
end

--- The options in force (the defaults when setup{} was never called).
function M.get()
  return M.options or M.setup({})
end

--- The binary to run: server_path, else codex-auth on PATH.
function M.server_path()
  return M.get().server_path or 'codex-auth'
end

function M.log_file()
  return M.get().log_file or (vim.fn.stdpath('cache') .. '/codex_auth.log')
end

return M
