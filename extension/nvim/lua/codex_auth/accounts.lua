-- Saved accounts: listing them (accountSession/list), switching the active
-- one (accountSession/switch, for every editor and the Codex CLI at once),
-- signing one out (accountSession/logout), and how they are shown.

local auth = require('codex_auth.auth')
local client = require('codex_auth.client')
local state = require('codex_auth.state')

local M = {}

local L = vim.log.levels

M.METHOD_NOT_FOUND = -32601
M.SESSION_EXPIRED = -32017
M.ONE_ACCOUNT = 'this codex-auth keeps one account: update it to keep several'

local kinds = { chatgpt = 'ChatGPT', apiKey = 'API key', accessToken = 'access token' }

--- What a saved account is called: the email, else the key hint.
function M.label(a)
  if a.email and a.email ~= '' then
    return a.email
  end
  if a.apiKeyHint and a.apiKeyHint ~= '' then
    return a.apiKeyHint
  end
  return a.type == 'apiKey' and 'API key' or ('Codex (' .. tostring(a.type) .. ')')
end

local function workspace_name(a)
  for _, w in ipairs(a.workspaces or {}) do
    if w.accountId == a.selectedWorkspaceAccountId and w.name then
      return w.name
    end
  end
  local w = (a.workspaces or {})[1]
  return w and w.name
end

--- One line for a saved account: label (kind, plan, workspace) and marks.
function M.describe(a, active)
  local parts = { kinds[a.type] or tostring(a.type) }
  if a.planType and a.planType ~= '' and a.planType ~= 'unknown' then
    table.insert(parts, a.planType)
  end
  local ws = workspace_name(a)
  if ws and ws ~= '' then
    table.insert(parts, ws)
  end
  local s = string.format('%s (%s)', M.label(a), table.concat(parts, ', '))
  if active then
    s = s .. ' [active]'
  end
  if a.forbidden then
    s = s .. ' [forbidden: ' .. a.forbidden .. ']'
  elseif a.needsLogin then
    s = s .. ' [signed out: sign in again as it]'
  end
  return s
end

