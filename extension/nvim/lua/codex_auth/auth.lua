-- Signing in and out: the three login flows, the notifications they end
-- with, and what the user is told.

local browser = require('codex_auth.browser')
local client = require('codex_auth.client')
local state = require('codex_auth.state')

local M = {}

local TITLE = { title = 'Codex' }

local function notify(msg, level)
  vim.notify('Codex: ' .. msg, level, TITLE)
end
M.notify = notify

local function errmsg(err)
  if type(err) == 'table' then
    return tostring(err.message or err.code)
  end
  return tostring(err)
end
M.errmsg = errmsg

-- Logins started here and not ended yet, by loginId: {callback, method}.
local active = {}
-- account/login/completed that came before their start's reply.
local early = {}

-- Refreshes the state from account/read (async), then the saved accounts
-- from accountSession/list (nil from a codex-auth without it); then(status)
-- optional, called after the read.
function M.refresh(after)
  local pushed = state.accounts_pushed
  client.request('account/read', vim.empty_dict(), function(err, result)
    if not err and result then
      state.set_status(result)
    end
    if after then
      after(result)
    end
  end)
  client.request('accountSession/list', vim.empty_dict(), function(err, result)
    if not err then
      state.accounts_replied(pushed, require('codex_auth.accounts').checked(result))
    elseif err.code == -32601 then
      state.set_accounts(nil)
    end
  end)
end

local function signed_in_text(status)
  local a = status and status.account
  if not a then
    return 'signed in'
  end
  if a.type == 'apiKey' then
    return 'signed in with an API key' .. (a.apiKeyHint and (' (' .. a.apiKeyHint .. ')') or '')
  end
  local plan = a.planType and a.planType ~= '' and (' (' .. a.planType .. ')') or ''
  return 'signed in as ' .. tostring(a.email or 'ChatGPT') .. plan
end

local function finish(login, params)
  if params.success then
    M.refresh(function(status)
      notify(signed_in_text(status), vim.log.levels.INFO)
      if login.callback then
        login.callback(nil, params)
      end
    end)
  else
    local e = params.error or 'sign-in failed'
    if e ~= 'canceled' then
      notify('sign-in failed: ' .. e, vim.log.levels.ERROR)
    end
    if login.callback then
      login.callback(e, params)
    end
  end
end

-- A flow replied with its loginId: wait for its completion.
local function track(login_id, login)
  local done = early[login_id]
  if done then
    early[login_id] = nil
    finish(login, done)
  else
    active[login_id] = login
  end
end

local function start_failed(callback, err)
  local msg = errmsg(err)
  notify('sign-in failed: ' .. msg, vim.log.levels.ERROR)
  if callback then
    callback(msg, nil)
  end
end

local function login_apikey(opts, callback)
  local key = opts.api_key
  if key == nil then
    -- inputsecret keeps the key out of the input history and the screen.
    local ok, typed = pcall(vim.fn.inputsecret, 'OpenAI API key: ')
    key = ok and typed or ''
    vim.cmd('redraw')
  end
  if type(key) ~= 'string' or vim.trim(key) == '' then
    local msg = 'no API key given'
    notify('sign-in canceled: ' .. msg, vim.log.levels.WARN)
    if callback then
      callback(msg, nil)
    end
    return
  end
  client.request('account/login/start', { type = 'apiKey', apiKey = vim.trim(key) }, function(err, result)
    if err then
      return start_failed(callback, err)
    end
    M.refresh(function(status)
      notify(signed_in_text(status), vim.log.levels.INFO)
      if callback then
        callback(nil, result)
      end
    end)
  end)
end

local function login_browser(_, callback)
  client.request('account/login/start', { type = 'chatgpt' }, function(err, result)
    if err then
      return start_failed(callback, err)
    end
    local login = { callback = callback, method = 'browser' }
    if result.headless then
      notify((result.message or 'open this URL in a browser to sign in') .. '\n' .. result.authUrl, vim.log.levels.WARN)
    end
    track(result.loginId, login)
  end)
end

local function login_device(_, callback)
  client.request('account/login/start', { type = 'chatgptDeviceCode' }, function(err, result)
    if err then
      return start_failed(callback, err)
    end
    local copied = false
    if vim.fn.has('clipboard') == 1 then
      copied = pcall(vim.fn.setreg, '+', result.userCode)
    end
    notify(string.format('to sign in, enter the code %s at %s%s', result.userCode, result.verificationUrl,
      copied and ' (the code is in the + register)' or ''), vim.log.levels.INFO)
    browser.open(result.verificationUrl)
    track(result.loginId, { callback = callback, method = 'device' })
  end)
