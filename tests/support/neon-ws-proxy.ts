/**
 * A WebSocket-to-TCP proxy that lets Neon's serverless driver (the production path) reach the local
 * Postgres, as Neon's own wsproxy does in front of a Neon compute.
 *
 * How @neondatabase/serverless 1.2 uses it: for every connection the driver calls
 * `neonConfig.wsProxy(host, port)` (or appends `?address=host:port` to a string value) and opens
 * `(useSecureWebSocket ? 'wss:' : 'ws:') + '//' + thatValue`. So the value must carry no scheme; `url`
 * below is `127.0.0.1:<port>`, ready for NEON_WS_PROXY. The Postgres wire protocol then travels in
 * binary frames, one TCP stream per WebSocket. With `pipelineConnect=false` the driver waits for each
 * server reply (trust auth needs no password), and with `pipelineTLS=false` plus no sslmode there is no
 * TLS inside the tunnel, so this proxy copies bytes and never looks at them.
 *
 * It must never become an open relay: the only target it connects to is 127.0.0.1:5432 (or the one port a
 * test that runs its own Postgres names), and any other `address` is refused with 403 before the
 * WebSocket handshake completes.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

export interface NeonWsProxy {
  /** host:port without a scheme, the shape `neonConfig.wsProxy` expects (see above). */
  readonly url: string;
  /** WebSocket connections accepted and piped to Postgres so far. */
  readonly connectionsServed: number;
  /** Upgrade requests refused (bad or foreign `address`). */
  readonly refused: number;
  /** Cuts every open tunnel, as a suspended Neon compute or a network blip would. */
  dropConnections(): void;
  close(): Promise<void>;
}

const ALLOWED_HOSTS = new Set(['127.0.0.1', 'localhost']);
const DEFAULT_PORT = 5432;
/** Where an allowed `address` always goes: `localhost` is not resolved, so it cannot mean anything else. */
const TARGET_HOST = '127.0.0.1';
/** Pause reading from Postgres while this much is still waiting to go out over the WebSocket. */
const HIGH_WATER = 1 << 20;

/** Whether `?address=host:port` names the one target this proxy serves (exactly one `address`). */
export function allowedTarget(requestUrl: string | undefined, port = DEFAULT_PORT): boolean {
  const params = new URL(requestUrl ?? '/', 'http://proxy.invalid').searchParams;
  const addresses = params.getAll('address');
  if (addresses.length !== 1) return false;
  const match = /^([^:]+):(\d+)$/.exec(addresses[0] ?? '');
  return match !== null && ALLOWED_HOSTS.has(match[1] ?? '') && match[2] === String(port);
}

/** `targetPort`: the local Postgres port to serve instead of 5432 (a test's own server). */
export async function startNeonWsProxy(opts: { targetPort?: number } = {}): Promise<NeonWsProxy> {
  const targetPort = opts.targetPort ?? DEFAULT_PORT;
  const tunnels = new Set<{ ws: WebSocket; tcp: Socket }>();
  let connectionsServed = 0;
  let refused = 0;

  const http = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required\n');
  });
  const wss = new WebSocketServer({ noServer: true });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!allowedTarget(req.url, targetPort)) {
      refused += 1;
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      connectionsServed += 1;
      pipe(ws);
    });
  });

  function pipe(ws: WebSocket): void {
    // Writes made before the TCP connection opens are queued by net.Socket, so no buffering here.
    const tcp = connect({ host: TARGET_HOST, port: targetPort });
    tcp.setNoDelay(true);
    const tunnel = { ws, tcp };
    tunnels.add(tunnel);
    let closed = false;
    const teardown = () => {
      if (closed) return;
      closed = true;
      tunnels.delete(tunnel);
      tcp.destroy();
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
    };

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        // The driver only ever sends binary frames; anything else is not Postgres traffic.
        ws.close(1003, 'binary frames only');
        return;
      }
      tcp.write(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
    });
    tcp.on('data', (chunk: Buffer) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(chunk, { binary: true }, () => {
        if (tcp.isPaused() && ws.bufferedAmount < HIGH_WATER) tcp.resume();
      });
      if (ws.bufferedAmount >= HIGH_WATER) tcp.pause();
    });
    ws.on('close', teardown);
    ws.on('error', teardown);
    tcp.on('close', teardown);
    tcp.on('error', teardown);
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  const { port } = http.address() as AddressInfo;

  const dropConnections = () => {
    for (const { ws, tcp } of [...tunnels]) {
      tcp.destroy();
      ws.terminate();
    }
    tunnels.clear();
  };

  return {
    url: `127.0.0.1:${port}`,
    get connectionsServed() {
      return connectionsServed;
    },
    get refused() {
      return refused;
    },
    dropConnections,
    async close() {
      dropConnections();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve, reject) => {
        http.close((error) => (error ? reject(error) : resolve()));
        http.closeAllConnections();
      });
    },
  };
}
