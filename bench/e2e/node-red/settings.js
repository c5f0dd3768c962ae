// Node-RED settings for the benchmark's system N: no editor, no admin API,
// no HTTP nodes, no telemetry; the flow file and user directory come from
// the command line (bench/e2e/run.py).
module.exports = {
  uiHost: '127.0.0.1',
  uiPort: 0,
  httpAdminRoot: false,
  httpNodeRoot: false,
  disableEditor: true,
  credentialSecret: false,
  flowFilePretty: false,
  logging: { console: { level: 'info', metrics: false, audit: false } },
  telemetry: { enabled: false },
  diagnostics: { enabled: false },
  runtimeState: { enabled: false },
  functionExternalModules: false,
  externalModules: { autoInstall: false, palette: { allowInstall: false } },
  contextStorage: { default: { module: 'memory' } },
  exportGlobalContextKeys: false,
};
