/**
 * @module Splits a migration file into its statements, as psql does: semicolons inside quotes,
 * dollar quotes, comments, parentheses (`CREATE RULE ... DO ALSO (INSERT ...; INSERT ...)`) and
 * `BEGIN ATOMIC ... END` bodies do not end a statement. The runner never sends these pieces (a
 * file goes to PostgreSQL as one query, as golang-migrate sends it); they place a failure at its
 * statement and line and find a file's own BEGIN/COMMIT.
 */

export interface Statement {
  text: string;
  /** 1-based line of the statement's first character in the file. */
  line: number;
  /** Offset of its first character in the file. */
  start: number;
  /** Offset just past its last character (its `;`, or the end of the file). */
  end: number;
}

export function splitStatements(sql: string): Statement[] {
  const statements: Statement[] = [];
  let start = 0;
  let i = 0;
  let atomicDepth = 0;
  let parenDepth = 0;
  const n = sql.length;
  const push = (end: number) => {
    const raw = sql.slice(start, end);
    const offset = raw.search(/\S/);
    if (offset >= 0 && !isOnlyComments(raw)) {
      const first = start + offset;
      statements.push({ text: raw.trim(), line: sql.slice(0, first).split('\n').length, start: first, end });
    }
    start = end + 1;
  };
  while (i < n) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') (depth++, (i += 2));
        else if (sql[i] === '*' && sql[i + 1] === '/') (depth--, (i += 2));
        else i++;
      }
    } else if (c === "'") {
      const escapes = /[eE]/.test(sql[i - 1] ?? '') && !/[\w$]/.test(sql[i - 2] ?? '');
      i++;
      while (i < n) {
        if (escapes && sql[i] === '\\') i += 2;
        else if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
        else if (sql[i] === "'") break;
        else i++;
      }
      i++;
    } else if (c === '"') {
      i++;
      while (i < n && !(sql[i] === '"' && sql[i + 1] !== '"')) i += sql[i] === '"' ? 2 : 1;
      i++;
    } else if (c === '$' && !/[\w$]/.test(sql[i - 1] ?? '')) {
      const tag = /^\$([A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end < 0 ? n : end + tag[0].length;
      } else i++;
    } else if (/[A-Za-z_]/.test(c) && !/[\w$]/.test(sql[i - 1] ?? '')) {
      const word = /^[A-Za-z_][\w$]*/.exec(sql.slice(i, i + 64))![0].toUpperCase();
      if (word === 'BEGIN' && /^BEGIN\s+ATOMIC\b/i.test(sql.slice(i, i + 64))) atomicDepth++;
      else if (atomicDepth > 0 && (word === 'CASE' || (word === 'BEGIN'))) atomicDepth++;
      else if (atomicDepth > 0 && word === 'END') atomicDepth--;
      i += word.length;
    } else if (c === '(') (parenDepth++, i++);
    else if (c === ')') (parenDepth = Math.max(0, parenDepth - 1), i++);
    else if (c === ';' && atomicDepth === 0 && parenDepth === 0) {
      push(i);
      i++;
    } else i++;
  }
  push(n);
  return statements;
}

function isOnlyComments(text: string): boolean {
  return text.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '').trim() === '';
}
