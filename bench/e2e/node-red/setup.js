// System N of the end-to-end benchmark: the job `precall serve` does, written
// the way a team would write it in Node-RED. This is the function node's
// "On Start" code (run.py puts it into flows.json); on_message.js is its
// per-message code. It builds the rule set of bench/e2e/rules.yaml once (same
// rules, thresholds, windows, `for`, `clear`/`clear_for`, select by model,
// silent()), keeps every device's state in memory (no journal, no store:
// Node-RED has none), and emits CONTRACT §3 case events to
// service/{tenant}/cases/{id}, which the flow's MQTT out node publishes at
// QoS 1. Values are three-valued like Precall's: `undefined` is unknown and
// only `true` opens or clears.

const MIN = 60 * 1000;
const SEC = 1000;

// --- three-valued helpers -------------------------------------------------
const known = (v) => v !== undefined;
const gt = (a, b) => (known(a) && known(b) ? a > b : undefined);
const lt = (a, b) => (known(a) && known(b) ? a < b : undefined);
const and = (a, b) => (a === false || b === false ? false : known(a) && known(b) ? true : undefined);
const not = (a) => (known(a) ? !a : undefined);

// --- windows: per device and metric, samples with ts in (now - w, now] ---
function inWindow(dev, metric, w, now) {
  const s = dev.series[metric];
  if (!s) return null;
  let i = s.ts.length;
  while (i > 0 && s.ts[i - 1] > now - w) i--;
  return i < s.ts.length ? { s, from: i } : null;
}
const win = {
  avg(dev, m, w, now) {
    const r = inWindow(dev, m, w, now);
    if (!r) return undefined;
    let sum = 0;
    for (let i = r.from; i < r.s.v.length; i++) sum += r.s.v[i];
    return sum / (r.s.v.length - r.from);
  },
  min(dev, m, w, now) {
    const r = inWindow(dev, m, w, now);
    if (!r) return undefined;
    let x = Infinity;
    for (let i = r.from; i < r.s.v.length; i++) x = Math.min(x, r.s.v[i]);
    return x;
  },
  max(dev, m, w, now) {
    const r = inWindow(dev, m, w, now);
    if (!r) return undefined;
    let x = -Infinity;
    for (let i = r.from; i < r.s.v.length; i++) x = Math.max(x, r.s.v[i]);
    return x;
  },
  stddev(dev, m, w, now) {
    const r = inWindow(dev, m, w, now);
    if (!r) return undefined;
    const n = r.s.v.length - r.from;
    let sum = 0, sq = 0;
    for (let i = r.from; i < r.s.v.length; i++) { sum += r.s.v[i]; sq += r.s.v[i] * r.s.v[i]; }
    const mean = sum / n;
    return Math.sqrt(Math.max(0, sq / n - mean * mean));
  },
  delta(dev, m, w, now) {
    const r = inWindow(dev, m, w, now);
    return r ? r.s.v[r.s.v.length - 1] - r.s.v[r.from] : undefined;
  },
  rate(dev, m, w, now) {
    const r = inWindow(dev, m, w, now);
    if (!r) return undefined;
    const dt = (r.s.ts[r.s.ts.length - 1] - r.s.ts[r.from]) / 1000;
    return dt > 0 ? (r.s.v[r.s.v.length - 1] - r.s.v[r.from]) / dt : undefined;
  },
};
const last = (dev, m) => dev.latest[m];

