/**
 * @module Scale to zero: every poll, each active endpoint's clients are counted (activity.ts); an
 * endpoint without clients for its suspend timeout is drained and stopped, and its port goes back
 * to the engine, which wakes it on the next connection (listeners.ts).
 *
 * Timeout: `suspend_timeout_seconds` of the endpoint; 0 means the project's default, and 0 there
 * means 300 s; -1 never suspends. An endpoint also stays up while the engine itself works on the
 * branch (`hold`, e.g. during a branch copy or a spare being made).
 */
import type { EndpointRecord } from '../catalog/types.ts';
import type { Engine } from '../engine.ts';
import { clientBackends } from './activity.ts';

const DEFAULT_SUSPEND_SECONDS = 300;

export class Autosuspend {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private lastActive = new Map<string, number>();
  private holds = new Map<string, number>();
  private warned = new Set<number>();

  constructor(
    private readonly engine: Engine,
    readonly pollMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => {
        this.running = undefined;
      });
    }, this.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Keeps the branch's compute up until the returned function is called. */
  /** Whether anything holds the branch's compute up (see hold). */
  isHeld(branchId: string): boolean {
    return this.holds.has(branchId);
  }

  hold(branchId: string): () => void {
    this.holds.set(branchId, (this.holds.get(branchId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.holds.get(branchId) ?? 1) - 1;
      if (left > 0) this.holds.set(branchId, left);
      else this.holds.delete(branchId);
    };
  }

  /** The endpoint was just used (started, woken): its timeout counts from now. */
  touch(endpointId: string): void {
    this.lastActive.set(endpointId, Date.now());
  }

  /** The endpoint's suspend timeout in ms, or -1 for never. */
  timeoutMs(endpoint: EndpointRecord): number {
    let seconds = endpoint.suspend_timeout_seconds;
    if (seconds === 0) seconds = this.engine.project(endpoint.project_id).default_endpoint_settings.suspend_timeout_seconds;
    if (seconds === 0) seconds = DEFAULT_SUSPEND_SECONDS;
    return seconds < 0 ? -1 : seconds * 1000;
  }

  /** One poll: forget crashed computes, suspend endpoints idle past their timeout, keep every endpoint's port open. */
  async tick(): Promise<void> {
    const engine = this.engine;
    try {
      for (const key of await engine.computes.reapDead()) {
        for (const endpoint of engine.endpointsOfCompute(key)) {
          engine.log.warn(`endpoint ${endpoint.id}: its postmaster exited on its own; it wakes again on the next connection`);
          this.markIdle(endpoint);
        }
      }
      for (const endpoint of [...engine.data.endpoints]) {
        if (endpoint.current_state !== 'active') continue;
        const key = engine.computeKey(endpoint);
        const pid = engine.computes.pidOf(key);
        if (!pid || engine.computes.isBusy(key)) continue;
        const now = Date.now();
        if (this.holds.has(key) || (await clientBackends(pid)) > 0) {
          this.lastActive.set(endpoint.id, now);
          endpoint.last_active = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
          continue;
        }
        const timeout = this.timeoutMs(endpoint);
        if (timeout < 0) continue;
        if (!this.lastActive.has(endpoint.id)) this.lastActive.set(endpoint.id, now);
        if (now - this.lastActive.get(endpoint.id)! >= timeout) await this.suspend(endpoint);
      }
      await this.sweepPorts();
    } catch (error) {
      engine.log.warn(`autosuspend: ${(error as Error).message}`);
    }
  }

  /** Suspends the endpoint if, once drained, it has no client and nothing holds it; returns whether it did. */
  async suspend(endpoint: EndpointRecord): Promise<boolean> {
    const engine = this.engine;
    const key = engine.computeKey(endpoint);
    if (this.holds.has(key)) return false;
    if (endpoint.type === 'read_write') await engine.spares.discard(key);
    const stopped = await engine.computes.stop(key, { ifIdle: () => !this.holds.has(key) });
    if (!stopped) {
      this.lastActive.set(endpoint.id, Date.now());
      return false;
    }
    this.markIdle(endpoint);
    await engine.save();
    return true;
  }

  private markIdle(endpoint: EndpointRecord): void {
    const at = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    endpoint.current_state = 'idle';
    delete endpoint.pending_state;
    endpoint.suspended_at = at;
    endpoint.updated_at = at;
    this.lastActive.delete(endpoint.id);
  }

  /** Every endpoint whose compute is down has its port accepting; ports of deleted endpoints close. */
  private async sweepPorts(): Promise<void> {
    const engine = this.engine;
    engine.poolers.sweep();
    const wanted = new Set(engine.data.endpoints.flatMap((e) => (e.pooler_port ? [e.port, e.pooler_port] : [e.port])));
    for (const port of engine.listeners.known()) {
      if (!wanted.has(port) && engine.listeners.isAccepting(port)) await engine.listeners.release(port);
    }
    for (const endpoint of engine.data.endpoints) {
      const key = engine.computeKey(endpoint);
      if (engine.computes.isRunning(key) || engine.computes.isBusy(key) || engine.listeners.isAccepting(endpoint.port)) continue;
      try {
        await engine.listeners.listen(endpoint.port);
        this.warned.delete(endpoint.port);
      } catch (error) {
        if (!this.warned.has(endpoint.port)) engine.log.warn(`endpoint ${endpoint.id}: port ${endpoint.port} unavailable: ${(error as Error).message}`);
        this.warned.add(endpoint.port);
      }
    }
  }
}
