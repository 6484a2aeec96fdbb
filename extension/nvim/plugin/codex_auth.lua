-- :CodexLogin, :CodexStatus, :CodexLogout, :CodexAccounts, :CodexSwitch.
-- Loading this file starts nothing: the sidecar starts on first use.

if vim.g.loaded_codex_auth then
  return
end
vim.g.loaded_codex_auth = true

vim.api.nvim_create_user_command('CodexLogin', function(o)
  local method = o.args ~= '' and o.args or nil
  require('codex_auth').login(method)
end, {
  nargs = '?',
  complete = function()
    return { 'browser', 'device', 'apikey' }
  end,
  desc = 'Sign in to Codex (browser, device code or API key)',
})

vim.api.nvim_create_user_command('CodexStatus', function()
  local codex = require('codex_auth')
  local status, err = codex.status()
  local level = vim.log.levels.INFO
  local msg
  if not status then
    msg, level = 'status unavailable: ' .. tostring(err), vim.log.levels.ERROR
  else
    local a = status.account
    if not a then
      msg = 'signed out (:CodexLogin to sign in)'
    elseif a.type == 'apiKey' then
      msg = 'signed in with an API key ' .. tostring(a.apiKeyHint or '')
    else
      msg = string.format('signed in as %s (plan %s, workspace %s%s)', tostring(a.email), tostring(a.planType),
        tostring(a.workspaceId), a.expiresAt and (', token until ' .. a.expiresAt) or '')
    end
    if status.store then
      msg = msg .. string.format('\nstore: %s, %s', tostring(status.store.mode), tostring(status.store.location))
    end
    local saved = require('codex_auth.state').accounts
    local others = 0
    for _, x in ipairs(saved and saved.sessions or {}) do
      if x.sessionId ~= saved.activeSessionId then
        others = others + 1
      end
    end
    if others > 0 then
      msg = msg .. string.format('\n%d other saved account%s (:CodexSwitch)', others, others == 1 and '' or 's')
    end
    if status.problem then
      msg, level = msg .. '\nproblem: ' .. status.problem, vim.log.levels.WARN
    end
  end
  vim.notify('Codex: ' .. msg, level, { title = 'Codex' })
end, { nargs = 0, desc = 'Show the Codex sign-in state' })

local function complete_account(arglead)
  return require('codex_auth.accounts').complete(arglead)
end

vim.api.nvim_create_user_command('CodexLogout', function(o)
  local account = o.args ~= '' and o.args or nil
  require('codex_auth').logout(nil, account and { account = account } or nil)
end, {
  nargs = '?',
  complete = complete_account,
  desc = 'Sign out of Codex (here and in the Codex CLI), or out of one saved account',
})

vim.api.nvim_create_user_command('CodexAccounts', function()
  local list, err = require('codex_auth').accounts()
  if not list then
    vim.notify('Codex: cannot list the accounts: ' .. tostring(err), vim.log.levels.ERROR, { title = 'Codex' })
    return
  end
  local lines = require('codex_auth.accounts').lines(list)
  vim.notify('Codex accounts:\n' .. table.concat(lines, '\n'), vim.log.levels.INFO, { title = 'Codex' })
end, { nargs = 0, desc = 'List the saved Codex accounts' })

vim.api.nvim_create_user_command('CodexSwitch', function(o)
  require('codex_auth').switch(o.args ~= '' and o.args or nil)
end, {
  nargs = '?',
  complete = complete_account,
  desc = 'Switch the Codex account (here, in the other editors and the Codex CLI)',
})
