-- codex_auth: sign in to OpenAI Codex from Neovim through the codex-auth
-- sidecar (docs/protocol.md). See :help codex_auth.

local accounts = require('codex_auth.accounts')
local auth = require('codex_auth.auth')
local client = require('codex_auth.client')
local config = require('codex_auth.config')
local state = require('codex_auth.state')

local M = {}

local STATUS_TIMEOUT_MS = 2000

client.handlers = {
  on_notification = auth.on_notification,
  on_request = auth.on_request,
  on_ready = function()
    state.set_fault(nil)
    auth.refresh()
  end,
  on_failed = function(message)
    auth.on_failed(message)
    if message:find('not found', 1, true) then
      state.set_fault('Codex: codex-auth missing')
    else
      state.set_fault('Codex: sidecar failed')
    end
  end,
}

local group = vim.api.nvim_create_augroup('codex_auth', { clear = true })
vim.api.nvim_create_autocmd('VimLeavePre', {
  group = group,
  callback = function()
    client.stop()
  end,
})

--- Merges opts with the defaults. Calling it again replaces the options;
--- a running sidecar keeps its binary until restarted.
function M.setup(opts)
  config.setup(opts)
end

--- The account/read result (JSON null as nil), waiting at most 2 s.
--- Returns nil and an error message when the sidecar cannot answer.
function M.status()
  local result, err = client.request_sync('account/read', vim.empty_dict(), STATUS_TIMEOUT_MS)
  if err then
    return nil, auth.errmsg(err)
  end
  state.set_status(result)
  return result
end

--- Signs in: method 'browser' | 'device' | 'apikey' (nil: the default
--- for this machine), opts.api_key skips the prompt, callback(err, result)
--- once the sign-in has ended.
function M.login(method, opts, callback)
  if type(opts) == 'function' then
    opts, callback = nil, opts
  end
  auth.login(method, opts, callback)
end

--- Cancels a sign-in in progress.
function M.cancel(callback)
  auth.cancel(callback)
end

--- Signs out everywhere (the Codex CLI included). callback(err, result).
--- opts.account (a session id or an email) signs that saved account out
--- instead; callback(err, list) then gets the accounts left.
function M.logout(callback, opts)
  auth.logout(callback, opts)
end

--- callback(err, result) with account/token's result (a secret: never
--- log it). opts.refresh forces a refresh; opts.session_id asks for a
--- saved account that is not the active one.
function M.token(callback, opts)
  auth.token(callback, opts)
end

--- The saved accounts (accountSession/list), waiting at most 2 s:
--- {activeSessionId = id or nil, sessions = {...}}, the sidecar's order
--- (most recently used first). nil and an error message on failure.
function M.accounts()
  return accounts.list_sync(STATUS_TIMEOUT_MS)
end

--- Makes account (a session id, or an email only one saved account has)
--- the active one, for every editor and the Codex CLI; nil asks with
--- vim.ui.select. callback(err, list) once done.
function M.switch(account, callback)
  if type(account) == 'function' then
    account, callback = nil, account
  end
  accounts.switch(account, callback)
end

local background_started = false

-- The first call starts the sidecar in the background.
local function start_once()
  if not background_started then
    background_started = true
    if client.state == 'stopped' then
      vim.schedule(function()
        client.start()
      end)
    end
  end
end

--- A short string: the email, 'API key', 'signed out' or a warning; ''
--- until the state is known. Never blocks; the first call starts the
--- sidecar in the background.
function M.statusline()
  start_once()
  return state.statusline()
end

--- The last known saved accounts (a copy, as accounts() gives them),
--- kept up to date by the sidecar's accountSession/updated; nil until
--- known (or from a codex-auth that keeps one account). Never blocks; the
--- first call starts the sidecar in the background. User
--- CodexAccountsChanged fires when it changes.
function M.cached_accounts()
  start_once()
  return vim.deepcopy(state.accounts)
end

--- The sign-in :CodexLogin uses without an argument ('browser' or 'device').
function M.default_method()
  return require('codex_auth.browser').default_method()
end

return M
