-- End to end: the plugin, the real codex-auth sidecar, the local issuer
-- and the real Codex CLI, in one headless Neovim. run.sh sets the
-- environment (HOME, CODEX_HOME, CODEX_AUTH_ISSUER, ...).

local root = assert(os.getenv('TEST_ROOT'))
vim.opt.runtimepath:append(root)
package.path = root .. '/test/?.lua;' .. package.path

local H = require('harness')
local L = vim.log.levels

local BASE = assert(os.getenv('TEST_ISSUER'))
local HOME = assert(os.getenv('CODEX_HOME'))
local CODEX = assert(os.getenv('CODEX_BIN'))
local EMAIL = 'dev@example.com' -- the local issuer's default user

local API_KEY = 'sk-proj-nvimtest' .. string.rep('k', 24) .. 'vwxyz'
local API_KEY_2 = 'sk-proj-typedkey' .. string.rep('q', 24) .. 'abcde'
H.secret(API_KEY)
H.secret(API_KEY_2)
local seen_tokens = {}

-- What open_url was asked to open, and how the test answers it.
local opened = {}
local open_handler = function()
  return false
end

-- A clipboard provider standing in for the system clipboard.
local clipboard = {}
vim.g.clipboard = {
  name = 'test',
  copy = {
    ['+'] = function(lines)
      clipboard['+'] = lines
    end,
    ['*'] = function(lines)
      clipboard['*'] = lines
    end,
  },
  paste = {
    ['+'] = function()
      return clipboard['+'] or {}
    end,
    ['*'] = function()
      return clipboard['*'] or {}
    end,
  },
}

local codex
local function auth_json()
  local s = H.read(HOME .. '/auth.json')
  return s and vim.json.decode(s)
end
local function remember_tokens()
  local a = auth_json()
  if a and type(a.tokens) == 'table' then
    for _, k in ipairs({ 'id_token', 'access_token', 'refresh_token' }) do
      if type(a.tokens[k]) == 'string' then
        H.secret(a.tokens[k])
        table.insert(seen_tokens, a.tokens[k])
      end
    end
  end
  return a
end

H.case('loading the plugin defines the commands and starts nothing', function()
  vim.cmd('runtime plugin/codex_auth.lua')
  for _, c in ipairs({ 'CodexLogin', 'CodexStatus', 'CodexLogout' }) do
    H.eq(vim.fn.exists(':' .. c), 2, ':' .. c .. ' exists')
  end
  codex = require('codex_auth')
  codex.setup({
    server_path = os.getenv('CODEX_AUTH_BIN'),
    log_level = 'debug', -- the most the sidecar logs: still no secret
    open_url = function(url)
      table.insert(opened, url)
      return open_handler(url)
    end,
  })
  H.eq(require('codex_auth.client').state, 'stopped', 'sidecar state after setup')
end)

H.case('statusline() never blocks and starts the sidecar in the background', function()
  local changed = H.changed
  local t0 = vim.loop.hrtime()
  local first = codex.statusline()
  local ms = (vim.loop.hrtime() - t0) / 1e6
  H.eq(first, '', 'first statusline() (state not known yet)')
  H.truthy(ms < 50, 'statusline() took ' .. ms .. ' ms')
  H.wait(5000, function()
    return codex.statusline() == 'signed out'
  end, 'statusline() to say signed out, it says ' .. vim.inspect(codex.statusline()))
  H.truthy(H.changed > changed, 'User CodexAuthChanged fired once the state was known')
end)

H.case('status() signed out: account is nil, never vim.NIL', function()
  local s, err = codex.status()
  H.truthy(s, 'status() returned nil: ' .. tostring(err))
  H.eq(type(s.account), 'nil', 'type of status().account')
  H.eq(s.store.mode, 'file', 'store.mode')
  H.eq(s.store.location, HOME .. '/auth.json', 'store.location')
  H.eq(s.issuer, BASE, 'issuer')
end)

