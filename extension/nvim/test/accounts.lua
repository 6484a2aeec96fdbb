-- Several saved accounts: the plugin, the real codex-auth sidecar, the
-- local issuer (two users) and the real Codex CLI, in one headless Neovim.
-- run.sh sets the environment (HOME, CODEX_HOME, CODEX_AUTH_ISSUER, ...).

local root = assert(os.getenv('TEST_ROOT'))
vim.opt.runtimepath:append(root)
package.path = root .. '/test/?.lua;' .. package.path

local H = require('harness')
local L = vim.log.levels

local BASE = assert(os.getenv('TEST_ISSUER'))
local HOME = assert(os.getenv('CODEX_HOME'))
local DEV = 'dev@example.com' -- the issuer's first user
local BOB = 'bob@example.com' -- its second (run.sh: --user bob@example.com:team:ws-bob)
local API_KEY = 'sk-proj-nvimmany' .. string.rep('m', 24) .. 'Qz7pA'
local HINT = API_KEY:sub(1, 8) .. '***' .. API_KEY:sub(-5)
H.secret(API_KEY)

local codex
local ids = {}

local function json_file(path)
  local s = H.read(path)
  return s and vim.json.decode(s)
end
local function auth_json()
  return json_file(HOME .. '/auth.json')
end
local function saved_copy(id)
  return HOME .. '/account-sessions/' .. id .. '/auth.json'
end
-- How the Codex CLI reads auth.json.
local function codex_sees()
  return vim.fn.system({ 'sh', '-c', '"$CODEX_BIN" login status 2>&1' })
end
local function switched(account)
  local err, list = H.await(10000, function(done)
    codex.switch(account, done)
  end, 'switch(' .. account .. ')')
  H.eq(err, nil, 'switch error')
  return list
end
local function by_email(list, email)
  for _, a in ipairs(list.sessions) do
    if a.email == email then
      return a
    end
  end
end

