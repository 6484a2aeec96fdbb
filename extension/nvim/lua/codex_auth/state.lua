-- The last known account state (and saved accounts), what the statusline
-- shows, and the events fired on every change: `User CodexAuthChanged`
-- (anything shown) and `User CodexAccountsChanged` (the saved accounts).

local M = {}

-- The last account/read result (nil until known).
M.status = nil
-- A warning that overrides the statusline until the next change: the
-- sidecar cannot start, the session was invalidated elsewhere, ...
M.warning = nil
-- Why the sidecar is not running (binary missing, it failed to start or
-- exited): shown before anything else, cleared once it is ready.
M.fault = nil
-- The last known saved accounts: accountSession/updated's params or an
-- accountSession/* result, checked (nil until known, or from a codex-auth
-- that keeps one account).
M.accounts = nil
-- accountSession/updated notifications received. A reply to a request
-- sent before the last one is no newer than it (notifications come in
-- order, every reply after the notifications sent before it), so such a
-- reply does not replace it.
M.accounts_pushed = 0
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

-- Everything an account list shows but lastUsedAt (a use alone is no
-- change); vim.inspect sorts the keys.
local function list_key(l)
  if not l then
    return 'nil'
  end
  local copy = vim.deepcopy(l)
  for _, a in ipairs(copy.sessions) do
    a.lastUsedAt = nil
  end
  return vim.inspect(copy)
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

local function fire_accounts()
  local opts = { pattern = 'CodexAccountsChanged', modeline = false }
  if vim.fn.has('nvim-0.8') == 1 then
    opts.data = { accounts = vim.deepcopy(M.accounts) }
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

--- The saved accounts (checked: accounts.checked), or nil. Fires
--- CodexAuthChanged when what it shows changed, then CodexAccountsChanged
--- when the list changed in anything but lastUsedAt.
function M.set_accounts(list)
  local before, before_list = key(M.status, M.warning), list_key(M.accounts)
  M.accounts = list
  if key(M.status, M.warning) ~= before then
    fire()
  end
  if list_key(M.accounts) ~= before_list then
    fire_accounts()
  end
end

--- The saved accounts an accountSession/updated brought (checked).
function M.accounts_updated(list)
  M.accounts_pushed = M.accounts_pushed + 1
  M.set_accounts(list)
end

--- The saved accounts of a reply to a request sent when accounts_pushed
--- was pushed: kept unless an accountSession/updated came since.
function M.accounts_replied(pushed, list)
  if M.accounts_pushed == pushed then
    M.set_accounts(list)
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
