-- Where a browser can be shown, and opening a URL in it.

local config = require('codex_auth.config')

local M = {}

local function env(name)
  local v = vim.env[name]
  return v ~= nil and v ~= ''
end

local function is_mac()
  return vim.fn.has('mac') == 1 or vim.fn.has('macunix') == 1
end

local function is_windows()
  return vim.fn.has('win32') == 1
end

local function is_wsl()
  return vim.fn.has('wsl') == 1 or env('WSL_DISTRO_NAME')
end

--- True when a browser opened on this machine is seen by the user: not in
--- an SSH session, and a graphical display (X11 or Wayland), macOS,
--- Windows or WSL.
function M.has_display()
  if env('SSH_CONNECTION') then
    return false
  end
  return is_mac() or is_windows() or is_wsl() or env('DISPLAY') or env('WAYLAND_DISPLAY')
end

--- The sign-in :CodexLogin uses without an argument.
function M.default_method()
  return M.has_display() and 'browser' or 'device'
end

-- The system opener, or nil.
local function opener()
  if is_mac() then
    return 'open'
  end
  if is_windows() then
    return nil -- handled with rundll32 below
  end
  for _, exe in ipairs({ 'wslview', 'xdg-open' }) do
    if (exe ~= 'wslview' or is_wsl()) and vim.fn.executable(exe) == 1 then
      return exe
    end
  end
  return nil
end

-- The default open_url: vim.ui.open (0.10+), else the system opener where
-- there is a display. Returns true when a browser was started.
local function default_open(url)
  if vim.ui.open and M.has_display() then
    local ok, cmd, err = pcall(vim.ui.open, url)
    return ok and cmd ~= nil and err == nil
  end
  if not M.has_display() then
    return false
  end
  local argv
  if is_windows() then
    argv = { 'rundll32', 'url.dll,FileProtocolHandler', url }
  else
    local exe = opener()
    if not exe then
      return false
    end
    argv = { exe, url }
  end
  local ok, job = pcall(vim.fn.jobstart, argv, { detach = true })
  return ok and job > 0
end

--- Opens url with the configured open_url (or the default). Returns true
--- when it was opened; never raises.
function M.open(url)
  local fn = config.get().open_url or default_open
  local ok, opened = pcall(fn, url)
  if not ok then
    return false
  end
  -- A user function that returns nothing is taken to have opened it.
  return opened ~= false
end

return M
