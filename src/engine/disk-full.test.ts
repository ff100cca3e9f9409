/**
 * A full disk is an error, not a crash (issue #12, clusters/disk-space.ts). The engine's home is
 * on a small tmpfs (200 MiB; a project's cluster takes about 41 MiB) this test mounts, as root:
 *
 * - a branch whose copy would not fit in the free space is refused before its 201, with a 422
 *   naming the bytes needed and available and the filesystem; nothing is left half-made and the
 *   parent keeps serving;
 * - with the disk full, a spare and a base copy are not tried (the spare's reason is kept for
 *   `made_by`), a request whose catalog write fails answers a 500 that says the disk is full, and
 *   closing the engine stops every postmaster even though it cannot write its drain flag files;
 * - a copy that passed that check and meets ENOSPC midway (the test fills the disk right after the
 *   copy's first file, through copy.ts's `copyProbe`) fails its operation with an error that says
 *   the disk is full, leaves no partial directory and no branch record; the engine answers and the
 *   parent serves; once the filler is gone a new branch is made and serves.
 *
 * Skipped when not root or when tmpfs cannot be mounted. The mount is removed at the end, after
 * the engine closed and its postmasters stopped.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, promises as fs, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { copyProbe } from './clusters/copy.ts';
import { copySize, DISK_FULL_CODE, freeBytes, SPACE_MARGIN_BYTES } from './clusters/disk-space.ts';
import { postmastersUnder } from '../../scripts/reaper.ts';
import { connect, message, operationsAtRest, rejects, settle, startTestProject, status } from './test-support.ts';

const MOUNT_SIZE = '200m';
/** Inodes of the mount: a few clusters' files, few enough for the test to use them all up. */
const MOUNT_INODES = 20_000;

