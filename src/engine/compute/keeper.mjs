// The listener keeper (see listeners.ts): a child of the engine that holds a duplicate of every
// endpoint's listening socket, so a socket stays open while the engine hands it to a postmaster
// and takes it back. It never accepts. It exits with the engine (IPC channel closed).
const held = new Map();

process.on('message', (message, handle) => {
  const { cmd, port, id } = message;
  if (cmd === 'hold') {
    held.get(port)?.close();
    held.set(port, handle);
    process.send({ id, ok: true });
  } else if (cmd === 'give') {
    const socket = held.get(port);
    process.send({ id, ok: Boolean(socket) }, socket);
  } else if (cmd === 'drop') {
    held.get(port)?.close();
    held.delete(port);
    process.send({ id, ok: true });
  }
});

process.on('disconnect', () => process.exit(0));
