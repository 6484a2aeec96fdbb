-- One bench run: the plugin's load time (plugin/ sourced, setup{}) and
-- the first status() (sidecar spawn, initialize, account/read), in ms,
-- appended to $BENCH_OUT as "load status".

local root = assert(os.getenv('TEST_ROOT'))
local hr = (vim.uv or vim.loop).hrtime

local t0 = hr()
vim.opt.runtimepath:append(root)
vim.cmd('runtime plugin/codex_auth.lua')
local codex = require('codex_auth')
codex.setup({ server_path = os.getenv('CODEX_AUTH_BIN') })
local t1 = hr()
local status, err = codex.status()
local t2 = hr()

local f = assert(io.open(assert(os.getenv('BENCH_OUT')), 'a'))
if not status or not status.account then
  f:write('error ' .. tostring(err or 'signed out') .. '\n')
else
  f:write(string.format('%.3f %.3f\n', (t1 - t0) / 1e6, (t2 - t1) / 1e6))
end
f:close()
vim.cmd('qall!')
