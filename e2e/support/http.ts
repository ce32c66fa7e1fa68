// A static HTTP server on 127.0.0.1 in its own process (the harness blocks
// this one while the action runs), serving a directory: a release mirror.
import { spawn } from 'node:child_process';

export interface StaticServer {
  url: string;
  stop(): void;
}

export async function serveDirectory(root: string): Promise<StaticServer> {
  const port = 18000 + Math.floor(Math.random() * 1000);
  const server = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', root], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${url}/`).then(
        () => true,
        () => false,
      )
    )
      return { url, stop: () => server.kill() };
    await new Promise((r) => setTimeout(r, 100));
  }
  server.kill();
  throw new Error(`the mirror on ${url} did not come up`);
}
