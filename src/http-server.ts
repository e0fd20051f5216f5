/**
 * The health and metrics HTTP endpoint: GET /healthz (JSON, 503 when critical) and GET /metrics (Prometheus
 * text). Bound to 127.0.0.1 by default; it has no authentication, so it should not face the internet.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HealthReport } from './health.js';

export interface HttpEndpoints {
  readonly health: () => Promise<HealthReport>;
  readonly metrics: () => Promise<string>;
  readonly metricsContentType: string;
}

export interface RunningHttpServer {
  /** the port it listens on (useful when asked for port 0 in tests) */
  readonly port: number;
  close(): Promise<void>;
}

/** Listen on host:port; rejects when the port cannot be bound (the caller decides whether that is fatal). */
export async function startHttpServer(host: string, port: number, endpoints: HttpEndpoints): Promise<RunningHttpServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const fail = (error: unknown) => send(500, 'text/plain', `internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    if (path === '/healthz') {
      endpoints.health().then((report) => send(report.status === 'critical' ? 503 : 200, 'application/json', `${JSON.stringify(report)}\n`), fail);
    } else if (path === '/metrics') {
      endpoints.metrics().then((text) => send(200, endpoints.metricsContentType, text), fail);
    } else {
      send(404, 'text/plain', 'not found: try /healthz or /metrics\n');
    }
  });
  // Scrapers keep connections alive; they must not hold the shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