// --- the rule set: bench/e2e/rules.yaml -----------------------------------
function modelRules(model, p, t) {
  const sel = { model };
  return [
    { name: `${p}_coolant_overheat`, select: sel, names: ['coolant_temp_c', 'engine_rpm'],
      windows: { coolant_temp_c: MIN },
      when: (d, now) => and(gt(win.avg(d, 'coolant_temp_c', MIN, now), 105), gt(last(d, 'engine_rpm'), 800)),
      forMs: 30 * SEC, clear: (d) => lt(last(d, 'coolant_temp_c'), 95), clearForMs: MIN,
      severity: 'critical', diagnosis: 'Coolant overheating under load: radiator core blocked or fan belt slipping',
      skill: 'engine-cooling', parts: [`radiator-core-${model}`, 'fan-belt-8PK'], reopenMs: 10 * MIN },
    { name: `${p}_oil_pressure_low`, select: sel, names: ['oil_pressure_kpa', 'engine_rpm'],
      windows: { oil_pressure_kpa: 30 * SEC },
      when: (d, now) => and(lt(win.min(d, 'oil_pressure_kpa', 30 * SEC, now), 100), gt(last(d, 'engine_rpm'), 600)),
      forMs: 10 * SEC, severity: 'critical',
      diagnosis: 'Engine oil pressure low while running: oil level, pump or pressure sender',
      skill: 'engine-lubrication', parts: ['oil-filter', 'engine-oil-15W40-20L', 'oil-pressure-sender'] },
    { name: `${p}_hydraulic_leak`, select: sel, names: ['hydraulic_oil_level_pct', 'engine_rpm'],
      windows: { hydraulic_oil_level_pct: 10 * MIN },
      when: (d, now) => and(lt(win.delta(d, 'hydraulic_oil_level_pct', 10 * MIN, now), -8), gt(last(d, 'engine_rpm'), 600)),
      severity: 'major', diagnosis: 'Hydraulic oil level falling fast: external leak at hose or cylinder seal',
      skill: 'hydraulics', parts: ['hydraulic-hose-kit', 'cylinder-seal-kit'] },
    { name: `${p}_battery_weak`, select: sel, names: ['battery_v', 'engine_rpm'],
      windows: { battery_v: 10 * MIN },
      when: (d, now) => and(lt(win.max(d, 'battery_v', 10 * MIN, now), 12.0), lt(last(d, 'engine_rpm'), 100)),
      forMs: 5 * MIN, clear: (d) => gt(last(d, 'battery_v'), 12.4),
      severity: 'warning', diagnosis: 'Battery not holding charge with the engine off',
      skill: 'electrical', parts: ['battery-12V-180Ah'] },
    { name: `${p}_fuel_rate_erratic`, select: sel, names: ['fuel_rate_lph'],
      windows: { fuel_rate_lph: 5 * MIN },
      when: (d, now) => gt(win.stddev(d, 'fuel_rate_lph', 5 * MIN, now), 8),
      forMs: MIN, severity: 'warning', diagnosis: 'Fuel rate unstable: injector or fuel pump fault',
      skill: 'fuel-system', parts: ['injector-set', 'fuel-filter'] },
    { name: `${p}_coolant_rising`, select: sel, names: ['coolant_temp_c'],
      windows: { coolant_temp_c: 5 * MIN },
      when: (d, now) => gt(win.rate(d, 'coolant_temp_c', 5 * MIN, now), 1),
      forMs: MIN, severity: 'major',
      diagnosis: 'Coolant temperature climbing fast: thermostat stuck or coolant loss',
      skill: 'engine-cooling', parts: [`thermostat-${model}`] },
    { name: `${p}_oil_pressure_drop`, select: sel, names: ['oil_pressure_kpa'],
      windows: { oil_pressure_kpa: 2 * MIN },
      when: (d, now) => lt(win.delta(d, 'oil_pressure_kpa', 2 * MIN, now), -150),
      forMs: 30 * SEC, severity: 'major', diagnosis: 'Oil pressure dropping: internal leak or worn pump',
      skill: 'engine-lubrication', parts: ['oil-pump'] },
    { name: `${p}_battery_overvolt`, select: sel, names: ['battery_v'],
      windows: { battery_v: MIN },
      when: (d, now) => gt(win.avg(d, 'battery_v', MIN, now), 15.0),
      forMs: 30 * SEC, severity: 'warning', diagnosis: 'Charging voltage too high: alternator regulator fault',
      skill: 'electrical', parts: ['alternator-regulator'] },
    { name: `${p}_fuel_rate_high`, select: sel, names: ['fuel_rate_lph', 'engine_rpm'],
      windows: { fuel_rate_lph: 5 * MIN },
      when: (d, now) => and(gt(win.avg(d, 'fuel_rate_lph', 5 * MIN, now), 60), lt(last(d, 'engine_rpm'), 1000)),
      forMs: 2 * MIN, severity: 'warning',
      diagnosis: 'High fuel burn at low engine speed: leaking injector or return line',
      skill: 'fuel-system', parts: ['fuel-return-line'] },
    { name: `${p}_coolant_sensor`, select: sel, names: [], usesDtc: true,
      when: (d) => d.dtc.some((c) => c.startsWith('SPN110.')),
      severity: 'major', diagnosis: 'Coolant temperature sensor reports a fault',
      skill: 'electrical', parts: ['coolant-temp-sensor'] },
    { name: `${p}_engine_overspeed`, select: sel, names: ['engine_rpm', 'sent_us'],
      when: (d) => and(gt(last(d, 'engine_rpm'), t.overspeed), gt(last(d, 'sent_us'), 0)),
      clear: (d) => lt(last(d, 'engine_rpm'), t.rpmClear), clearForMs: 10 * MIN,
      severity: 'critical', diagnosis: 'Engine overspeed: governor fault or downhill overrun',
      skill: 'engine', parts: ['governor-actuator'] },
    { name: `${p}_exhaust_overtemp`, select: sel, names: ['exhaust_temp_c', 'sent_us'],
      when: (d) => and(gt(last(d, 'exhaust_temp_c'), t.exhaust), gt(last(d, 'sent_us'), 0)),
      clear: (d) => lt(last(d, 'exhaust_temp_c'), t.exhaustClear), clearForMs: 10 * MIN,
      severity: 'major', diagnosis: 'Exhaust over temperature: DPF blocked or injector dribbling',
      skill: 'aftertreatment', parts: [`dpf-${model}`, 'egt-sensor'] },
    { name: `${p}_hyd_pressure_spike`, select: sel, names: ['hyd_pressure_bar', 'sent_us'],
      when: (d) => and(gt(last(d, 'hyd_pressure_bar'), t.hyd), gt(last(d, 'sent_us'), 0)),
      clear: (d) => lt(last(d, 'hyd_pressure_bar'), t.hydClear), clearForMs: 10 * MIN,
      severity: 'major', diagnosis: 'Hydraulic pressure spike: relief valve stuck',
      skill: 'hydraulics', parts: ['main-relief-valve'] },
  ];
}
const rules = [
  ...modelRules('EX200', 'ex200', { overspeed: 2600, rpmClear: 2200, exhaust: 650, exhaustClear: 550, hyd: 380, hydClear: 330 }),
  ...modelRules('WL300', 'wl300', { overspeed: 2400, rpmClear: 2000, exhaust: 620, exhaustClear: 530, hyd: 360, hydClear: 320 }),
];
const silentRule = {
  name: 'machine_silent', names: [], silentMs: 10 * MIN, severity: 'info',
  diagnosis: 'No telemetry for 10 minutes: modem power, antenna or machine switched off',
  skill: 'telematics', parts: ['telematics-fuse-kit'],
};
// Rules by model, and the longest window per metric (what a device keeps).
const rulesByModel = new Map();
const keepMs = {};
for (const r of rules) {
  if (!rulesByModel.has(r.select.model)) rulesByModel.set(r.select.model, []);
  rulesByModel.get(r.select.model).push(r);
  for (const [m, w] of Object.entries(r.windows || {})) keepMs[m] = Math.max(keepMs[m] || 0, w);
}