--- accountSession/*'s answer with anything malformed dropped: an
--- activeSessionId not in the list is nil.
function M.checked(raw)
  local list = { activeSessionId = nil, sessions = {} }
  if type(raw) ~= 'table' then
    return list
  end
  for _, a in ipairs(type(raw.sessions) == 'table' and raw.sessions or {}) do
    if type(a) == 'table' and type(a.sessionId) == 'string' and a.sessionId ~= '' then
      table.insert(list.sessions, a)
      if a.sessionId == raw.activeSessionId then
        list.activeSessionId = a.sessionId
      end
    end
  end
  return list
end

--- The sessions, the active one first, the others in the sidecar's order
--- (most recently used first).
function M.active_first(list)
  local out = {}
  for _, a in ipairs(list.sessions) do
    if a.sessionId == list.activeSessionId then
      table.insert(out, a)
    end
  end
  for _, a in ipairs(list.sessions) do
    if a.sessionId ~= list.activeSessionId then
      table.insert(out, a)
    end
  end
  return out
end

local function message(err)
  if type(err) == 'table' and err.code == M.METHOD_NOT_FOUND then
    return M.ONE_ACCOUNT
  end
  return auth.errmsg(err)
end
M.message = message

--- An accountSession/* result, checked and cached unless an
--- accountSession/updated came after the request was sent (pushed:
--- state.accounts_pushed when it was).
local function replied(pushed, result)
  local list = M.checked(result)
  state.accounts_replied(pushed, list)
  return list
end

--- callback(err, list) with the saved accounts.
function M.list(callback)
  local pushed = state.accounts_pushed
  client.request('accountSession/list', vim.empty_dict(), function(err, result)
    if err then
      return callback(message(err), nil)
    end
    callback(nil, replied(pushed, result))
  end)
end

--- The saved accounts, waiting at most timeout_ms: list, or nil and err.
function M.list_sync(timeout_ms)
  local pushed = state.accounts_pushed
  local result, err = client.request_sync('accountSession/list', vim.empty_dict(), timeout_ms)
  if err then
    return nil, message(err)
  end
  return replied(pushed, result)
end

local function find_active(list)
  for _, a in ipairs(list.sessions) do
    if a.sessionId == list.activeSessionId then
      return a
    end
  end
end

local function switch_to(account, callback)
  state.switching = state.switching + 1
  local pushed = state.accounts_pushed
  client.request('accountSession/switch', { sessionId = account }, function(err, result)
    state.switching = state.switching - 1
    if err then
      local msg = message(err)
      if err.code == M.SESSION_EXPIRED then
        msg = msg .. ' (:CodexLogin to sign in again as it)'
      end
      msg = tostring(account) .. ': ' .. msg
      auth.notify('switching accounts failed: ' .. msg, L.ERROR)
      if callback then
        callback(msg, nil)
      end
      return
    end
    local list = replied(pushed, result)
    local now = find_active(list)
    auth.notify('now using ' .. (now and M.label(now) or tostring(account)) .. ' (here, in the other editors and the Codex CLI)',
      L.INFO)
    auth.refresh()
    if callback then
      callback(nil, list)
    end
  end)
end

--- Makes account (a session id, or an email only one saved account has)
--- the active one; without account, asks with vim.ui.select.
--- callback(err, list) once done ('canceled' when nothing was picked).
function M.switch(account, callback)
  if account ~= nil and account ~= '' then
    return switch_to(account, callback)
  end
  M.list(function(err, list)
    if err then
      auth.notify('cannot list the accounts: ' .. err, L.ERROR)
      if callback then
        callback(err, nil)
      end
      return
    end
    if #list.sessions == 0 then
      auth.notify('no saved account: :CodexLogin to sign in', L.WARN)
      if callback then
        callback('no saved account', nil)
      end
      return
    end
    vim.ui.select(M.active_first(list), {
      prompt = 'Codex account:',
      kind = 'codex_auth.account',
      format_item = function(a)
        return M.describe(a, a.sessionId == list.activeSessionId)
      end,
    }, function(choice)
      if not choice then
        if callback then
          callback('canceled', nil)
        end
        return
      end
      if choice.sessionId == list.activeSessionId then
        auth.notify('already using ' .. M.label(choice), L.INFO)
        if callback then
          callback(nil, list)
        end
        return
      end
      switch_to(choice.sessionId, callback)
    end)
  end)
end

--- The session id of account: itself when a saved account has that id,
--- else the id of the one saved account with that email, else account
--- unchanged (the sidecar then says what is wrong).
function M.resolve(account)
  local list = state.accounts or M.list_sync(2000)
  local match
  for _, a in ipairs(list and list.sessions or {}) do
    if a.sessionId == account then
      return account
    end
    if a.email == account then
      if match then
        return account -- several: let the sidecar name them
      end
      match = a.sessionId
    end
  end
  return match or account
end

--- Signs one saved account out (revoked, its saved copy removed; the
--- active one as a plain logout). account: a session id, or an email only
--- one saved account has. callback(err, list).
function M.logout(account, callback)
  local id = M.resolve(account)
  local pushed = state.accounts_pushed
  client.request('accountSession/logout', { sessionId = id }, function(err, result)
    if err then
      local msg = message(err)
      auth.notify('sign-out failed: ' .. msg, L.ERROR)
      if callback then
        callback(msg, nil)
      end
      return
    end
    local list = replied(pushed, result)
    auth.notify('signed out of ' .. tostring(account), L.INFO)
    auth.refresh()
    if callback then
      callback(nil, list)
    end
  end)
end

--- The lines :CodexAccounts shows.
function M.lines(list)
  if #list.sessions == 0 then
    return { 'no saved account (:CodexLogin to sign in)' }
  end
  local lines = {}
  for _, a in ipairs(M.active_first(list)) do
    local active = a.sessionId == list.activeSessionId
    table.insert(lines, (active and '* ' or '  ') .. M.describe(a, active) .. '  ' .. a.sessionId)
  end
  if not list.activeSessionId then
    table.insert(lines, 'no account is active: :CodexSwitch to pick one')
  end
  return lines
end

--- Completion for :CodexSwitch and :CodexLogout: the emails and session
--- ids of the saved accounts starting with arglead (the last known list,
--- else one asked for, waiting at most 500 ms).
function M.complete(arglead)
  local list = state.accounts
  if not list then
    list = M.list_sync(500)
  end
  local out, seen = {}, {}
  for _, a in ipairs(list and list.sessions or {}) do
    for _, c in ipairs({ a.email or '', a.sessionId }) do -- ipairs stops at a nil
      if type(c) == 'string' and c ~= '' and not seen[c] and c:sub(1, #arglead) == arglead then
        seen[c] = true
        table.insert(out, c)
      end
    end
  end
  return out
end

return M
