// The configuration's public face: what the rest of the service imports. The parts live in
// src/config/: the shape (types.ts), the defaults (defaults.ts), the variables and their
// parsers (schema.ts, parsers.ts, rate-limits.ts), and the loading (load.ts, dotenv.ts).
export { loadConfig, loadConfigOrExit, EXIT_CONFIG } from './config/load.ts'
export { DEFAULT_MAX_CONNECTIONS_PER_ORIGIN, DEFAULT_TUNING } from './config/defaults.ts'
export { originOfSetting } from './config/rate-limits.ts'
export type { Config, KafkaSettings, LogLevel, ProxySettings, RateLimits, RedisSettings, TopicLayout, Tuning } from './config/types.ts'