// --- cases -----------------------------------------------------------------
const devices = new Map();
let eventSeq = 0;
let caseNumber = 0;

function caseId() {
  caseNumber++;
  return 'c-' + caseNumber.toString(16).padStart(16, '0');
}

function event(type, c, now, out) {
  eventSeq++;
  c.updated_at = now;
  out.push({
    topic: `service/${c.tenant}/cases/${c.id}`,
    payload: JSON.stringify({ seq: eventSeq, type, at: now, case: c }),
  });
}

function evidence(dev, rule) {
  const e = {};
  for (const m of rule.names) if (known(dev.latest[m])) e[m] = dev.latest[m];
  return e;
}

function openCase(dev, rule, st, t0, now, out) {
  const prev = st.lastCase;
  if (prev && prev.status === 'resolved' && rule.reopenMs && now - prev.resolved_at <= rule.reopenMs) {
    prev.status = 'open';
    prev.occurrences++;
    prev.resolved_at = null; prev.resolved_by = null;
    prev.acknowledged_at = null; prev.acknowledged_by = null;
    prev.evidence = evidence(dev, rule);
    st.active = prev;
    event('reopened', prev, now, out);
    return;
  }
  const c = {
    id: caseId(), tenant: dev.tenant, device: dev.device, model: dev.model === undefined ? null : dev.model,
    rule: rule.name, severity: rule.severity, status: 'open', fault_started_at: t0,
    opened_at: now, updated_at: now, acknowledged_at: null, acknowledged_by: null,
    resolved_at: null, resolved_by: null, occurrences: 1, diagnosis: rule.diagnosis,
    skill: rule.skill, parts: rule.parts, evidence: evidence(dev, rule),
  };
  st.active = c;
  st.lastCase = c;
  event('opened', c, now, out);
}