/** Writes `path` until the filesystem is full (or `limit` bytes were written); returns the bytes written. */
async function fill(path: string, limit = Number.MAX_SAFE_INTEGER): Promise<number> {
  const handle = await fs.open(path, 'w');
  const chunk = Buffer.alloc(1024 * 1024, 1);
  let written = 0;
  try {
    while (written < limit) {
      const size = Math.min(chunk.length, limit - written);
      try {
        const { bytesWritten } = await handle.write(chunk, 0, size);
        written += bytesWritten;
        if (bytesWritten < size) break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
  } finally {
    await handle.close().catch(() => {});
  }
  return written;
}

/** Creates empty files in `dir` until the filesystem has no inode left. */
function fillInodes(dir: string): void {
  mkdirSync(dir);
  for (let i = 0; ; i++) {
    try {
      writeFileSync(join(dir, String(i)), '');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return;
      throw error;
    }
  }
}

async function parentAnswers(uri: string): Promise<unknown> {
  const client = await connect(uri);
  try {
    return (await client.query('SELECT count(*)::int AS n FROM kept')).rows[0].n;
  } finally {
    await client.end();
  }
}

test('a full disk: a copy that does not fit is refused with a 422; ENOSPC mid-copy fails the operation and removes the half-made branch; the engine and the parent go on', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to mount a small tmpfs for the engine home');
  const mountPoint = mkdtempSync(join(tmpdir(), 'arbor-disk-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${MOUNT_SIZE},nr_inodes=${MOUNT_INODES},mode=1777`, 'tmpfs', mountPoint], { stdio: 'pipe' });
  } catch (error) {
    rmSync(mountPoint, { recursive: true, force: true });
    return t.skip(`cannot mount tmpfs: ${(error as Error).message}`);
  }
  const ballast = join(mountPoint, 'ballast');
  const filler = join(mountPoint, 'filler');
  let project: Awaited<ReturnType<typeof startTestProject>> | undefined;
  try {
    // Every branch is a copy (no spare), and no history: the space a branch takes is its cluster.
    project = await startTestProject({ name: 'disk-full', history_retention_seconds: 0 }, { spares: false }, { parent: mountPoint });
    const { engine, projectId, mainId, mainUri } = project;
    const clusters = join(engine.home, 'clusters');
    const setup = await connect(mainUri);
    await setup.query('CREATE TABLE kept AS SELECT generate_series(1, 1000) AS x');
    await setup.end();
    // What a copy of the running parent writes, as the engine estimates it.
    const parentSize = await copySize(engine.engine.computes.dataDir(mainId), true);
    assert.ok((await freeBytes(clusters)) > parentSize + SPACE_MARGIN_BYTES, `the mount fits one copy (${parentSize} bytes of parent)`);

    // (a) Free space below what a copy needs: refused before the 201, sizes named.
    await fill(ballast, (await freeBytes(clusters)) - parentSize);
    const available = await freeBytes(clusters);
    try {
      await engine.api.createProjectBranch(projectId, { branch: { name: 'too-big' }, endpoints: [{ type: 'read_write' as never }] });
      assert.fail('the branch creation was accepted');
    } catch (error) {
      assert.equal(status(error), 422, message(error));
      const body = (error as { response: { data: { code: string; message: string } } }).response.data;
      assert.equal(body.code, DISK_FULL_CODE);
      const needed = Number(/needs (\d+) bytes/.exec(body.message)?.[1]);
      const said = Number(/has (\d+) bytes/.exec(body.message)?.[1]);
      assert.ok(needed >= parentSize + SPACE_MARGIN_BYTES, `needed ${needed} in: ${body.message}`);
      assert.ok(Math.abs(said - available) < 4 * 1024 * 1024, `available ${said} (measured ${available}) in: ${body.message}`);
      assert.ok(body.message.includes(clusters), `the filesystem path in: ${body.message}`);
      assert.match(body.message, /free space/);
    }
    assert.deepEqual(readdirSync(clusters), [mainId], 'nothing half-made');
    assert.deepEqual((await engine.api.listProjectBranches({ projectId })).data.branches.map((b) => b.id), [mainId]);
    assert.equal(await parentAnswers(mainUri), 1000, 'the parent serves');
    await fs.rm(ballast);

    // (b) The check passes; the disk fills up after the copy's first file.
    copyProbe.afterFirstFile = async () => {
      copyProbe.afterFirstFile = undefined;
      await fill(filler);
    };
    const { data: doomed } = await engine.api.createProjectBranch(projectId, { branch: { name: 'doomed' }, endpoints: [{ type: 'read_write' as never }] });
    const ops = await operationsAtRest(engine.api, projectId);
    const create = ops.find((o) => o.branch_id === doomed.branch.id && o.action === 'create_branch');
    assert.equal(create?.status, 'failed', JSON.stringify(create));
    assert.match(create!.error ?? '', /disk holding .* is full/);
    assert.match(create!.error ?? '', /ENOSPC|no space left/i);
    assert.deepEqual(readdirSync(clusters), [mainId], 'no partial directory');
    assert.deepEqual((await engine.api.listProjectBranches({ projectId })).data.branches.map((b) => b.id), [mainId], 'no branch record');
    assert.equal((await engine.api.getProject(projectId)).data.project.id, projectId, 'the engine answers');
    assert.equal(await parentAnswers(mainUri), 1000, 'the parent serves');

    // Space again: a branch is made and serves.
    await fs.rm(filler);
    const { data: child } = await engine.api.createProjectBranch(projectId, { branch: { name: 'after' }, endpoints: [{ type: 'read_write' as never }] }).catch((error) => {
      throw new Error(`after the filler was removed: ${message(error)}; ${execFileSync('du', ['-sk', ...readdirSync(mountPoint).map((n) => join(mountPoint, n))]).toString()}`);
    });
    await settleBranch(engine.api, projectId, child.branch.id);
    assert.equal(await parentAnswers(child.connection_uris![0].connection_uri), 1000, 'the new branch serves its copy');

    // (c) The disk full, blocks and inodes (where the engine's flag files cannot be created): no
    // spare is tried, the engine refuses a branch and answers, and closing it stops every postmaster.
    assert.equal(await parentAnswers(mainUri), 1000, 'the parent runs');
    await fill(filler);
    const main = engine.engine.data.branches.find((b) => b.id === mainId)!;
    // A base copy of the history that would not fit is skipped, with the reason.
    await assert.rejects(engine.engine.history.baseCopy(main), /not enough disk space to copy .* for a base copy/);
    // A request whose catalog write meets the full disk says so (not a bare internal error).
    await rejects(engine.api.updateProject(projectId, { project: { name: 'renamed' } }), 500, /disk holding the engine's home .* is full/);
    fillInodes(join(mountPoint, 'inodes'));
    const spares = engine.engine.spares;
    spares.setEnabled(true);
    spares.replenish(main);
    await spares.settled(mainId);
    assert.equal(spares.hasReady(mainId), false);
    assert.match(spares.whyNone(main), /spare could not be made: not enough disk space/);
    await rejects(engine.api.createProjectBranch(projectId, { branch: { name: 'full' } }), 422, /not enough disk space/);
    assert.equal((await engine.api.getProject(projectId)).data.project.id, projectId, 'the engine answers');
    assert.deepEqual(engine.specProblems, []);
    await engine.engine.close();
    assert.deepEqual(postmastersUnder(engine.home), [], 'no postmaster left running');
    await fs.rm(filler);
    await fs.rm(join(mountPoint, 'inodes'), { recursive: true });
  } finally {
    copyProbe.afterFirstFile = undefined;
    await project?.engine.close();
    for (let attempt = 0; ; attempt++) {
      try {
        execFileSync('umount', [mountPoint], { stdio: 'pipe' });
        break;
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    rmSync(mountPoint, { recursive: true, force: true });
  }
});

/** Waits for the branch's operations only (the project keeps the failed one of (b)). */
async function settleBranch(api: Parameters<typeof settle>[0], projectId: string, branchId: string): Promise<void> {
  const ops = await operationsAtRest(api, projectId);
  const mine = ops.filter((o) => o.branch_id === branchId);
  assert.ok(mine.length > 0);
  for (const op of mine) assert.equal(op.status, 'finished', `${op.action}: ${op.error}`);
}
