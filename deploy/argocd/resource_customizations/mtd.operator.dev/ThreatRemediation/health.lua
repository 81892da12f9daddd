-- Argo CD health of mtd.operator.dev/ThreatRemediation, read from status.phase and the
-- operator's kstatus conditions (Ready, Reconciling, Stalled). Written for Argo CD's
-- default sandbox: only the base, table and package libraries (no string, math or os).
local hs = {}

local function condition(t)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == t then
      return c
    end
  end
  return nil
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

local function readyMessage(fallback)
  local ready = condition("Ready")
  if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
    return ready.message
  end
  return fallback
end

-- An ended remediation is never reconciled again, so its phase decides before any
-- generation check: Resolved is Healthy; Failed and Expired need a person.
local phase = nil
if obj.status ~= nil then
  phase = obj.status.phase
end
if phase == "Resolved" then
  hs.status = "Healthy"
  hs.message = readyMessage("Resolved")
  return hs
end
if phase == "Failed" or phase == "Expired" then
  hs.status = "Degraded"
  hs.message = readyMessage(phase)
  return hs
end

local generation = obj.metadata.generation
local observed = nil
if obj.status ~= nil then
  observed = obj.status.observedGeneration
end
if observed ~= nil and generation ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation) .. " (status is of generation " .. tostring(observed) .. ")"
  return hs
end
local ready = condition("Ready")
if observed == nil or ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator's first status"
  return hs
end

-- Stalled on an open remediation: the plan was edited after a step ran (PlanChanged).
local stalled = condition("Stalled")
if isTrue(stalled) then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end

-- A step that needs an approval waits for a person other than the plan's writer, as a
-- paused rollout waits for its promotion: nothing moves until someone decides.
if ready.reason == "AwaitingApproval" then
  hs.status = "Suspended"
  hs.message = ready.message
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end

-- Open (Pending, Blocked, AwaitingUser, Escalated), or waiting for the connector, a
-- device snapshot or the hourly cap on destructive actions.
hs.status = "Progressing"
hs.message = ready.message
return hs
