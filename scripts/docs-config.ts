// npm run docs:config: writes docs/configuration.md from the configuration's schema and
// variable table (src/config/reference.ts). A unit test fails when the committed file differs.
import { writeFileSync } from 'node:fs'
import { configurationReference, REFERENCE_PATH } from '../src/config/reference.ts'

writeFileSync(new URL(`../${REFERENCE_PATH}`, import.meta.url), configurationReference())
console.log(`wrote ${REFERENCE_PATH}`)
