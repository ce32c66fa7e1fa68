// A loopback reverse proxy in front of a test-bed registry that fails on
// purpose: the first N requests get 503 (or 429 with Retry-After), then every
// request passes through. Prints "ready <port>" and writes a count of the
// failures it injected and requests it passed to its stats file on each request.
//   node flaky-proxy.mjs <listenPort> <upstream host:port> <mode 503|429|429-always> <failures> <statsFile> [retryAfterSeconds]
import http from 'node:http';
import fs from 'node:fs';

const [port, upstream, mode, failuresArg, statsFile, retryAfter = '1'] = process.argv.slice(2);
let toFail = Number(failuresArg);
const stats = { injected: 0, passed: 0, times: [] };
const save = () => fs.writeFileSync(statsFile, JSON.stringify(stats));

const server = http.createServer((req, res) => {
  stats.times.push(Date.now());
  if (mode === '429-always' || toFail > 0) {
    toFail--;
    stats.injected++;
    save();
    req.resume();
    if (mode.startsWith('429')) {
      res.writeHead(429, { 'Retry-After': retryAfter, 'Content-Type': 'application/json' });
      res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
    } else {
      res.writeHead(503, { 'Content-Type': 'text/plain' });
      res.end('unavailable');
    }
    return;
  }
  stats.passed++;
  save();
  const [host, upPort] = upstream.split(':');
  const up = http.request({ host, port: Number(upPort), method: req.method, path: req.url, headers: { ...req.headers, host: upstream } }, (upRes) => {
    const headers = { ...upRes.headers };
    // Keep upload locations pointing at the proxy.
    if (headers.location) headers.location = headers.location.replace(`http://${upstream}`, `http://127.0.0.1:${port}`);
    res.writeHead(upRes.statusCode ?? 502, headers);
    upRes.pipe(res);
  });
  up.on('error', () => {
    res.writeHead(502);
    res.end();
  });
  req.pipe(up);
});
server.listen(Number(port), '127.0.0.1', () => {
  save();
  console.log(`ready ${port}`);
});
