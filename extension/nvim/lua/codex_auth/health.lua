-- :checkhealth codex_auth

local M = {}

-- The health API of this Neovim: vim.health.start/ok/... (0.10+),
-- vim.health.report_* (0.8, 0.9) or health#report_* (0.7).
local function reporter()
  local h = vim.health
  if h and h.start then
    return h
  end
  if h and h.report_start then
    return { start = h.report_start, ok = h.report_ok, warn = h.report_warn, error = h.report_error,
      info = h.report_info }
  end
  local function fn(name)
    return function(msg, advice)
      if advice ~= nil then
        vim.fn['health#report_' .. name](msg, advice)
      else
        vim.fn['health#report_' .. name](msg)
      end
    end
  end
  return { start = fn('start'), ok = fn('ok'), warn = fn('warn'), error = fn('error'), info = fn('info') }
end

function M.check()
  local h = reporter()
  local client = require('codex_auth.client')
  local config = require('codex_auth.config')

  h.start('codex-auth binary')
  local bin = config.server_path()
  local path = vim.fn.exepath(bin)
  if path == '' then
    h.error(string.format('%s not found', bin), {
      'go install github.com/codex-auth/codex-auth/cmd/codex-auth@latest',
      'or download a `make dist` archive and put codex-auth on PATH',
      "or set require('codex_auth').setup{server_path = '/path/to/codex-auth'}",
    })
    return
  end
  local out = vim.fn.system({ path, 'version' })
  if vim.v.shell_error ~= 0 then
    h.error(string.format('%s version failed: %s', path, vim.trim(out)))
  else
    h.ok(string.format('%s (%s)', path, vim.trim(out)))
  end
  h.info('log: ' .. config.log_file() .. ' (level ' .. config.get().log_level .. ')')

  h.start('protocol')
  if not client.ensure_started(5000) then
    h.error('the sidecar did not start: ' .. tostring(client.error or client.state),
      { 'run `' .. path .. ' serve` in a shell to see why', 'see the log: ' .. config.log_file() })
    return
  end
  local info = client.server.capabilities.experimental.codexAuth
  h.ok(string.format('protocol version %s accepted by %s %s', tostring(info.protocolVersion),
    tostring(client.server.serverInfo and client.server.serverInfo.name),
    tostring(client.server.serverInfo and client.server.serverInfo.version)))

  h.start('account')
  local status, err = require('codex_auth').status()
  if not status then
    h.error('account/read failed: ' .. tostring(err))
    return
  end
  local a = status.account
  if not a then
    h.warn('signed out', { ':CodexLogin (browser), :CodexLogin device (over SSH) or :CodexLogin apikey' })
  elseif a.type == 'apiKey' then
    h.ok('signed in with an API key ' .. tostring(a.apiKeyHint or ''))
  else
    h.ok(string.format('signed in as %s (plan %s, workspace %s)', tostring(a.email), tostring(a.planType),
      tostring(a.workspaceId)))
  end
  local list = require('codex_auth.accounts').list_sync(2000)
  if list then
    h.info(string.format('saved accounts: %d (:CodexAccounts, :CodexSwitch)', #list.sessions))
  end
  local store = status.store or {}
  h.ok(string.format('store: %s, %s', tostring(store.mode), tostring(store.location)))
  if store.fallback then
    h.warn('store fell back to the file: ' .. store.fallback)
  end
  if status.issuer then
    h.info('issuer: ' .. status.issuer)
  end
  local policy = status.policy or {}
  if policy.forcedLoginMethod then
    h.info('managed policy: sign-in method ' .. policy.forcedLoginMethod)
  end
  if policy.forcedWorkspaceIds and #policy.forcedWorkspaceIds > 0 then
    h.info('managed policy: workspaces ' .. table.concat(policy.forcedWorkspaceIds, ', '))
  end
  if status.problem then
    h.error('problem: ' .. status.problem, { ':CodexLogin to sign in again' })
  end
end

return M