H.case('setup; the commands exist', function()
  vim.cmd('runtime plugin/codex_auth.lua')
  for _, c in ipairs({ 'CodexAccounts', 'CodexSwitch' }) do
    H.eq(vim.fn.exists(':' .. c), 2, ':' .. c .. ' exists')
  end
  codex = require('codex_auth')
  codex.setup({ server_path = os.getenv('CODEX_AUTH_BIN'), log_level = 'debug', open_url = function()
    return false
  end })
  local list, err = codex.accounts()
  H.truthy(list, 'accounts(): ' .. tostring(err))
  H.eq(#list.sessions, 0, 'no saved account at first')
  H.eq(list.activeSessionId, nil, 'activeSessionId (nil, never vim.NIL)')
end)

H.case('an API key and two ChatGPT users: three saved accounts, the last one active', function()
  local err = H.await(5000, function(done)
    codex.login('apikey', { api_key = API_KEY }, done)
  end, 'the API-key login')
  H.eq(err, nil, 'API-key login')
  H.next_user(BASE, DEV)
  H.device_login(codex, BASE, HOME)
  H.next_user(BASE, BOB)
  H.device_login(codex, BASE, HOME)
  local list = H.truthy(codex.accounts(), 'accounts()')
  H.eq(#list.sessions, 3, 'saved accounts')
  for _, a in ipairs(list.sessions) do
    H.truthy(a.sessionId:match('^[A-Za-z0-9._-]+$') and #a.sessionId <= 64, 'unsafe session id ' .. a.sessionId)
    ids[a.email or 'key'] = a.sessionId
  end
  H.truthy(ids[DEV] and ids[BOB] and ids.key, 'ids of dev, bob and the key: ' .. vim.inspect(ids))
  H.eq(list.activeSessionId, ids[BOB], 'bob, signed in last, is active')
  H.eq(by_email(list, BOB).type, 'chatgpt', "bob's type")
  H.eq(by_email(list, BOB).planType, 'team', "bob's plan")
  H.eq(codex.statusline(), BOB, 'statusline()')
  for _, a in ipairs(list.sessions) do
    if a.type == 'apiKey' then
      H.eq(a.apiKeyHint, HINT, 'the key hint')
    end
  end
end)

H.case(':CodexAccounts lists them, the active one marked', function()
  local from = #H.notes
  vim.cmd('CodexAccounts')
  local n = H.wait_note('Codex accounts:', L.INFO, from, 3000)
  local lines = vim.split(n.msg, '\n')
  H.eq(#lines, 4, 'a title and three accounts: ' .. n.msg)
  H.truthy(lines[2]:find('* ' .. BOB .. ' (ChatGPT, team) [active]', 1, true), 'the first is bob, active: ' .. lines[2])
  H.truthy(n.msg:find('  ' .. HINT .. ' (API key)', 1, true), 'the key is listed: ' .. n.msg)
  H.truthy(n.msg:find('  ' .. DEV .. ' (ChatGPT, plus)', 1, true), 'dev is listed: ' .. n.msg)
  H.truthy(n.msg:find(ids.key, 1, true), 'the session ids are shown')
end)

H.case(':CodexSwitch completes the emails and the session ids', function()
  local all = vim.fn.getcompletion('CodexSwitch ', 'cmdline')
  for _, want in ipairs({ DEV, BOB, ids[DEV], ids[BOB], ids.key }) do
    H.truthy(vim.tbl_contains(all, want), 'completion lacks ' .. want .. ': ' .. vim.inspect(all))
  end
  H.eq(#all, 5, 'two emails and three ids: ' .. vim.inspect(all))
  H.eq(table.concat(vim.fn.getcompletion('CodexSwitch bo', 'cmdline'), ' '), BOB, 'completion of "bo"')
  H.eq(table.concat(vim.fn.getcompletion('CodexLogout de', 'cmdline'), ' '), DEV, ':CodexLogout completes too')
end)

H.case(':CodexSwitch EMAIL: auth.json, the Codex CLI and the statusline follow', function()
  local from = #H.notes
  vim.cmd('CodexSwitch ' .. DEV)
  H.wait_note('now using ' .. vim.pesc(DEV), L.INFO, from, 10000)
  H.wait(5000, function()
    return codex.statusline() == DEV
  end, 'statusline() ' .. DEV .. ', it says ' .. codex.statusline())
  local copy = json_file(saved_copy(ids[DEV]))
  H.truthy(copy and auth_json().tokens.access_token == copy.tokens.access_token, "auth.json holds dev's saved tokens")
  H.truthy(codex_sees():find('ChatGPT', 1, true), 'codex login status: ' .. codex_sees())
  H.eq(H.find_note('.', L.WARN, from), nil, 'a switch is no warning')
  H.eq(H.find_note('.', L.ERROR, from), nil, 'no error')
end)

H.case(':CodexSwitch without an argument asks with vim.ui.select', function()
  local offered, labels
  local select = vim.ui.select
  vim.ui.select = function(items, opts, on_choice)
    offered, labels = items, {}
    for _, it in ipairs(items) do
      table.insert(labels, opts.format_item(it))
    end
    for _, it in ipairs(items) do
      if it.type == 'apiKey' then
        return on_choice(it, 1)
      end
    end
    on_choice(nil)
  end
  local from = #H.notes
  local ok, err = pcall(vim.cmd, 'CodexSwitch')
  H.truthy(ok, tostring(err))
  H.wait_note('now using ' .. vim.pesc(HINT), L.INFO, from, 10000)
  vim.ui.select = select
  H.eq(#offered, 3, 'three accounts offered')
  H.eq(labels[1], DEV .. ' (ChatGPT, plus) [active]', 'the active one first')
  H.wait(5000, function()
    return codex.statusline() == 'API key'
  end, 'statusline() API key, it says ' .. codex.statusline())
  H.truthy(auth_json().OPENAI_API_KEY == API_KEY, 'auth.json holds the key')
  H.truthy(codex_sees():find('API key', 1, true), 'codex login status: ' .. codex_sees())
end)

H.case('many switches by id and email: Codex follows each, nothing is revoked', function()
  local before = H.issuer_stats(BASE)
  for _ = 1, 2 do
    for _, step in ipairs({ { BOB, BOB, 'ChatGPT' }, { ids.key, 'API key', 'API key' }, { ids[DEV], DEV, 'ChatGPT' } }) do
      local list = switched(step[1])
      H.eq(list.activeSessionId, step[1] == BOB and ids[BOB] or step[1], 'activeSessionId after the switch')
      H.truthy(codex_sees():find(step[3], 1, true), 'codex login status after switching to ' .. step[2])
      H.wait(5000, function()
        return codex.statusline() == step[2]
      end, 'statusline() ' .. step[2] .. ', it says ' .. codex.statusline())
    end
  end
  local after = H.issuer_stats(BASE)
  H.eq(after.revocations, before.revocations, 'revocations')
  H.eq(after.reuse_detections, 0, 'reuse detections')
end)

H.case('token() of an inactive account is its saved copy', function()
  local active = H.read(HOME .. '/auth.json')
  local err, tok = H.await(5000, function(done)
    codex.token(done, { session_id = ids[BOB] })
  end, 'token(bob)')
  H.eq(err, nil, 'token error')
  H.eq(tok.type, 'chatgpt', 'token type')
  local copy = json_file(saved_copy(ids[BOB]))
  H.truthy(tok.accessToken == copy.tokens.access_token, "the token is bob's saved one")
  H.eq(tok.accountId, 'ws-bob', "bob's workspace")
  H.eq(H.read(HOME .. '/auth.json'), active, 'the active record is untouched')
  H.secret(tok.accessToken)
end)

H.case('an unknown account: ERROR naming it, nothing changes', function()
  local active = H.read(HOME .. '/auth.json')
  local from = #H.notes
  local err = H.await(5000, function(done)
    codex.switch('nobody@example.com', done)
  end, 'switch(nobody)')
  H.truthy(type(err) == 'string' and err:find('nobody@example.com', 1, true), 'the error names it: ' .. tostring(err))
  H.wait_note('switching accounts failed', L.ERROR, from, 1000)
  H.eq(H.read(HOME .. '/auth.json'), active, 'auth.json unchanged')
end)

H.case(':CodexLogout EMAIL signs one saved account out; the active one stays', function()
  local active = H.read(HOME .. '/auth.json')
  local from = #H.notes
  vim.cmd('CodexLogout ' .. BOB)
  H.wait_note('signed out of ' .. vim.pesc(BOB), L.INFO, from, 5000)
  H.eq(vim.loop.fs_stat(saved_copy(ids[BOB])), nil, "bob's saved copy")
  H.eq(H.read(HOME .. '/auth.json'), active, 'the active record is untouched')
  local list = codex.accounts()
  H.eq(#list.sessions, 2, 'saved accounts left')
  H.eq(by_email(list, BOB), nil, 'bob is gone')
  H.eq(list.activeSessionId, ids[DEV], 'dev is still active')
end)

H.case('codex logout of the active account drops its saved copy; the key stays', function()
  local from = #H.notes
  H.eq(H.run({ 'sh', '-c', '"$CODEX_BIN" logout >/dev/null 2>&1' }), 0, 'codex logout')
  H.wait_note('Run :CodexLogin to sign in again', L.WARN, from)
  H.wait(5000, function()
    local l = codex.accounts()
    return l and #l.sessions == 1
  end, 'one saved account left')
  local list = codex.accounts()
  H.eq(list.activeSessionId, nil, 'no active account')
  H.eq(list.sessions[1].sessionId, ids.key, 'the key is left')
  H.eq(vim.loop.fs_stat(saved_copy(ids[DEV])), nil, "dev's saved copy")
  switched(ids.key)
  H.wait(5000, function()
    return codex.statusline() == 'API key'
  end, 'statusline() API key, it says ' .. codex.statusline())
end)

H.case('no secret in messages, notifications or the log', H.no_secret_shown)

H.finish()