end

local flows = { browser = login_browser, device = login_device, apikey = login_apikey }

M.methods = { 'browser', 'device', 'apikey' }

--- Signs in with method ('browser' | 'device' | 'apikey'; nil: the
--- default for this machine). callback(err, result) once it has ended.
function M.login(method, opts, callback)
  method = method or browser.default_method()
  local flow = flows[method]
  if not flow then
    local msg = string.format('unknown sign-in method %q: use browser, device or apikey', tostring(method))
    notify(msg, vim.log.levels.ERROR)
    if callback then
      vim.schedule(function()
        callback(msg, nil)
      end)
    end
    return
  end
  flow(opts or {}, callback)
end

--- Cancels the logins started here.
function M.cancel(callback)
  local n = 0
  for id in pairs(active) do
    n = n + 1
    client.request('account/login/cancel', { loginId = id }, function()
      n = n - 1
      if n == 0 and callback then
        callback(nil)
      end
    end)
  end
  if n == 0 and callback then
    callback(nil)
  end
end

function M.logout(callback, opts)
  if opts and opts.account then
    return require('codex_auth.accounts').logout(opts.account, function(err, list)
      if callback then
        callback(err, list)
      end
    end)
  end
  client.request('account/logout', nil, function(err, result)
    if err then
      notify('sign-out failed: ' .. errmsg(err), vim.log.levels.ERROR)
    else
      notify('signed out', vim.log.levels.INFO)
      M.refresh()
    end
    if callback then
      callback(err and errmsg(err) or nil, result)
    end
  end)
end

function M.token(callback, opts)
  local params = vim.empty_dict()
  if opts and (opts.refresh or opts.session_id) then
    params = { refresh = opts.refresh and true or nil, sessionId = opts.session_id }
  end
  client.request('account/token', params, function(err, result)
    callback(err and errmsg(err) or nil, result)
  end)
end

local reasons = {
  loggedOut = 'signed out elsewhere',
  accountChanged = 'another account signed in',
  refreshFailed = 'the session expired',
  policyViolation = 'managed policy removed the credentials',
  credentialsCorrupted = 'the stored credentials are damaged',
}

-- Notifications from the sidecar.
function M.on_notification(method, params)
  if method == 'account/updated' then
    state.updated(params)
    M.refresh()
  elseif method == 'accountSession/updated' then
    -- The saved accounts after a change, whoever made it (an inactive
    -- account signed out by the CLI is told by nothing else). Params
    -- without a list are no list: the last one stays.
    if type(params.sessions) == 'table' then
      state.accounts_updated(require('codex_auth.accounts').checked(params))
    end
  elseif method == 'account/login/completed' then
    local login = active[params.loginId]
    if login then
      active[params.loginId] = nil
      finish(login, params)
    else
      early[params.loginId] = params
    end
  elseif method == 'account/sessionInvalidated' and params.reason == 'accountChanged' then
    -- A switch or another sign-in: the old account stays saved. A switch
    -- made here says so itself.
    if state.switching == 0 then
      local why = tostring(params.message or reasons.accountChanged):gsub('%.%s*$', '')
      notify(why .. ' (:CodexAccounts to see the saved accounts)', vim.log.levels.INFO)
    end
    M.refresh()
  elseif method == 'account/sessionInvalidated' then
    local why = params.message or reasons[params.reason] or tostring(params.reason)
    why = tostring(why):gsub('%.%s*$', '')
    notify(string.format('%s (%s). Run :CodexLogin to sign in again.', why, tostring(params.reason)),
      vim.log.levels.WARN)
    state.set_warning('Codex: sign in again')
    M.refresh()
  end
end

-- The sidecar failed or exited: the logins it ran have ended.
function M.on_failed(message)
  local logins = active
  active, early = {}, {}
  for _, login in pairs(logins) do
    notify('sign-in failed: ' .. message, vim.log.levels.ERROR)
    if login.callback then
      login.callback(message, nil)
    end
  end
end

-- Requests from the sidecar.
function M.on_request(method, params, reply)
  if method == 'window/showDocument' then
    local uri = params.uri
    if type(uri) ~= 'string' or not uri:match('^https?://') then
      return reply({ success = false })
    end
    local opened = browser.open(uri)
    if not opened then
      notify('open this URL in a browser to sign in:\n' .. uri, vim.log.levels.WARN)
    end
    reply({ success = opened })
  else
    reply(nil, { code = -32601, message = 'method not found: ' .. tostring(method) })
  end
end

return M
