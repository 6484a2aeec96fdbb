-- A tiny test harness for headless Neovim: cases run in order, each
-- reports PASS/FAIL on stdout and in $TEST_RESULTS; vim.notify is
-- captured; waits are on conditions (vim.wait), never fixed sleeps.

local H = {}

local results_file = assert(os.getenv('TEST_RESULTS'), 'TEST_RESULTS is not set')
local passed, failed = 0, 0
-- Strings that must never be printed (secrets): replaced in every report.
local secrets = {}

-- The leak scan's folder (run.sh sets it from CODEX_AUTH_SCAN_DIR), or nil.
local scan_dir = os.getenv('TEST_SCAN_DIR')
if scan_dir == '' then
  scan_dir = nil
end

--- Appends text to a file in the scan folder (nothing without one).
local function to_scan(file, text)
  if not scan_dir then
    return
  end
  local path = scan_dir .. '/' .. file
  local f = assert(io.open(path, 'a'))
  f:write(text)
  f:close()
  vim.loop.fs_chmod(path, 384) -- 0600
end

function H.secret(s)
  if type(s) == 'string' and #s >= 8 then
    table.insert(secrets, s)
    -- The scan looks for secrets of 16 characters or more.
    if #s >= 16 then
      to_scan('handed.secrets', 'seen by the test\t' .. s .. '\n')
    end
  end
end

local function redact(s)
  s = tostring(s)
  for _, v in ipairs(secrets) do
    s = s:gsub(vim.pesc(v), '<redacted>')
  end
  return s
end
H.redact = redact

local function out(line)
  line = redact(line)
  io.stdout:write(line .. '\n')
  local f = assert(io.open(results_file, 'a'))
  f:write(line .. '\n')
  f:close()
end

-- Globals the plugin reads or writes without defining them (a typo, or a
-- local used before it is in scope): reported by H.finish.
H.stray_globals = {}
local function plugin_caller()
  local info = debug.getinfo(3, 'S')
  return info and info.source:find('/lua/codex_auth/', 1, true) and info.source or nil