H.case(':CodexLogin without argument here (no display) is a device login, approved by the test', function()
  H.eq(codex.default_method(), 'device', 'default method without DISPLAY')
  local from, changed = #H.notes, H.changed
  opened = {}
  vim.cmd('CodexLogin')
  local note = H.wait_note('enter the code', L.INFO, from)
  local code, url = note.msg:match('code (%S+) at (%S+)')
  H.truthy(code and url, 'no code and URL in ' .. note.msg)
  H.eq(url, BASE .. '/codex/device', 'verification URL')
  H.eq(opened[1], url, 'open_url got the verification URL')
  H.eq(table.concat(clipboard['+'] or {}, '\n'), code, 'the + register (clipboard) holds the code')
  H.truthy(note.msg:find('+ register', 1, true), 'the notification does not say the code was copied')
  -- The user approves the code in a browser (the issuer's form).
  H.eq(H.run({ 'curl', '-sf', '-o', '/dev/null', '-d', 'user_code=' .. code, BASE .. '/codex/device' }), 0,
    'curl approving the code')
  H.wait_note('signed in as ' .. vim.pesc(EMAIL), L.INFO, from, 15000)
  H.truthy(H.changed > changed, 'User CodexAuthChanged fired')
  local s = codex.status()
  H.eq(s.account and s.account.email, EMAIL, 'status().account.email')
  H.eq(s.account.type, 'chatgpt', 'status().account.type')
  H.eq(codex.statusline(), EMAIL, 'statusline()')
  remember_tokens()
end)

H.case('token() gives the access token auth.json holds', function()
  local err, res = H.await(5000, function(done)
    codex.token(done)
  end, 'token()')
  H.eq(err, nil, 'token() error')
  H.eq(res.type, 'chatgpt', 'token type')
  local a = auth_json()
  H.truthy(type(res.accessToken) == 'string' and res.accessToken ~= '', 'no accessToken')
  H.truthy(res.accessToken == a.tokens.access_token, 'accessToken differs from auth.json tokens.access_token')
  H.eq(res.accountId, codex.status().account.workspaceId, 'accountId is the workspace')
  H.secret(res.accessToken)
  table.insert(seen_tokens, res.accessToken)
end)

H.case(':checkhealth codex_auth reports OK and no ERROR', function()
  vim.cmd('checkhealth codex_auth')
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  vim.cmd('bwipeout!')
  H.truthy(not text:find('ERROR'), 'ERROR in checkhealth:\n' .. text)
  local want = {
    'OK: ' .. vim.pesc(os.getenv('CODEX_AUTH_BIN')) .. ' %(codex%-auth ',
    'OK: protocol version 1 accepted by codex%-auth',
    'OK: signed in as ' .. vim.pesc(EMAIL),
    'OK: store: file, ' .. vim.pesc(HOME .. '/auth.json'),
  }
  for _, w in ipairs(want) do
    H.truthy(text:find(w), 'checkhealth lacks ' .. w .. ':\n' .. text)
  end
end)

H.case('codex logout in a shell: WARN notification and User CodexAuthChanged', function()
  local from, changed = #H.notes, H.changed
  H.eq(H.run({ 'sh', '-c', '"$CODEX_BIN" logout >/dev/null 2>&1' }), 0, 'codex logout exit code')
  H.eq(auth_json(), nil, 'auth.json after codex logout')
  local note = H.wait_note('Run :CodexLogin to sign in again', L.WARN, from)
  H.truthy(note.msg:find('loggedOut', 1, true), 'the reason is not in ' .. note.msg)
  H.wait(5000, function()
    return H.changed > changed and codex.statusline() == 'signed out'
  end, 'CodexAuthChanged and statusline() signed out; it says ' .. codex.statusline())
  H.eq(type(codex.status().account), 'nil', 'status().account after codex logout')
end)

H.case("login('browser') through open_url set to a fake browser", function()
  opened = {}
  local curl_exit
  open_handler = function(url)
    vim.fn.jobstart({ 'curl', '-sfL', '-o', '/dev/null', url }, {
      on_exit = function(_, c)
        curl_exit = c
      end,
    })
    return true
  end
  local err, res = H.await(20000, function(done)
    codex.login('browser', nil, done)
  end, 'the browser login to end')
  open_handler = function()
    return false
  end
  H.eq(err, nil, 'login error')
  H.eq(res.success, true, 'account/login/completed success')
  H.truthy(opened[1] and opened[1]:find(BASE .. '/oauth/authorize?', 1, true), 'open_url got ' .. tostring(opened[1]))
  H.wait(5000, function()
    return curl_exit ~= nil
  end, 'the fake browser')
  H.eq(curl_exit, 0, 'fake browser (curl -sfL) exit code')
  H.eq(codex.status().account.email, EMAIL, 'status() email after the browser login')
  H.eq(codex.statusline(), EMAIL, 'statusline()')
  remember_tokens()
end)

H.case(':CodexStatus shows the account', function()
  local from = #H.notes
  vim.cmd('CodexStatus')
  local n = H.wait_note('signed in as ' .. vim.pesc(EMAIL), L.INFO, from, 3000)
  H.truthy(n.msg:find('store: file', 1, true), 'no store in ' .. n.msg)
end)

H.case(':CodexLogout signs out (auth.json removed, statusline updated)', function()
  local from = #H.notes
  vim.cmd('CodexLogout')
  H.wait_note('signed out', L.INFO, from, 5000)
  H.eq(auth_json(), nil, 'auth.json after :CodexLogout')
  H.wait(3000, function()
    return codex.statusline() == 'signed out'
  end, 'statusline() signed out')
  H.eq(type(codex.status().account), 'nil', 'status().account')
end)

H.case('a browser login open_url cannot open: WARN with the URL, then cancel()', function()
  opened = {}
  local from = #H.notes
  local result
  codex.login('browser', {}, function(err, res)
    result = { err = err, res = res }
  end)
  local n = H.wait_note('open this URL', L.WARN, from, 5000)
  H.truthy(n.msg:find(BASE .. '/oauth/authorize?', 1, true), 'no authUrl in ' .. n.msg)
  H.eq(#opened, 1, 'open_url calls')
  H.await(5000, function(done)
    codex.cancel(done)
  end, 'cancel()')
  H.wait(5000, function()
    return result ~= nil
  end, 'the login callback after cancel()')
  H.eq(result.err, 'canceled', 'login error after cancel()')
  H.eq(H.find_note('sign%-in failed', L.ERROR, from), nil, 'an ERROR for a canceled login')
end)

H.case('a denied device code: ERROR notification and callback error', function()
  local from = #H.notes
  local result
  codex.login('device', {}, function(err, res)
    result = { err = err, res = res }
  end)
  local note = H.wait_note('enter the code', L.INFO, from)
  local code = note.msg:match('code (%S+) at')
  H.eq(H.run({ 'curl', '-sf', '-o', '/dev/null', '-d', 'user_code=' .. code, '-d', 'action=deny',
    BASE .. '/codex/device' }), 0, 'curl denying the code')
  H.wait_note('sign%-in failed', L.ERROR, from, 15000)
  H.wait(3000, function()
    return result ~= nil
  end, 'the login callback')
  H.truthy(type(result.err) == 'string' and result.err ~= '', 'callback error: ' .. vim.inspect(result.err))
  H.eq(type(codex.status().account), 'nil', 'status().account after a denied login')
end)

H.case("login('apikey') with opts.api_key", function()
  local from = #H.notes
  local err, res = H.await(5000, function(done)
    codex.login('apikey', { api_key = API_KEY }, done)
  end, 'the API-key login')
  H.eq(err, nil, 'login error')
  H.eq(res.type, 'apiKey', 'result type')
  local hint = API_KEY:sub(1, 8) .. '***' .. API_KEY:sub(-5)
  H.wait_note('signed in with an API key %(' .. vim.pesc(hint) .. '%)', L.INFO, from, 3000)
  H.eq(codex.status().account.apiKeyHint, hint, 'status().account.apiKeyHint')
  H.eq(codex.statusline(), 'API key', 'statusline()')
end)

H.case('token() gives the API key', function()
  local err, res = H.await(5000, function(done)
    codex.token(done)
  end, 'token()')
  H.eq(err, nil, 'token() error')
  H.eq(res.type, 'apiKey', 'token type')
  H.truthy(res.apiKey == API_KEY, 'token().apiKey is not the key signed in with')
end)

H.case(':CodexLogin apikey reads the key with inputsecret', function()
  local from = #H.notes
  -- Typed by the "user": inputsecret consumes the typeahead.
  vim.api.nvim_feedkeys(API_KEY_2 .. '\r', 't', false)
  vim.cmd('CodexLogin apikey')
  local hint = API_KEY_2:sub(1, 8) .. '***' .. API_KEY_2:sub(-5)
  H.wait_note('signed in with an API key %(' .. vim.pesc(hint) .. '%)', L.INFO, from, 5000)
  H.eq(codex.status().account.apiKeyHint, hint, 'apiKeyHint after the typed key')
end)

H.case('the sidecar dies during a device login: ERROR, callback error, warning; the next use restarts it', function()
  local client = require('codex_auth.client')
  local from = #H.notes
  local result
  codex.login('device', {}, function(err)
    result = { err = err }
  end)
  H.wait_note('enter the code', L.INFO, from)
  local pid = H.truthy(client.pid(), 'no sidecar pid')
  vim.loop.kill(pid, 'sigkill')
  H.wait(5000, function()
    return result ~= nil
  end, 'the login callback after the sidecar died')
  H.truthy(tostring(result.err):find('exited', 1, true), 'callback error: ' .. tostring(result.err))
  H.wait_note('sign%-in failed: codex%-auth exited', L.ERROR, from, 1000)
  H.eq(codex.statusline(), 'Codex: sidecar failed', 'statusline() after the sidecar died')
  local s, err = codex.status()
  H.truthy(s, 'status() after a restart: ' .. tostring(err))
  H.truthy(client.pid() and client.pid() ~= pid, 'not a new sidecar')
  H.eq(s.account and s.account.type, 'apiKey', 'status() after the restart (the stored API key)')
  H.wait(2000, function()
    return codex.statusline() == 'API key'
  end, 'statusline() API key, it says ' .. codex.statusline())
end)

H.case('no secret in messages, registers, history, notifications or the log', function()
  local places = { messages = vim.fn.execute('messages') }
  for _, r in ipairs(vim.split('"0123456789-abcdefghijklmnopqrstuvwxyz:/.+*', '')) do
    places['register ' .. r] = vim.fn.getreg(r)
  end
  for _, hist in ipairs({ 'cmd', 'search', 'expr', 'input', 'debug' }) do
    local all = {}
    for i = 1, vim.fn.histnr(hist) do
      table.insert(all, vim.fn.histget(hist, i))
    end
    places['history ' .. hist] = table.concat(all, '\n')
  end
  local notes = {}
  for _, n in ipairs(H.notes) do
    table.insert(notes, n.msg)
  end
  places.notifications = table.concat(notes, '\n')
  places.log = H.read(require('codex_auth.config').log_file()) or ''
  H.truthy(#places.log > 0, 'the sidecar log is empty (log_level debug)')
  places['lsp.log'] = H.read(vim.fn.stdpath('cache') .. '/lsp.log') or ''
  local secrets = { API_KEY, API_KEY_2 }
  vim.list_extend(secrets, seen_tokens)
  H.truthy(#seen_tokens >= 3, 'the test saw no tokens to look for')
  for where, text in pairs(places) do
    for _, s in ipairs(secrets) do
      if type(text) == 'string' and text:find(s, 1, true) then
        error('a secret is in ' .. where)
      end
    end
  end
end)

H.case('the sidecar pid is known (run.sh checks it is gone after VimLeavePre)', function()
  local pid = require('codex_auth.client').pid()
  H.truthy(pid, 'no sidecar pid')
  local f = assert(io.open(os.getenv('TEST_PIDFILE'), 'w'))
  f:write(tostring(pid))
  f:close()
end)

H.finish()
