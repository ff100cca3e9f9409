// The derive worker's entry (derive-pool.ts): tsx's hooks are registered here, in the worker,
// because Node 20 does not apply a parent's (nor execArgv's --import) to a .ts worker entry.
import { register } from 'tsx/esm/api';
register();
await import('./derive-worker.ts');