// One evaluation of `rule` for `dev` at event time `now`; `wall` is the
// gateway clock that stamps case events.
function evaluate(dev, rule, now, wall, out) {
  let st = dev.rules[rule.name];
  if (!st) st = dev.rules[rule.name] = { pendingSince: null, clearSince: null, active: null, lastCase: null, fired: false };
  const w = rule.when(dev, now);
  let fresh = false;
  if (w === true) {
    if (st.pendingSince === null) st.pendingSince = now;
    if (!st.fired && now - st.pendingSince >= (rule.forMs || 0)) {
      st.fired = true;
      fresh = true;
      if (st.active) {
        st.active.occurrences++;
        st.active.evidence = evidence(dev, rule);
        event('updated', st.active, wall, out);
      } else {
        openCase(dev, rule, st, st.pendingSince, wall, out);
      }
    }
  } else {
    st.pendingSince = null;
    st.fired = false;
  }
  if (!st.active || fresh) return;
  const c = rule.clear ? rule.clear(dev, now) : not(w);
  if (c === true) {
    if (st.clearSince === null) st.clearSince = now;
    if (now - st.clearSince >= (rule.clearForMs || 0)) {
      const a = st.active;
      a.status = 'resolved';
      a.resolved_at = wall;
      a.resolved_by = 'auto';
      st.active = null;
      st.clearSince = null;
      event('resolved', a, wall, out);
    }
  } else {
    st.clearSince = null;
  }
}

function handle(tenant, device, s, out) {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return;
  const wall = Date.now();
  const key = tenant + '/' + device;
  let dev = devices.get(key);
  if (!dev) {
    dev = { tenant, device, model: undefined, lastSeq: -1, lastTs: -Infinity, lastSeen: wall,
            latest: {}, series: {}, dtc: [], rules: {} };
    devices.set(key, dev);
  }
  if (typeof s.seq === 'number') {
    if (s.seq <= dev.lastSeq) return;  // duplicate
    dev.lastSeq = s.seq;
  }
  const now = typeof s.ts === 'number' ? s.ts : wall;
  if (now < dev.lastTs) return;  // out of order
  dev.lastTs = now;
  dev.lastSeen = wall;
  if (typeof s.model === 'string') dev.model = s.model;
  const metrics = s.metrics && typeof s.metrics === 'object' ? s.metrics : {};
  for (const [m, raw] of Object.entries(metrics)) {
    const v = raw === true ? 1 : raw === false ? 0 : raw;
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    dev.latest[m] = v;
    const keep = keepMs[m];
    if (!keep) continue;
    let series = dev.series[m];
    if (!series) series = dev.series[m] = { ts: [], v: [] };
    series.ts.push(now);
    series.v.push(v);
    while (series.ts.length && series.ts[0] <= now - keep) { series.ts.shift(); series.v.shift(); }
  }
  const hasDtc = Array.isArray(s.dtc);
  if (hasDtc) dev.dtc = s.dtc.filter((c) => typeof c === 'string');
  for (const rule of rulesByModel.get(dev.model) || []) {
    if (rule.usesDtc ? hasDtc : rule.names.some((m) => m in metrics)) evaluate(dev, rule, now, wall, out);
  }
}

// silent(): every second, for every device.
function tick() {
  const wall = Date.now();
  const out = [];
  for (const dev of devices.values()) {
    let st = dev.rules[silentRule.name];
    if (!st) st = dev.rules[silentRule.name] = { active: null, lastCase: null };
    const silent = wall - dev.lastSeen >= silentRule.silentMs;
    if (silent && !st.active) openCase(dev, silentRule, st, wall, wall, out);
    if (!silent && st.active) {
      const a = st.active;
      a.status = 'resolved'; a.resolved_at = wall; a.resolved_by = 'auto';
      st.active = null;
      event('resolved', a, wall, out);
    }
  }
  if (out.length) node.send([out]);
}
setInterval(tick, 1000);

context.set('bench', { handle });
