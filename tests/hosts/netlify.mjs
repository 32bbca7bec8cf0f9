// Netlify's own reading of a `_headers` file (tests/hosts.rs): parses it with
// @netlify/headers-parser, then gives each URL path the headers Netlify's CLI gives it
// (`headersForPath` of netlify-cli: every rule whose `forRegExp` matches, in file order, a later
// rule's header replacing an earlier one's).
// Usage: node netlify.mjs HEADERS_FILE < paths.json  → {"errors": [...], "headers": {path: {name: value}}}
import { parseAllHeaders } from '@netlify/headers-parser'
import { readFileSync } from 'node:fs'

const [file] = process.argv.slice(2)
const paths = JSON.parse(readFileSync(0, 'utf8'))
const { headers, errors } = await parseAllHeaders({ headersFiles: [file], minimal: false, configHeaders: [] })
const out = {}
for (const path of paths) {
  const matching = headers.filter(({ forRegExp }) => forRegExp.test(path)).map(({ values }) => values)
  out[path] = Object.assign({}, ...matching)
}
process.stdout.write(JSON.stringify({ errors: errors.map((e) => e.message), rules: headers.length, headers: out }))
