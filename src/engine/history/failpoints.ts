/**
 * @module Failpoints for crash tests: `ARBOR_FAILPOINTS=name,…` makes the engine kill itself with
 * SIGKILL when it reaches one of those names, exactly as `kill -9` would at that step.
 */
export function failpoint(name: string): void {
  const names = process.env.ARBOR_FAILPOINTS;
  if (names && names.split(',').includes(name)) process.kill(process.pid, 'SIGKILL');
}
