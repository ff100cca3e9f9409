/**
 * @module `arbor db proxy`'s listener: Postgres clients on 127.0.0.1 log in with a password made
 * for this run; each connection is dialled upstream over TLS (verified, as the endpoints' URIs
 * say) with the role's real credentials, then bytes are piped both ways. The real password stays
 * in this process: clients, their logs and their config files only ever see the run's password.
 *
 * Only the start of the protocol is spoken here: the client's SSLRequest/GSSENCRequest (declined:
 * the listener is loopback-only), StartupMessage, SCRAM-SHA-256 against a random per-run
 * password, and CancelRequest (forwarded); upstream the StartupMessage and the server's
 * choice of SCRAM-SHA-256(-PLUS, channel-bound to the TLS certificate), MD5 or cleartext, with
 * node-postgres' own SCRAM code. From AuthenticationOk on, the proxy only copies bytes.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import tls from 'node:tls';
import { parseIntoClientConfig } from 'pg-connection-string';
import { explicitSslMode } from '../platform/postgres/ssl-mode.ts';

interface ScramSession {
  mechanism: string;
  response: string;
}
const require = createRequire(import.meta.url);
const sasl = require('pg/lib/crypto/sasl.js') as {
  startSession(mechanisms: string[], stream?: tls.TLSSocket): ScramSession;
  continueSession(session: ScramSession, password: string, serverData: string, stream?: tls.TLSSocket): Promise<void>;
  finalizeSession(session: ScramSession, serverData: string): void;
};
const { postgresMd5PasswordHash } = require('pg/lib/crypto/utils.js') as { postgresMd5PasswordHash(user: string, password: string, salt: Buffer): Promise<string> };

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3_0 = 196608;
/** Longer startup or authentication messages are refused (Postgres allows 10000 for a startup). */
const MAX_STARTUP = 10_000;
const MAX_MESSAGE = 1 << 20;

export interface ProxyOptions {
  /** The role's connection URI (its real password), any database of the branch. */
  upstreamUri: string;
  /** Databases clients may ask for. */
  databases: string[];
  port?: number;
  log?: (line: string) => void;
}

export interface DbProxy {
  port: number;
  /** What clients log in with (any user name). */
  password: string;
  close(): Promise<void>;
}

/** Messages off a socket: the untyped startup packet first, then typed ones; `detach` hands back what is buffered. */
function reader(socket: net.Socket) {
  let buffer: Buffer = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  let closed: Error | undefined;
  const onData = (chunk: Buffer) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    wake?.();
  };
  const onClose = (error?: Error) => {
    closed ??= error instanceof Error ? error : new Error('the connection closed');
    wake?.();
  };
  socket.on('data', onData);
  socket.on('end', onClose);
  socket.on('close', onClose);
  socket.on('error', onClose);
  async function take(n: number): Promise<Buffer> {
    while (buffer.length < n) {
      if (closed) throw closed;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    const out = buffer.subarray(0, n);
    buffer = buffer.subarray(n);
    return out;
  }
  return {
    async startup(): Promise<Buffer> {
      const length = (await take(4)).readInt32BE(0);
      if (length < 8 || length > MAX_STARTUP) throw new Error(`a startup packet of ${length} bytes`);
      return take(length - 4);
    },
    async message(): Promise<{ type: string; body: Buffer; raw: Buffer }> {
      const head = Buffer.from(await take(5));
      const length = head.readInt32BE(1);
      if (length < 4 || length > MAX_MESSAGE) throw new Error(`a message of ${length} bytes`);
      const body = Buffer.from(await take(length - 4));
      return { type: String.fromCharCode(head[0]), body, raw: Buffer.concat([head, body]) };
    },
    /** Stops reading; the socket is paused, and what was read but not taken is returned. */
    detach(): Buffer {
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onClose);
      socket.off('close', onClose);
      socket.off('error', onClose);
      const rest = buffer;
      buffer = Buffer.alloc(0);
      return rest;
    },
  };
}

const cstring = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
/** A typed message: its type byte, its length (itself included), its body. */
const message = (type: string, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from(type, 'ascii'), int32(body.length + 4), body]);
};
const untyped = (...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([int32(body.length + 4), body]);
};
/** A FATAL ErrorResponse as a server sends it. */
const fatal = (code: string, text: string) =>
  message('E', Buffer.from('S'), cstring('FATAL'), Buffer.from('V'), cstring('FATAL'), Buffer.from('C'), cstring(code), Buffer.from('M'), cstring(text), Buffer.alloc(1));

