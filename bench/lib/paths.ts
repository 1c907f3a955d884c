import { join } from 'node:path'

export const ROOT = new URL('../..', import.meta.url).pathname
export const BENCH_DIR = join(ROOT, 'bench')
export const RESULTS_DIR = join(BENCH_DIR, 'results')
/** The project's own Node 24 (node_modules/.bin/node links to the binary itself, so a child's pid is node's). */
export const NODE = join(ROOT, 'node_modules/.bin/node')
