-- Argo CD health of mtd.operator.dev/MTDConnector, read from the operator's kstatus
-- conditions (Ready, Reconciling, Stalled). Written for Argo CD's default sandbox: only
-- the base, table and package libraries (no string, math or os).
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

-- Until the operator has written a status for this generation, the status says nothing
-- about the spec Argo CD just applied.
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

-- spec.suspend: no calls are made; Ready says so with the reason Suspended.
if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = ready.message
  return hs
end

-- Stalled: only a person can fix it (wrong secret, TenantAlreadyManaged, ...).
local stalled = condition("Stalled")
if isTrue(stalled) then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end

-- Reconciling: throttled, a transient failure, waiting for the clouds.
local reconciling = condition("Reconciling")
if isTrue(reconciling) then
  hs.status = "Progressing"
  hs.message = reconciling.message
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  -- The Protect app never fails Ready (the connector itself is configured and the
  -- partner healthy), and it often waits on a console step that no retry makes: say so
  -- in the message instead of holding the application in Progressing.
  local app = condition("ProtectAppReady")
  if app ~= nil and app.status == "False" then
    hs.message = ready.message .. "; Protect app not ready (" .. tostring(app.reason) .. "): " .. tostring(app.message)
  end
  return hs
end

-- Ready=False with neither Reconciling nor Stalled: the operator is not working on it
-- (partner not enabled, heartbeat stale, drift under ObserveOnly), so a person must look.
if ready.status == "False" then
  hs.status = "Degraded"
  hs.message = ready.message
  return hs
end

hs.status = "Progressing"
hs.message = ready.message
return hs
