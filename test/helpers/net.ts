// Loopback ports for the tests' own servers (redis-server, nginx): finding a free one, probing one.
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/**
 * The first port of the kernel's ephemeral range (the local ports outgoing connections take).
 * Ports for servers started later are picked below it: a port from `listen(0)` is ephemeral, and
 * between its release and redis-server's bind any of the suite's many outgoing connections could
 * take it as its own local port (a cluster node once failed to start that way under load).
 */
const EPHEMERAL_FROM = (() => {
  try {
    return (
      Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768
    );
  } catch {
    return 32768;
  }
})();
const LOWEST = Math.max(1024, EPHEMERAL_FROM - 16384);

/** A free TCP port on 127.0.0.1, below the ephemeral range, for a server another process will bind. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = LOWEST + Math.floor(Math.random() * (EPHEMERAL_FROM - LOWEST));
    const s = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) continue; // taken: another process (or worker) has it
    await new Promise((r) => s.close(r));
    return port;
  }
}

/** Whether something accepts a TCP connection on 127.0.0.1:`port` now (a started server is up). */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
