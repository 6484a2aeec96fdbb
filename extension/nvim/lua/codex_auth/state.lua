-- The last known account state (and saved accounts), what the statusline
-- shows, and the `User CodexAuthChanged` event fired on every change.

local M = {}

-- The last account/read result (nil until known).
M.status = nil
-- A warning that overrides the statusline until the next change: the
-- sidecar cannot start, the session was invalidated elsewhere, ...
M.warning = nil
-- Why the sidecar is not running (binary missing, it failed to start or
-- exited): shown before anything else, cleared once it is ready.
M.fault = nil
-- The last accountSession/list result (nil until known, or from a
-- codex-auth that keeps one account).
M.accounts = nil
-- Switches made here still in flight (their accountChanged is no news).
M.switching = 0

local function accounts_key()
  local l = M.accounts
  if not l then
    return '-'
  end
  local ids = { tostring(l.activeSessionId) }
  for _, a in ipairs(l.sessions) do
    table.insert(ids, a.sessionId .. (a.needsLogin and '!' or '') .. (a.forbidden and '#' or ''))
  end
  return table.concat(ids, ',')
end

local function key(status, warning)
  local a = status and status.account
  return table.concat({
    status and 'known' or 'unknown',
    a and a.type or '-',
    a and (a.email or a.apiKeyHint) or '-',
    a and a.planType or '-',
    a and a.workspaceId or '-',
    status and status.problem or '-',
    warning or '-',
    M.fault or '-',
    accounts_key(),
  }, '\0')
end

local function fire()
  local opts = { pattern = 'CodexAuthChanged', modeline = false }
  if vim.fn.has('nvim-0.8') == 1 then
    opts.data = { status = M.status, warning = M.warning, accounts = M.accounts }
  end
  pcall(vim.api.nvim_exec_autocmds, 'User', opts)
end

-- Applies a change and fires the event when anything shown changed.
local function apply(status, warning)
  local before = key(M.status, M.warning)
  M.status, M.warning = status, warning
  if key(M.status, M.warning) ~= before then
    fire()
  end
end

local function identity(status)
  local a = status and status.account
  return a and (a.type .. '\0' .. tostring(a.email or a.apiKeyHint) .. '\0' .. tostring(a.workspaceId)) or ''
end

--- A full account/read result. A warning stays until the account changes.
function M.set_status(status)
  local warning = M.warning
  if identity(status) ~= identity(M.status) then
    warning = nil
  end
  apply(status, warning)
end

--- account/updated params: patches the account until the next read.
function M.updated(params)
  local status = vim.deepcopy(M.status or {})
  if params.authMode == 'chatgpt' then
    status.account = {
      type = 'chatgpt',
      email = params.email,
      planType = params.planType,
      workspaceId = params.workspaceId,
    }
  elseif params.authMode == 'apikey' then
    local old = status.account
    status.account = { type = 'apiKey', apiKeyHint = old and old.type == 'apiKey' and old.apiKeyHint or nil }
  else
    status.account = nil
  end
  status.problem = nil
  apply(status, nil)
end

--- The saved accounts (accountSession/list's result), or nil.
function M.set_accounts(list)
  local before = key(M.status, M.warning)
  M.accounts = list
  if key(M.status, M.warning) ~= before then
    fire()
  end
end

--- A warning (string) shown by the statusline until the next change.
function M.set_warning(warning)
  apply(M.status, warning)
end

--- The sidecar's fault (a short string), or nil once it runs.
function M.set_fault(fault)
  local before = key(M.status, M.warning)
  M.fault = fault
  if key(M.status, M.warning) ~= before then
    fire()
  end
end

--- A short string for a statusline.
function M.statusline()
  if M.fault then
    return M.fault
  end
  if M.warning then
    return M.warning
  end
  local s = M.status
  if not s then
    return ''
  end
  if s.problem then
    return 'Codex: credentials problem'
  end
  local a = s.account
  if not a then
    return 'signed out'
  end
  if a.type == 'apiKey' then
    return 'API key'
  end
  return a.email or 'ChatGPT'
end

return M
