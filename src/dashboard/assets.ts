// The dashboard's files, read once at start and served from memory: the page, its script and
// style (src/dashboard/static/), and the chart library (uPlot, from node_modules).
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

export interface Asset {
  readonly contentType: string
  readonly body: Buffer
}

const require = createRequire(import.meta.url)
const own = (name: string) => new URL(`./static/${name}`, import.meta.url)

export function loadDashboardAssets(): { page: Asset; files: ReadonlyMap<string, Asset> } {
  const js = 'text/javascript; charset=utf-8'
  const css = 'text/css; charset=utf-8'
  return {
    page: { contentType: 'text/html; charset=utf-8', body: readFileSync(own('dashboard.html')) },
    files: new Map([
      ['dashboard.js', { contentType: js, body: readFileSync(own('dashboard.js')) }],
      ['destinations.js', { contentType: js, body: readFileSync(own('destinations.js')) }],
      ['dashboard.css', { contentType: css, body: readFileSync(own('dashboard.css')) }],
      ['uPlot.iife.min.js', { contentType: js, body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')) }],
      ['uPlot.min.css', { contentType: css, body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')) }],
    ]),
  }
}