function startupParams(body: Buffer): Map<string, string> {
  const parts = body.toString('utf8').split('\0');
  const params = new Map<string, string>();
  for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) params.set(parts[i], parts[i + 1]);
  return params;
}

export async function startDbProxy(options: ProxyOptions): Promise<DbProxy> {
  const config = parseIntoClientConfig(explicitSslMode(options.upstreamUri));
  const host = config.host ?? '';
  const port = Number(config.port ?? 5432);
  const role = config.user ?? '';
  const realPassword = typeof config.password === 'string' ? config.password : '';
  const ssl = typeof config.ssl === 'object' ? config.ssl : {};
  if (!host || !role || !realPassword) throw new Error('the revealed connection URI names no host, user or password');
  const password = randomBytes(18).toString('base64url');
  const log = options.log ?? (() => {});

  /** Sends SSLRequest, reads the one-byte answer, upgrades. */
  async function tlsUpstream(): Promise<tls.TLSSocket> {
    const raw = net.connect({ host, port });
    const failed = new Promise<never>((_, reject) => {
      raw.once('error', reject);
      raw.once('close', () => reject(new Error(`the endpoint ${host}:${port} closed the connection`)));
    });
    failed.catch(() => {});
    raw.on('error', () => {}); // later errors reach the TLS socket's listeners
    await Promise.race([once(raw, 'connect'), failed]);
    raw.write(untyped(int32(SSL_REQUEST)));
    const [answer] = (await Promise.race([once(raw, 'data'), failed])) as [Buffer];
    if (answer.length !== 1 || answer[0] !== 'S'.charCodeAt(0)) {
      raw.destroy();
      throw new Error(`the endpoint ${host}:${port} does not take TLS`);
    }
    raw.pause();
    const socket = tls.connect({ ...ssl, socket: raw, servername: net.isIP(host) ? undefined : host });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    return socket;
  }

  /** Logs in upstream as the role; resolves at AuthenticationOk with what follows it still unread. */
  async function loginUpstream(database: string, params: Map<string, string>): Promise<{ socket: tls.TLSSocket; first: Buffer }> {
    const socket = await tlsUpstream();
    const inbox = reader(socket);
    try {
      const forwarded = [...params].filter(([k]) => k !== 'user' && k !== 'database' && !k.startsWith('_pq_.'));
      socket.write(untyped(int32(PROTOCOL_3_0), ...[['user', role], ['database', database], ...forwarded].flatMap(([k, v]) => [cstring(k), cstring(v)]), Buffer.alloc(1)));
      let session: ScramSession | undefined;
      for (;;) {
        const m = await inbox.message();
        if (m.type === 'E') throw Object.assign(new Error('refused upstream'), { response: m.raw });
        if (m.type !== 'R') continue; // notices, NegotiateProtocolVersion
        const code = m.body.readInt32BE(0);
        if (code === 0) return { socket, first: Buffer.concat([m.raw, inbox.detach()]) };
        if (code === 3) socket.write(message('p', cstring(realPassword)));
        else if (code === 5) socket.write(message('p', cstring(await postgresMd5PasswordHash(role, realPassword, m.body.subarray(4, 8)))));
        else if (code === 10) {
          const mechanisms = m.body.subarray(4).toString('utf8').split('\0').filter(Boolean);
          session = sasl.startSession(mechanisms, socket);
          const response = Buffer.from(session.response, 'utf8');
          socket.write(message('p', cstring(session.mechanism), int32(response.length), response));
        } else if (code === 11 && session) {
          await sasl.continueSession(session, realPassword, m.body.subarray(4).toString('utf8'), socket);
          socket.write(message('p', Buffer.from(session.response, 'utf8')));
        } else if (code === 12 && session) sasl.finalizeSession(session, m.body.subarray(4).toString('utf8'));
        else throw new Error(`the endpoint asked for authentication method ${code}, which the proxy does not speak`);
      }
    } catch (error) {
      socket.destroy();
      throw error;
    }
  }

  async function forwardCancel(body: Buffer): Promise<void> {
    const socket = await tlsUpstream();
    socket.on('error', () => {});
    socket.end(untyped(body.subarray(0, Math.min(body.length, 260))));
  }

  // The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), as a Postgres server runs it: the
  // password never crosses the socket. No channel binding: the listener has no TLS.
  const salt = randomBytes(16);
  const ITERATIONS = 4096;
  const saltedPassword = pbkdf2Sync(password, salt, ITERATIONS, 32, 'sha256');
  const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
  const storedKey = createHash('sha256').update(hmac(saltedPassword, 'Client Key')).digest();
  const serverKey = hmac(saltedPassword, 'Server Key');

  /** True when the client proved it knows the run's password. */
  async function scramLogin(inbox: ReturnType<typeof reader>, client: net.Socket): Promise<boolean> {
    client.write(message('R', int32(10), cstring('SCRAM-SHA-256'), Buffer.alloc(1)));
    const initial = await inbox.message();
    if (initial.type !== 'p') return false;
    const nul = initial.body.indexOf(0);
    if (nul < 0 || initial.body.subarray(0, nul).toString() !== 'SCRAM-SHA-256' || initial.body.length < nul + 5) return false;
    const clientFirst = initial.body.subarray(nul + 5).toString('utf8');
    // gs2 header: n (no binding) or y (client could bind, thinks we cannot); then n=user,r=nonce
    const first = /^([ny]),,(n=[^,]*,r=([\x21-\x2b\x2d-\x7e]+))(,.*)?$/.exec(clientFirst);
    if (!first) return false;
    const [, gs2, clientFirstBare, clientNonce] = first;
    const nonce = clientNonce + randomBytes(18).toString('base64');
    const serverFirst = `r=${nonce},s=${salt.toString('base64')},i=${ITERATIONS}`;
    client.write(message('R', int32(11), Buffer.from(serverFirst)));
    const final = await inbox.message();
    if (final.type !== 'p') return false;
    const clientFinal = /^(c=([^,]*),r=([^,]*)(?:,[^p][^,]*)*),p=([A-Za-z0-9+/=]+)$/.exec(final.body.toString('utf8'));
    if (!clientFinal) return false;
    const [, withoutProof, binding, finalNonce, proofText] = clientFinal;
    if (binding !== Buffer.from(`${gs2},,`).toString('base64') || finalNonce !== nonce) return false;
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.from(proofText, 'base64');
    if (proof.length !== signature.length) return false;
    const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]));
    if (!timingSafeEqual(createHash('sha256').update(clientKey).digest(), storedKey)) return false;
    client.write(message('R', int32(12), Buffer.from(`v=${hmac(serverKey, authMessage).toString('base64')}`)));
    return true;
  }

  async function serve(client: net.Socket): Promise<void> {
    const inbox = reader(client);
    let params: Map<string, string> | undefined;
    while (!params) {
      const body = await inbox.startup();
      const code = body.readInt32BE(0);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) client.write('N');
      else if (code === CANCEL_REQUEST) {
        inbox.detach();
        client.end();
        return forwardCancel(body);
      } else if (code >> 16 !== 3) {
        client.end(fatal('0A000', `unsupported frontend protocol ${code >> 16}.${code & 0xffff}: the proxy speaks 3.0`));
        return;
      } else {
        params = startupParams(body.subarray(4));
        const options = [...params.keys()].filter((k) => k.startsWith('_pq_.'));
        // NegotiateProtocolVersion: a newer client falls back to 3.0 without the options it asked for.
        if ((code & 0xffff) !== 0 || options.length) client.write(message('v', int32(PROTOCOL_3_0), int32(options.length), ...options.map(cstring)));
      }
    }
    const user = params.get('user') ?? '';
    if (!(await scramLogin(inbox, client))) {
      log(`WARN: refused a client (user ${JSON.stringify(user)}): wrong password`);
      client.end(fatal('28P01', `password authentication failed for user "${user}"`));
      return;
    }
    const database = params.get('database') || user;
    if (!options.databases.includes(database)) {
      client.end(fatal('3D000', `database "${database}" is not one of this proxy's: ${options.databases.join(', ')}`));
      return;
    }
    if (params.has('replication')) {
      client.end(fatal('0A000', 'replication connections are not proxied'));
      return;
    }
    let upstream: { socket: tls.TLSSocket; first: Buffer };
    try {
      upstream = await loginUpstream(database, params);
    } catch (error) {
      const response = (error as { response?: Buffer }).response;
      client.end(response ?? fatal('08006', `the proxy could not reach ${host}:${port}: ${(error as Error).message}`));
      return;
    }
    log(`INFO: a client connected to ${database}`);
    const rest = inbox.detach();
    const { socket, first } = upstream;
    client.on('error', () => socket.destroy());
    socket.on('error', () => client.destroy());
    client.on('close', () => socket.destroy());
    socket.on('close', () => client.destroy());
    client.write(first);
    if (rest.length) socket.write(rest);
    socket.pipe(client);
    client.pipe(socket);
  }

  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    serve(client).catch(() => client.destroy());
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    password,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
