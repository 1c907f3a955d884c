// The size rules for src/, checked in CI (`npm run check:structure`): no file over 300 lines,
// no function over 60 lines, no function with more than five positional parameters (a
// destructured object counts as one). Reads the sources with the TypeScript compiler's parser;
// prints one line per violation (`path:line name — rule`) and a summary, and exits 1 on any.
//
//   node scripts/check-structure.ts          # every src/**/*.ts of this checkout
//   node scripts/check-structure.ts a.ts …   # only these files
import { globSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

export interface StructureLimits {
  /** Lines in a file. */
  readonly fileLines: number
  /** Lines a function spans, from its first token to its last. */
  readonly functionLines: number
  /** Positional parameters of a function (`this` not counted). */
  readonly parameters: number
}

export const SIZE_RULES: StructureLimits = { fileLines: 300, functionLines: 60, parameters: 5 }

export interface SourceFile {
  readonly path: string
  readonly text: string
}

export interface Violation {
  readonly path: string
  /** 1-based. */
  readonly line: number
  /** The function's name as a reader finds it (`Class.method`, the variable an arrow is assigned to), or `(file)`. */
  readonly name: string
  readonly rule: string
}

/** Every violation of `limits` in `files`, in file order then line order. */
export function checkStructure(files: Iterable<SourceFile>, limits: StructureLimits = SIZE_RULES): Violation[] {
  const violations: Violation[] = []
  for (const file of files) violations.push(...checkFile(file, limits))
  return violations
}

function checkFile({ path, text }: SourceFile, limits: StructureLimits): Violation[] {
  const violations: Violation[] = []
  const lines = lineCount(text)
  if (lines > limits.fileLines) violations.push({ path, line: 1, name: '(file)', rule: `${lines} lines, more than ${limits.fileLines} in a file` })
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const lineOf = (position: number) => source.getLineAndCharacterOfPosition(position).line + 1
  const visit = (node: ts.Node): void => {
    if (isFunctionWithBody(node)) {
      const first = lineOf(node.getStart(source))
      const span = lineOf(node.getEnd()) - first + 1
      const name = functionName(node)
      if (span > limits.functionLines) violations.push({ path, line: first, name, rule: `function spans ${span} lines, more than ${limits.functionLines}` })
      const positional = node.parameters.filter((parameter) => !isThisParameter(parameter)).length
      if (positional > limits.parameters) violations.push({ path, line: first, name, rule: `${positional} positional parameters, more than ${limits.parameters} (pass an options object)` })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return violations
}

/** As `wc -l` counts them when the file ends with a newline. */
function lineCount(text: string): number {
  if (text === '') return 0
  const breaks = text.split('\n').length - 1
  return text.endsWith('\n') ? breaks : breaks + 1
}

type FunctionWithBody = ts.FunctionLikeDeclaration & { readonly body: ts.Node }

/** Declarations, methods, arrows, function expressions, constructors and accessors that have a body (not overload signatures). */
function isFunctionWithBody(node: ts.Node): node is FunctionWithBody {
  const functionLike =
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isArrowFunction(node) ||
    ts.isFunctionExpression(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  return functionLike && node.body !== undefined
}

function isThisParameter(parameter: ts.ParameterDeclaration): boolean {
  return ts.isIdentifier(parameter.name) && parameter.name.text === 'this'
}

function functionName(node: FunctionWithBody): string {
  const owner = classNameOf(node)
  const qualified = (name: string) => (owner === undefined ? name : `${owner}.${name}`)
  if (ts.isConstructorDeclaration(node)) return qualified('constructor')
  if (ts.isGetAccessorDeclaration(node)) return `get ${qualified(propertyName(node.name))}`
  if (ts.isSetAccessorDeclaration(node)) return `set ${qualified(propertyName(node.name))}`
  if (ts.isMethodDeclaration(node)) return qualified(propertyName(node.name))
  if (node.name !== undefined && ts.isIdentifier(node.name)) return node.name.text
  if (ts.isFunctionDeclaration(node)) return 'default'
  const parent = node.parent
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) && parent.initializer === node) {
    return ts.isPropertyDeclaration(parent) ? qualified(propertyName(parent.name)) : propertyName(parent.name)
  }
  return ts.isArrowFunction(node) ? '(arrow function)' : '(function expression)'
}

function classNameOf(node: ts.Node): string | undefined {
  const parent = node.parent
  if (!ts.isClassLike(parent)) return undefined
  return parent.name?.text ?? '(class)'
}

function propertyName(name: ts.PropertyName | ts.BindingName): string {
  if (ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name)) return name.text
  return name.getText()
}

/** `path:line name — rule`, the form the CI log shows. */
export function formatViolation({ path, line, name, rule }: Violation): string {
  return `${path}:${line} ${name} — ${rule}`
}

function main(paths: string[]): number {
  // Paths as given, or src/ of this checkout whatever the working directory.
  const files = paths.length > 0 ? paths.map((path) => ({ path, text: readFileSync(path, 'utf8') })) : globSync('src/**/*.ts', { cwd: ROOT }).sort().map((path) => ({ path, text: readFileSync(join(ROOT, path), 'utf8') }))
  const violations = checkStructure(files)
  for (const violation of violations) console.log(formatViolation(violation))
  const { fileLines, functionLines, parameters } = SIZE_RULES
  const rules = `at most ${fileLines} lines a file, ${functionLines} lines a function, ${parameters} positional parameters`
  console.log(`check-structure: ${files.length} files, ${violations.length === 0 ? 'no violation' : `${violations.length} violation(s)`} (${rules})`)
  return violations.length === 0 ? 0 : 1
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2))
