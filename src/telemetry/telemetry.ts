// Tracing for one service instance, from its settings: the SDK when an exporter is
// configured (loaded only then), else the no-op API, which still forwards an incoming
// traceparent. The instance owns it and shuts it down (flushing spans) when it stops.
import type { Logger } from '../log.ts'
import type { TracingSettings } from '../tracing-settings.ts'
import { Tracing } from './tracing.ts'

export interface Telemetry {
  readonly tracing: Tracing
  /** Exports what is queued (within `timeoutMs`, then drops it) and stops. */
  shutdown(timeoutMs: number): Promise<void>
}

/** Without an SDK: no spans recorded, no exporter, nothing to flush. */
export function untraced(settings: TracingSettings): Telemetry {
  return { tracing: new Tracing(undefined, settings.propagators), shutdown: () => Promise.resolve() }
}

export async function startTelemetry(settings: TracingSettings, logger: Logger): Promise<Telemetry> {
  if (settings.export === undefined) return untraced(settings)
  const { startSdk } = await import('./sdk.ts')
  return startSdk(settings, settings.export, logger)
}
