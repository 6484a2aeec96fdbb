-- accountSession/updated: the saved accounts the plugin keeps (cached_accounts(),
-- :CodexSwitch's completion, :CodexStatus) follow every change, even one no
-- other notification tells: the codex-auth CLI signing an inactive account
-- out of the same CODEX_HOME. The real sidecar, the local issuer (two users)
-- and the real codex-auth CLI, in one headless Neovim (run.sh sets the
-- environment).

local root = assert(os.getenv('TEST_ROOT'))
vim.opt.runtimepath:append(root)
package.path = root .. '/test/?.lua;' .. package.path

local H = require('harness')
local L = vim.log.levels

local BASE = assert(os.getenv('TEST_ISSUER'))
local HOME = assert(os.getenv('CODEX_HOME'))
local DEV = 'dev@example.com'
local BOB = 'bob@example.com'

local codex
local state = require('codex_auth.state')
local ids = {}

-- User CodexAccountsChanged, each with cached_accounts() as the callback
-- saw it (and the autocmd's data on 0.8+).
local events = {}
vim.api.nvim_create_autocmd('User', {
  pattern = 'CodexAccountsChanged',
  callback = function(ev)
    table.insert(events, { list = codex.cached_accounts(), data = ev.data })
  end,
})

local function emails(list)
  local out = {}
  for _, a in ipairs(list and list.sessions or {}) do
    table.insert(out, a.email or a.sessionId)
  end
  table.sort(out)
  return table.concat(out, ',')
end
local function has(list, email)
  for _, a in ipairs(list and list.sessions or {}) do
    if a.email == email then
      return true
    end
  end
  return false
end
-- The list without lastUsedAt (a use alone is no change), for comparing.
local function shown(list)
  local copy = vim.deepcopy(list)
  for _, a in ipairs(copy and copy.sessions or {}) do
    a.lastUsedAt = nil
  end
  return vim.inspect(copy)
end

H.case('setup; two ChatGPT users signed in: the cached list and the event follow', function()
  vim.cmd('runtime plugin/codex_auth.lua')
  codex = require('codex_auth')
  codex.setup({ server_path = os.getenv('CODEX_AUTH_BIN'), log_level = 'debug', open_url = function()
    return false
  end })
  H.truthy(codex.accounts(), 'accounts()')
  H.next_user(BASE, DEV)
  H.device_login(codex, BASE, HOME)
  H.next_user(BASE, BOB)
  H.device_login(codex, BASE, HOME)
  local list = H.truthy(codex.accounts(), 'accounts()')
  H.eq(emails(list), BOB .. ',' .. DEV, 'saved accounts')
  for _, a in ipairs(list.sessions) do
    ids[a.email] = a.sessionId
  end
  H.eq(list.activeSessionId, ids[BOB], 'bob, signed in last, is active')
  H.wait(5000, function()
    return shown(codex.cached_accounts()) == shown(list)
  end, 'cached_accounts() to be the list: ' .. vim.inspect(codex.cached_accounts()))
  H.truthy(#events > 0, 'User CodexAccountsChanged fired')
  H.eq(shown(events[#events].list), shown(list), 'the last event saw the list')
end)

H.case('cached_accounts() is a copy; a list that did not change fires nothing', function()
  local c = codex.cached_accounts()
  c.sessions[1] = nil
  H.eq(#codex.cached_accounts().sessions, 2, 'the cache after changing a copy')
  local n = #events
  H.truthy(codex.accounts(), 'accounts()')
  vim.cmd('CodexStatus')
  H.eq(#events, n, 'events after asking again for the same list')
end)

H.case('the CLI signs the inactive account out: the event fires without it, the cache drops it', function()
  H.truthy(has(state.accounts, DEV), 'dev is cached before: ' .. vim.inspect(state.accounts))
  H.truthy(vim.tbl_contains(vim.fn.getcompletion('CodexSwitch ', 'cmdline'), DEV), ':CodexSwitch completes dev before')
  local active = H.read(HOME .. '/auth.json')
  local before = H.issuer_stats(BASE)
  local n, from = #events, #H.notes
  -- Outside the plugin: the codex-auth CLI, on the same CODEX_HOME (the
  -- job inherits Neovim's environment: CODEX_HOME, CODEX_AUTH_ISSUER, ...).
  H.eq(H.run({ 'sh', '-c', '"$CODEX_AUTH_BIN" logout --account ' .. DEV .. ' >/dev/null 2>&1' }), 0,
    'codex-auth logout --account ' .. DEV)
  H.eq(H.read(HOME .. '/auth.json'), active, 'the active record is untouched')
  H.truthy(H.issuer_stats(BASE).revocations > before.revocations, "dev's tokens were revoked")
  local ev
  H.wait(10000, function()
    for i = n + 1, #events do
      if not has(events[i].list, DEV) then
        ev = events[i]
        return true
      end
    end
    return false
  end, 'User CodexAccountsChanged without ' .. DEV .. '; events since: ' .. vim.inspect(vim.list_slice(events, n + 1)))
  H.eq(emails(ev.list), BOB, 'the accounts the event saw')
  H.eq(ev.list.activeSessionId, ids[BOB], 'bob is still active')
  if vim.fn.has('nvim-0.8') == 1 then
    H.eq(shown(ev.data.accounts), shown(ev.list), "the autocmd's data")
  end
  H.eq(emails(state.accounts), BOB, 'the cached list')
  H.eq(emails(codex.cached_accounts()), BOB, 'cached_accounts()')
  H.eq(table.concat(vim.fn.getcompletion('CodexSwitch ', 'cmdline'), ' '), BOB .. ' ' .. ids[BOB],
    ':CodexSwitch completes the cached list')
  H.eq(codex.statusline(), BOB, 'statusline()')
  H.eq(H.find_note('.', L.WARN, from), nil, 'an inactive account signed out elsewhere is no warning')
  H.eq(H.find_note('.', L.ERROR, from), nil, 'no error')
  H.eq(shown(codex.accounts()), shown(state.accounts), "the sidecar's list is the cached one")
end)

H.case('a reply to a request sent before an accountSession/updated does not replace it', function()
  -- The sidecar sends notifications in order, each reply after the
  -- notifications sent before it: the notification is the newer. Here it
  -- is handed to the plugin while the request is in flight (the reply's
  -- callback cannot run before this function yields).
  local real = H.truthy(codex.accounts(), 'accounts()')
  H.eq(shown(state.accounts), shown(real), 'the cache before')
  local pushed = vim.deepcopy(real)
  pushed.sessions[1].displayName = 'Pushed Name'
  local done
  require('codex_auth.accounts').list(function(err, list)
    done = { err = err, list = list }
  end)
  require('codex_auth.auth').on_notification('accountSession/updated', vim.deepcopy(pushed))
  H.wait(5000, function()
    return done ~= nil
  end, 'the list reply')
  H.eq(done.err, nil, 'list error')
  H.eq(shown(done.list), shown(real), "the reply is the sidecar's list")
  H.eq(shown(state.accounts), shown(pushed), 'the cache keeps the notification')
  H.eq(state.accounts.sessions[1].displayName, 'Pushed Name', 'the cached name')
  -- Params with no list are ignored; a request sent after it is cached.
  require('codex_auth.auth').on_notification('accountSession/updated', {})
  H.eq(shown(state.accounts), shown(pushed), 'the cache after params with no list')
  H.truthy(codex.accounts(), 'accounts()')
  H.eq(shown(state.accounts), shown(real), 'the cache after a new request')
end)

H.case('no secret in messages, notifications or the log', H.no_secret_shown)

H.finish()
