#!/usr/bin/env node
// An intercepting (TLS-inspecting) proxy, the attacker of tests/trust.rs: a profile or
// LATCHKEY_* variables that point latchkey at it and at its CA must not get a stored token
// through it.
//
// node mitm.js [--exit-on-stdin-eof]
//
// Makes its own attacker CA and a leaf certificate for 127.0.0.1 / localhost, listens on
// 127.0.0.1, and prints exactly one JSON line on stdout once listening:
//   {"ready":true,"port":PORT,"ca":"/abs/ca.pem"} (the attacker's CA)
// CONNECT tunnels are decrypted with the leaf certificate and each request is forwarded over
// HTTPS (certificates not checked) to 127.0.0.1 at the CONNECT target's port (a tunnel that
// carries plain http is read as it is, and forwarded over HTTP); plain proxy
// requests (absolute form, http://) are forwarded over HTTP to 127.0.0.1 at the URL's port.
// Every forwarded request is recorded as
//   {scheme, target:"host:port", method, path, headers, body, status, response}
// Control endpoints (origin-form requests to the proxy itself):
//   GET  /__mitm/seen     -> 200, the recorded entries in order (JSON array)
//   GET  /__mitm/tunnels  -> 200, every CONNECT target asked for, in order (JSON array)
//   POST /__mitm/reset    -> 200 {"ok":true}, forgets both
'use strict';

const http = require('node:http');
const https = require('node:https');
const tls = require('node:tls');
const { Duplex } = require('node:stream');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const log = (...a) => console.error('[mitm]', ...a);
const args = process.argv.slice(2);
for (const a of args) {
  if (a !== '--exit-on-stdin-eof') { console.error(`unknown argument: ${a}`); process.exit(2); }
}

// ---------------------------------------------------------------- attacker CA and leaf
// (certs.js, as the test provider's, with a CA of the attacker's own)
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-mitm-'));
const cleanup = () => fs.rmSync(tmpDir, { recursive: true, force: true });
process.on('exit', cleanup);
const makeCerts = () => require('./certs.js').makeCerts(tmpDir, 'attacker CA');

// ---------------------------------------------------------------- recording and forwarding
let seen = [];
let tunnels = [];
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'transfer-encoding', 'upgrade'];
const withoutHopByHop = (headers) => Object.fromEntries(
  Object.entries(headers).filter(([k]) => !HOP_BY_HOP.includes(k.toLowerCase())));

function readAll(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

// Records the request and forwards it to 127.0.0.1:port, whatever host the client named, then
// relays the (fully read) answer. The entry is complete before the client gets its answer.
async function intercept(req, res, scheme, target, port, reqPath) {
  const body = await readAll(req);
  const entry = { scheme, target, method: req.method, path: reqPath, headers: { ...req.headers },
    body: body.toString('utf8'), status: null, response: null };
  seen.push(entry);
  const headers = { ...withoutHopByHop(req.headers), host: target, 'content-length': String(body.length) };
  const mod = scheme === 'https' ? https : http;
  const upstream = mod.request({ host: '127.0.0.1', port, method: req.method, path: reqPath, headers,
    rejectUnauthorized: false, agent: false }, async (up) => {
    try {
      const answer = await readAll(up);
      entry.status = up.statusCode;
      entry.response = answer.toString('utf8');
      res.writeHead(up.statusCode, { ...withoutHopByHop(up.headers), 'content-length': String(answer.length) });
      res.end(answer);
    } catch (err) { fail(err); }
  });
  const fail = (err) => {
    log(`upstream ${scheme}://${target}${reqPath}: ${err.message}`);
    entry.status = 502;
    entry.response = `mitm: upstream failed: ${err.message}`;
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(entry.response);
  };
  upstream.on('error', fail);
  upstream.end(body);
}

function sendJson(res, status, obj) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(obj));
}

// ---------------------------------------------------------------- servers
const { ca, key, cert } = makeCerts();

// Requests read from CONNECT tunnels, decrypted or (plain http in a tunnel) as they came; the
// tunnel's target and scheme ride on the socket.
const inner = http.createServer((req, res) => {
  const { target, port, scheme } = req.socket.mitmTarget;
  intercept(req, res, scheme, target, port, req.url).catch((err) => { log(err.message); res.destroy(); });
});
inner.on('clientError', (err, socket) => socket.destroy());

const proxy = http.createServer((req, res) => {
  if (req.url === '/__mitm/seen' && req.method === 'GET') return sendJson(res, 200, seen);
  if (req.url === '/__mitm/tunnels' && req.method === 'GET') return sendJson(res, 200, tunnels);
  if (req.url === '/__mitm/reset' && req.method === 'POST') { seen = []; tunnels = []; return sendJson(res, 200, { ok: true }); }
  if (req.url.startsWith('/')) return sendJson(res, 404, { error: 'not a proxy request or control endpoint' });
  let url;
  try { url = new URL(req.url); } catch { return sendJson(res, 400, { error: 'bad request target' }); }
  if (url.protocol !== 'http:') return sendJson(res, 400, { error: 'only http:// in absolute form' });
  const port = Number(url.port || 80);
  return intercept(req, res, 'http', url.host, port, url.pathname + url.search)
    .catch((err) => { log(err.message); res.destroy(); });
});
proxy.on('clientError', (err, socket) => socket.destroy());
proxy.on('connect', (req, socket, head) => {
  const target = req.url; // host:port (or [v6]:port)
  tunnels.push(target);
  const port = Number(target.slice(target.lastIndexOf(':') + 1));
  socket.on('error', () => {});
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  if (head && head.length) socket.unshift(head);
  // The tunnel's first byte tells TLS (a handshake record, 0x16) from plain http, which a
  // tunnel carries as readably as a plain proxy request.
  socket.once('data', (first) => {
    socket.pause();
    socket.unshift(first);
    if (first[0] !== 0x16) {
      socket.mitmTarget = { target, port, scheme: 'http' };
      inner.emit('connection', socket);
      socket.resume();
      return;
    }
    // Terminate the client's TLS with the attacker's leaf (rejected unless it trusts our CA).
    // Through a stream of our own: the byte already read must reach TLS first, and a TLS
    // socket made over the connection itself would read past it, from the descriptor.
    const relay = new Duplex({
      read() {},
      write(chunk, _encoding, done) { socket.write(chunk, done); },
      final(done) { socket.end(); done(); },
    });
    socket.on('data', (chunk) => relay.push(chunk));
    socket.on('end', () => relay.push(null));
    socket.on('close', () => relay.destroy());
    const tlsSocket = new tls.TLSSocket(relay, { isServer: true, key, cert, ALPNProtocols: ['http/1.1'] });
    tlsSocket.mitmTarget = { target, port, scheme: 'https' };
    tlsSocket.on('error', () => socket.destroy()); // e.g. the client refused our certificate
    inner.emit('connection', tlsSocket);
    socket.resume();
  });
});

// ---------------------------------------------------------------- start and shutdown
const shutdown = () => {
  proxy.close();
  proxy.closeAllConnections?.();
  cleanup();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (args.includes('--exit-on-stdin-eof')) {
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}
proxy.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ ready: true, port: proxy.address().port, ca })}\n`);
});
