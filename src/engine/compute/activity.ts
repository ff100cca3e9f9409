/**
 * @module How many clients a postmaster serves, read from /proc without opening a session.
 *
 * Every child of the postmaster that is not one of PostgreSQL's own processes counts: a client
 * backend whatever its state (idle, active, idle in transaction), and also a child that was just
 * forked and is still authenticating (its title is still the postmaster's). The engine's own
 * sessions come over the unix socket (`[local]` in their title) and do not count; neither do
 * WAL senders (a spare streaming from its parent).
 */
import { promises as fs } from 'node:fs';

const OWN_PROCESS = new RegExp(
  '^postgres: (checkpointer|background writer|walwriter|autovacuum|logical replication|archiver|startup|walreceiver|walsender|walsummarizer|slotsync|io worker|stats collector|parallel worker)',
);

export async function clientBackends(postmasterPid: number): Promise<number> {
  let children: string[];
  try {
    children = (await fs.readFile(`/proc/${postmasterPid}/task/${postmasterPid}/children`, 'utf8')).split(' ').filter(Boolean);
  } catch {
    return 0;
  }
  let clients = 0;
  for (const child of children) {
    let title: string;
    try {
      title = (await fs.readFile(`/proc/${child}/cmdline`, 'utf8')).replace(/\0+$/, '').replace(/\0/g, ' ');
    } catch {
      continue; // exited
    }
    if (!title) continue; // a zombie waiting to be reaped
    if (OWN_PROCESS.test(title) || title.includes('[local]')) continue;
    clients += 1;
  }
  return clients;
}
