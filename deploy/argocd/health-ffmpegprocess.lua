-- Argo CD health check of an FFmpegProcess (ffmpeg-operator.io/v1alpha1).
-- Reads status.conditions as the operator writes them:
--   ConfigValid False, Stalled True or LimitExceeded True -> Degraded
--   Running True                                          -> Healthy
--   desiredState stopped (and the operator has seen it)   -> Suspended
--   anything else, or a status older than the spec       -> Progressing
local hs = { status = "Progressing", message = "Waiting for the operator" }

local function condition(conditions, kind)
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return c.type .. ": " .. c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.type .. ": " .. c.reason
  end
  return c.type
end

local status = obj.status
if status == nil or status.conditions == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil
    and status.observedGeneration < generation then
  hs.message = "The operator has not seen the latest spec yet"
  return hs
end

local conditions = status.conditions
local config = condition(conditions, "ConfigValid")
if config ~= nil and config.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(config)
  return hs
end
for _, kind in ipairs({ "Stalled", "LimitExceeded" }) do
  local c = condition(conditions, kind)
  if c ~= nil and c.status == "True" then
    hs.status = "Degraded"
    hs.message = describe(c)
    return hs
  end
end

local running = condition(conditions, "Running")
if running ~= nil and running.status == "True" then
  hs.status = "Healthy"
  hs.message = "ffmpeg is running"
  return hs
end
if obj.spec ~= nil and obj.spec.desiredState == "stopped" and status.order == "stop" then
  hs.status = "Suspended"
  hs.message = "Stopped (desiredState: stopped)"
  return hs
end
if running ~= nil then
  hs.message = describe(running)
end
return hs
