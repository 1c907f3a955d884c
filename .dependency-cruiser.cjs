// Import rules checked in CI (`npm run deps`): no cycles, and the flow's direction kept.
// A rule names what it protects; break one and the message says which import to move.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'A cycle of imports: one of them must point the other way.', from: {}, to: { circular: true } },
    {
      name: 'lib-is-generic',
      severity: 'error',
      comment: 'src/lib holds helpers with no knowledge of this service (errors.ts builds on them): it may use only itself.',
      from: { path: '^src/lib/' },
      to: { path: '^src/', pathNot: ['^src/lib/'] },
    },
    {
      name: 'telemetry-is-low',
      severity: 'error',
      comment: 'src/telemetry (OpenTelemetry SDK, spans) knows no notification code: the pipeline hands it plain facts. It may use only lib/, errors.ts, log.ts, its settings (tracing-settings.ts) and itself.',
      from: { path: '^src/telemetry/' },
      to: { path: '^src/', pathNot: ['^src/telemetry/', '^src/lib/', '^src/errors\\.ts$', '^src/log\\.ts$', '^src/tracing-settings\\.ts$'] },
    },
    {
      name: 'messages-are-input-shapes',
      severity: 'error',
      comment: 'src/messages describes what Kafka brings; notifications are built from it, never the other way.',
      from: { path: '^src/messages/' },
      to: { path: '^src/(notifications|pipeline|delivery|store|kafka|dashboard|replay|http)/' },
    },
    {
      name: 'pipeline-on-top',
      severity: 'error',
      comment: 'Only the wiring (app.ts) uses the pipeline; adapters (kafka, store, delivery…) are used by it.',
      from: { path: '^src/', pathNot: ['^src/pipeline/', '^src/app\\.ts$'] },
      to: { path: '^src/pipeline/' },
    },
    {
      name: 'adapters-do-not-know-the-ops-surface',
      severity: 'error',
      comment: 'Kafka, Redis and HTTP delivery code must not depend on the dashboard, the admin server or replay.',
      from: { path: '^src/(kafka|store|delivery|notifications|messages|origins)/' },
      to: { path: '^src/(dashboard|http|replay)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
}
