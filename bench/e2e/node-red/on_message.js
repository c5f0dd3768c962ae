// System N's per-message code (the function node's body; setup.js is its
// "On Start" code): topic -> tenant and device, then every sample of the
// payload (an object, or an array of them) through the rules. The json node
// before this one has parsed the payload. Case events go out on output 1.
const m = /^fleet\/([A-Za-z0-9_.-]{1,64})\/([A-Za-z0-9_.-]{1,64})\/telemetry$/.exec(msg.topic);
if (!m || typeof msg.payload !== 'object' || msg.payload === null) return null;
const { handle } = context.get('bench');
const out = [];
for (const sample of Array.isArray(msg.payload) ? msg.payload : [msg.payload]) {
  handle(m[1], m[2], sample, out);
}
return out.length ? [out] : null;
