/**
 * The platform process bench:api loads (bench/api.ts starts it, so the load generator does not
 * share its event loop). Environment: BENCH_HOME, ENGINE_URL, ENGINE_KEY, ARBOR_MASTER_KEY,
 * DATABASE_URL (absent: the embedded store), BENCH_ENVIRONMENTS (set up the app with that many
 * environments; absent: only serve, as the second process on a shared DATABASE_URL).
 * Prints one line `READY {"url", "token"?}` when it can be loaded; SIGTERM stops it (and so
 * writes a --cpu-prof profile).
 */
import { startPlatform } from '../src/platform/platform.ts';
import { adminToken, setUpApp } from './setup.ts';

process.removeAllListeners('warning');
const env = process.env;
const platform = await startPlatform({ home: env.BENCH_HOME!, databaseUrl: env.DATABASE_URL || undefined, masterKey: env.ARBOR_MASTER_KEY, log: { info: () => {}, warn: (m) => process.stderr.write(`WARN ${m}\n`) } });
let token: string | undefined;
if (env.BENCH_ENVIRONMENTS) {
  await setUpApp(platform, { url: env.ENGINE_URL!, apiKey: env.ENGINE_KEY! }, Number(env.BENCH_ENVIRONMENTS));
  token = await adminToken(platform);
}
process.stdout.write(`READY ${JSON.stringify({ url: platform.url, token })}\n`);
process.once('SIGTERM', async () => {
  await platform.close();
  process.exit(0);
});
