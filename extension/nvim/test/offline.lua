-- What needs no issuer: the default sign-in per machine, setup's
-- validation, and a missing binary (loud: statusline, status(),
-- :checkhealth ERROR).

local root = assert(os.getenv('TEST_ROOT'))
vim.opt.runtimepath:append(root)
package.path = root .. '/test/?.lua;' .. package.path

local H = require('harness')
local L = vim.log.levels

vim.cmd('runtime plugin/codex_auth.lua')
local codex = require('codex_auth')

H.case('default sign-in: browser with a display, device over SSH or without one', function()
  local saved = { vim.env.DISPLAY, vim.env.WAYLAND_DISPLAY, vim.env.SSH_CONNECTION }
  local function with(display, ssh)
    vim.env.DISPLAY, vim.env.WAYLAND_DISPLAY, vim.env.SSH_CONNECTION = display, nil, ssh
    return codex.default_method()
  end
  local ok, err = pcall(function()
    H.eq(with(nil, nil), 'device', 'no display, no SSH')
    H.eq(with(':0', nil), 'browser', 'DISPLAY=:0')
    H.eq(with(':0', '10.0.0.1 50000 10.0.0.2 22'), 'device', 'DISPLAY=:0 over SSH')
    H.eq(with(nil, '10.0.0.1 50000 10.0.0.2 22'), 'device', 'SSH without a display')
  end)
  vim.env.DISPLAY, vim.env.WAYLAND_DISPLAY, vim.env.SSH_CONNECTION = saved[1], saved[2], saved[3]
  assert(ok, err)
end)

H.case('setup{} rejects a bad option', function()
  local ok, err = pcall(codex.setup, { log_level = 'loud' })
  H.eq(ok, false, 'setup{log_level="loud"} succeeded')
  H.truthy(tostring(err):find('log_level', 1, true), 'error does not name log_level: ' .. tostring(err))
  ok = pcall(codex.setup, { open_url = 'firefox' })
  H.eq(ok, false, 'setup{open_url="firefox"} succeeded')
end)

H.case(':CodexLogin with an unknown method is an ERROR', function()
  codex.setup({ server_path = os.getenv('CODEX_AUTH_BIN') })
  local from = #H.notes
  vim.cmd('CodexLogin carrier-pigeon')
  H.wait_note('unknown sign%-in method', L.ERROR, from, 1000)
  H.eq(require('codex_auth.client').state, 'stopped', 'sidecar state after a bad :CodexLogin')
end)

H.case('a missing binary: status() fails fast, statusline() warns, login is an ERROR', function()
  codex.setup({ server_path = root .. '/no-such-codex-auth' })
  local t0 = vim.loop.hrtime()
  local s, err = codex.status()
  H.eq(s, nil, 'status() with no binary')
  H.truthy(tostring(err):find('not found', 1, true), 'status() error: ' .. tostring(err))
  H.truthy((vim.loop.hrtime() - t0) / 1e6 < 1000, 'status() waited for a binary that does not exist')
  H.wait(2000, function()
    return codex.statusline() == 'Codex: codex-auth missing'
  end, 'statusline() warning, it says ' .. vim.inspect(codex.statusline()))
  local from = #H.notes
  local e = H.await(2000, function(done)
    codex.login('device', nil, done)
  end, 'login callback')
  H.truthy(e and e:find('not found', 1, true), 'login error: ' .. tostring(e))
  H.wait_note('sign%-in failed: codex%-auth not found', L.ERROR, from, 1000)
end)

H.case(':checkhealth codex_auth with a missing binary is an ERROR with advice', function()
  vim.cmd('checkhealth codex_auth')
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  vim.cmd('bwipeout!')
  H.truthy(text:find('ERROR: ' .. vim.pesc(root .. '/no-such-codex-auth') .. ' not found'), 'no ERROR:\n' .. text)
  H.truthy(text:find('go install github.com/codex-auth/codex-auth/cmd/codex-auth@latest', 1, true),
    'no install advice:\n' .. text)
end)

H.case('the binary found again: the next use starts it', function()
  codex.setup({ server_path = os.getenv('CODEX_AUTH_BIN') })
  local s, err = codex.status()
  H.truthy(s, 'status() after fixing server_path: ' .. tostring(err))
  H.eq(type(s.account), 'nil', 'status().account (signed out)')
  H.wait(2000, function()
    return codex.statusline() == 'signed out'
  end, 'statusline() signed out, it says ' .. vim.inspect(codex.statusline()))
end)

H.case(':help codex_auth: the help file has tags for every command and function', function()
  -- helptags on a copy, so the test writes nothing into the plugin.
  local copy = os.getenv('HOME') .. '/help-copy'
  vim.fn.mkdir(copy .. '/doc', 'p')
  vim.fn.writefile(vim.fn.readfile(root .. '/doc/codex_auth.txt'), copy .. '/doc/codex_auth.txt')
  vim.cmd('helptags ' .. vim.fn.fnameescape(copy .. '/doc'))
  vim.opt.runtimepath:prepend(copy)
  for _, tag in ipairs({ 'codex_auth', ':CodexLogin', ':CodexStatus', ':CodexLogout', 'codex_auth.setup()',
    'codex_auth.status()', 'codex_auth.login()', 'codex_auth.logout()', 'codex_auth.token()',
    'codex_auth.statusline()', 'codex_auth.cached_accounts()', 'CodexAuthChanged', 'CodexAccountsChanged',
    'codex_auth-health' }) do
    vim.cmd('help ' .. tag)
    H.eq(vim.fn.expand('%:t'), 'codex_auth.txt', ':help ' .. tag)
    vim.cmd('helpclose')
  end
end)

H.finish()