end
setmetatable(_G, {
  __index = function(_, k)
    local src = plugin_caller()
    if src then
      H.stray_globals[#H.stray_globals + 1] = 'read ' .. tostring(k) .. ' in ' .. src
    end
  end,
  __newindex = function(t, k, v)
    local src = plugin_caller()
    if src then
      H.stray_globals[#H.stray_globals + 1] = 'write ' .. tostring(k) .. ' in ' .. src
    end
    rawset(t, k, v)
  end,
})

-- Notifications the plugin sent: {msg, level}.
H.notes = {}
vim.notify = function(msg, level)
  table.insert(H.notes, { msg = tostring(msg), level = level or vim.log.levels.INFO })
end

--- The first notification after index `from` whose text matches pattern
--- (a Lua pattern) at level (nil: any). Returns it and its index.
function H.find_note(pattern, level, from)
  for i = (from or 0) + 1, #H.notes do
    local n = H.notes[i]
    if n.msg:find(pattern) and (level == nil or n.level == level) then
      return n, i
    end
  end
end

--- Waits at most ms for such a notification.
function H.wait_note(pattern, level, from, ms)
  local note
  vim.wait(ms or 10000, function()
    note = H.find_note(pattern, level, from)
    return note ~= nil
  end, 20)
  if not note then
    local seen = {}
    for i = (from or 0) + 1, #H.notes do
      table.insert(seen, string.format('[%s] %s', tostring(H.notes[i].level), H.notes[i].msg))
    end
    error(string.format('no notification matching %q (level %s); got: %s', pattern, tostring(level),
      table.concat(seen, ' | ')), 2)
  end
  return note
end

-- User CodexAuthChanged, counted.
H.changed = 0
vim.api.nvim_create_autocmd('User', {
  pattern = 'CodexAuthChanged',
  callback = function()
    H.changed = H.changed + 1
  end,
})

--- Waits at most ms for cond(); errors with what when it never holds.
function H.wait(ms, cond, what)
  if not vim.wait(ms, cond, 20) then
    error('timed out waiting for ' .. what, 2)
  end
end

function H.eq(got, want, what)
  if got ~= want then
    error(string.format('%s: got %s, want %s', what, vim.inspect(got), vim.inspect(want)), 2)
  end
end

function H.truthy(v, what)
  if not v then
    error(what, 2)
  end
  return v
end

--- Runs fn(done) and waits at most ms for the callback it is given:
--- returns the arguments the callback got.
function H.await(ms, fn, what)
  local args
  fn(function(...)
    args = { n = select('#', ...), ... }
  end)
  H.wait(ms, function()
    return args ~= nil
  end, what)
  return unpack(args, 1, args.n)
end

--- Runs a command line (argv) as a job and waits for its exit code.
function H.run(argv, ms)
  local code
  local job = vim.fn.jobstart(argv, {
    on_exit = function(_, c)
      code = c
    end,
  })
  if job <= 0 then
    error('cannot run ' .. argv[1])
  end
  H.wait(ms or 20000, function()
    return code ~= nil
  end, table.concat(argv, ' '))
  return code
end

function H.case(name, fn)
  local t0 = vim.loop.hrtime()
  local ok, err = xpcall(fn, debug.traceback)
  local ms = (vim.loop.hrtime() - t0) / 1e6
  if ok then
    passed = passed + 1
    out(string.format('PASS %s (%d ms)', name, ms))
  else
    failed = failed + 1
    out(string.format('FAIL %s (%d ms): %s', name, ms, tostring(err)))
  end
end

--- Reads a file (nil when absent).
function H.read(path)
  local f = io.open(path, 'r')
  if not f then
    return nil
  end
  local s = f:read('*a')
  f:close()
  return s
end

--- Ends Neovim: exit code 0 when every case passed.
function H.finish()
  H.case('the plugin uses no undefined global', function()
    H.eq(#H.stray_globals, 0, 'undefined globals: ' .. table.concat(H.stray_globals, ', '))
  end)
  local name = os.getenv('TEST_FILE') or 'nvim'
  local notes = {}
  for _, n in ipairs(H.notes) do
    table.insert(notes, string.format('[%s] %s', tostring(n.level), n.msg))
  end
  to_scan(name .. '.messages.log', vim.fn.execute('messages') .. '\n--- notifications\n' .. table.concat(notes, '\n') .. '\n')
  io.stdout:write(string.format('%s: %d passed, %d failed\n', name, passed, failed))
  local f = assert(io.open(results_file, 'a'))
  f:write('DONE ' .. name .. '\n')
  f:close()
  if failed > 0 then
    vim.cmd('cquit 1')
  else
    vim.cmd('qall!')
  end
end

-- Every token of an auth record (a decoded auth.json) is a secret; a
-- returns unchanged.
function H.remember(a)
  if a and type(a.tokens) == 'table' then
    for _, k in ipairs({ 'id_token', 'access_token', 'refresh_token' }) do
      H.secret(a.tokens[k])
    end
  end
  return a
end

-- The local issuer at base: its counters, and who signs in next.
function H.issuer_stats(base)
  return vim.json.decode(vim.fn.system({ 'curl', '-sf', base .. '/debug/stats' }))
end
function H.next_user(base, email)
  H.eq(H.run({ 'curl', '-sf', '-o', '/dev/null', '-d', vim.json.encode({ email = email }), base .. '/debug/user' }), 0,
    'POST /debug/user ' .. email)
end

-- A device login through the plugin codex, approved at the issuer at base
-- as its current user; the new auth.json in home is remembered as secret.
function H.device_login(codex, base, home)
  local from = #H.notes
  local result
  codex.login('device', {}, function(err, res)
    result = { err = err, res = res }
  end)
  local note = H.wait_note('enter the code', vim.log.levels.INFO, from)
  local code = note.msg:match('code (%S+) at')
  H.eq(H.run({ 'curl', '-sf', '-o', '/dev/null', '-d', 'user_code=' .. code, base .. '/codex/device' }), 0, 'approving')
  H.wait(15000, function()
    return result ~= nil
  end, 'the device login to end')
  H.eq(result.err, nil, 'device login error')
  local s = H.read(home .. '/auth.json')
  H.remember(s and vim.json.decode(s))
end

-- Fails when a secret is in :messages, the notifications or the plugin's
-- log.
function H.no_secret_shown()
  local text = table.concat({
    vim.fn.execute('messages'),
    table.concat(vim.tbl_map(function(n)
      return n.msg
    end, H.notes), '\n'),
    H.read(require('codex_auth.config').log_file()) or '',
  }, '\n')
  H.truthy(H.redact(text) == text, 'a secret is in the messages, notifications or the log')
end

return H
