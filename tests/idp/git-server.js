#!/usr/bin/env node
// A git smart-HTTP server whose passwords are OAuth access tokens, for end-to-end tests of
// latchkey's git credential helper. Node's standard library only (no npm install needed); needs
// `git` on PATH.
//
// node git-server.js --issuer URL [--ca FILE] --root DIR [--port N] [--exit-on-stdin-eof]
//
// Serves the repositories under DIR (which the test creates, e.g. `git init --bare DIR/repo.git`)
// with git's CGI program `git http-backend`, fetch and push. Every request but the control
// endpoints needs HTTP Basic auth whose password the provider's UserInfo endpoint takes as a
// bearer token (answers 200); otherwise 401 with `WWW-Authenticate: Basic realm="latchkey-test"`.
// Accepted passwords are remembered for 30 s; refusals never are.
//
// Prints exactly one JSON line on stdout once listening:
//   {"ready":true,"port":PORT,"url":"http://127.0.0.1:PORT"}
// Everything else goes to stderr. Control endpoints (no auth):
//   GET  /_log    -> 200, every other request so far, in order: [{method, path, username, authorized}]
//   POST /_reset  -> 200 {"ok":true}, forgets the log and the remembered passwords
'use strict';

const http = require('node:http');
const https = require('node:https');
const tls = require('node:tls');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');

const log = (...a) => console.error('[git-server]', ...a);

// ---------------------------------------------------------------- CLI
function parseArgs(argv) {
  const o = { issuer: null, ca: null, root: null, port: 0, stdinEof: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) { console.error(`${a} needs a value`); process.exit(2); }
      return argv[++i];
    };
    if (a === '--issuer') o.issuer = val();
    else if (a === '--ca') o.ca = val();
    else if (a === '--root') o.root = val();
    else if (a === '--port') {
      o.port = Number(val());
      if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) { console.error(`bad value for ${a}`); process.exit(2); }
    } else if (a === '--exit-on-stdin-eof') o.stdinEof = true;
    else { console.error(`unknown argument: ${a}`); process.exit(2); }
  }
  if (!o.issuer || !o.root) {
    console.error('usage: node git-server.js --issuer URL [--ca FILE] --root DIR [--port N] [--exit-on-stdin-eof]');
    process.exit(2);
  }
  return o;
}
const opts = parseArgs(process.argv.slice(2));

const REALM = 'latchkey-test';
const CACHE_MS = 30_000;
const PROVIDER_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------- talking to the provider
// With --ca, that CA (PEM) is trusted for https besides the usual roots.
const caPem = opts.ca ? fs.readFileSync(opts.ca, 'utf8') : null;
const httpsAgent = new https.Agent({ keepAlive: true, ca: caPem ? [...tls.rootCertificates, caPem] : undefined });
const httpAgent = new http.Agent({ keepAlive: true });

// GET url -> { status, body } (body as text).
function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, {
      method: 'GET', headers: { accept: 'application/json', ...headers },
      agent: u.protocol === 'https:' ? httpsAgent : httpAgent, timeout: PROVIDER_TIMEOUT_MS,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PROVIDER_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

// The UserInfo endpoint, from discovery (fetched once, at start).
async function discoverUserinfo(issuer) {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let status;
  let body;
  try { ({ status, body } = await get(url)); } catch (err) { throw new Error(`${url}: ${err.message}`); }
  if (status !== 200) throw new Error(`${url}: HTTP ${status}`);
  const endpoint = JSON.parse(body).userinfo_endpoint;
  if (typeof endpoint !== 'string' || !endpoint) throw new Error(`${url} names no userinfo_endpoint`);
  return endpoint;
}

let userinfoEndpoint = null;
let accepted = new Map(); // password -> time (ms) until which it counts as accepted

// Is this password an access token the provider takes? Only a 200 from UserInfo says yes.
async function passwordAccepted(password) {
  if (!password) return false;
  const until = accepted.get(password);
  if (until !== undefined && until > Date.now()) return true;
  accepted.delete(password);
  try {
    const { status, body } = await get(userinfoEndpoint, { authorization: `Bearer ${password}` });
    if (status === 200) {
      accepted.set(password, Date.now() + CACHE_MS);
      return true;
    }
    log(`userinfo refused the password: HTTP ${status} ${body.slice(0, 200)}`);
  } catch (err) {
    log(`userinfo request failed (password refused): ${err.message}`);
  }
  return false;
}

// Authorization: Basic base64(user:password) -> { username, password }, or null.
function basicCredentials(header) {
  const m = /^basic\s+([A-Za-z0-9+/=._~-]*)\s*$/i.exec(header || '');
  if (!m) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

// ---------------------------------------------------------------- git http-backend (CGI)
const gitExecPath = execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim();
const backend = path.join(gitExecPath, 'git-http-backend');
const root = path.resolve(opts.root);

// The environment of every http-backend run: ours without GIT_* variables (a caller's GIT_DIR
// and the like must not leak in; GIT_TRACE* is kept for debugging) and without the caller's
// system and global git configuration, so that the server behaves the same anywhere.
const baseEnv = Object.fromEntries(Object.entries(process.env)
  .filter(([k]) => !k.startsWith('GIT_') || k.startsWith('GIT_TRACE')));
Object.assign(baseEnv, {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  // Push (receive-pack) for the authenticated users that reach http-backend. (It would allow it
  // anyway with REMOTE_USER set; this says so.)
  GIT_CONFIG_COUNT: '1',
  GIT_CONFIG_KEY_0: 'http.receivepack',
  GIT_CONFIG_VALUE_0: 'true',
});

const children = new Set();
const NOT_HTTP_VARS = new Set(['authorization', 'proxy-authorization', 'content-type', 'content-length']);

function runBackend(req, res, username) {
  const q = req.url.indexOf('?');
  const rawPath = q < 0 ? req.url : req.url.slice(0, q);
  let pathInfo;
  try { pathInfo = decodeURIComponent(rawPath); } catch { return sendText(res, 400, 'bad path\n'); }
  const { port } = req.socket.address();
  const env = {
    ...baseEnv,
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: 'latchkey-git-server',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    SERVER_NAME: '127.0.0.1',
    SERVER_PORT: String(port),
    REQUEST_METHOD: req.method,
    REQUEST_URI: req.url,
    SCRIPT_NAME: '',
    PATH_INFO: pathInfo,
    QUERY_STRING: q < 0 ? '' : req.url.slice(q + 1),
    REMOTE_ADDR: req.socket.remoteAddress || '127.0.0.1',
    REMOTE_USER: username,
    AUTH_TYPE: 'Basic',
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
  };
  if (req.headers['content-type'] !== undefined) env.CONTENT_TYPE = req.headers['content-type'];
  // Without a length (a chunked body) http-backend reads the body up to EOF.
  if (req.headers['content-length'] !== undefined) env.CONTENT_LENGTH = req.headers['content-length'];
  if (req.headers['git-protocol'] !== undefined) env.GIT_PROTOCOL = req.headers['git-protocol'];
  // The other headers as CGI's HTTP_*; among them HTTP_CONTENT_ENCODING, with which http-backend
  // inflates a gzip body itself (the body is passed on as it came).
  for (const [name, value] of Object.entries(req.headers)) {
    if (NOT_HTTP_VARS.has(name)) continue;
    env[`HTTP_${name.toUpperCase().replace(/-/g, '_')}`] = Array.isArray(value) ? value.join(', ') : value;
  }

  const child = spawn(backend, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let stderrText = '';
  child.stderr.on('data', (c) => { stderrText += c; });
  child.on('error', (err) => {
    log(`cannot run ${backend}: ${err.message}`);
    if (!res.headersSent) sendText(res, 500, 'git http-backend failed\n');
    else res.destroy();
  });
  child.on('close', (code, signal) => {
    children.delete(child);
    if (stderrText.trim()) log(`http-backend (${req.method} ${req.url}): ${stderrText.trim()}`);
    if (code !== 0) log(`http-backend exited with ${signal || code} for ${req.method} ${req.url}`);
    if (!res.headersSent) sendText(res, 502, 'git http-backend gave no answer\n');
  });
  // http-backend may answer (a 404, say) without reading the body.
  child.stdin.on('error', () => {});
  req.pipe(child.stdin);
  // The client went away before the end of the answer: stop the backend.
  res.on('close', () => { if (!res.writableFinished && child.exitCode === null) child.kill('SIGTERM'); });

  // CGI answer: header lines (Status: among them), an empty line, then the body, streamed.
  let head = Buffer.alloc(0);
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const crlf = head.indexOf('\r\n\r\n');
    const lf = head.indexOf('\n\n');
    let end = -1;
    let sep = 0;
    if (crlf >= 0 && (lf < 0 || crlf < lf)) { end = crlf; sep = 4; } else if (lf >= 0) { end = lf; sep = 2; }
    if (end < 0) {
      if (head.length > 64 * 1024) { log('http-backend header too long'); child.kill('SIGTERM'); res.destroy(); }
      return;
    }
    child.stdout.pause();
    child.stdout.removeListener('data', onData);
    let status = 200;
    let reason;
    const headers = [];
    for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') {
        const m = /^(\d{3})\s*(.*)$/.exec(value);
        if (m) { status = Number(m[1]); reason = m[2] || undefined; }
      } else {
        if (name.toLowerCase() === 'location' && status === 200) status = 302;
        headers.push(name, value);
      }
    }
    res.writeHead(status, reason, headers);
    const rest = head.subarray(end + sep);
    if (rest.length) res.write(rest);
    child.stdout.pipe(res);
  };
  child.stdout.on('data', onData);
}

// ---------------------------------------------------------------- the server
let requests = []; // {method, path, username, authorized}

function sendText(res, status, text, headers = {}) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}
function sendJson(res, status, obj) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(obj));
}

async function handle(req, res) {
  const pathname = req.url.split('?')[0];
  if (pathname === '/_log' || pathname === '/_reset') {
    req.resume();
    if (pathname === '/_log' && req.method === 'GET') return sendJson(res, 200, requests);
    if (pathname === '/_reset' && req.method === 'POST') {
      requests = [];
      accepted = new Map();
      return sendJson(res, 200, { ok: true });
    }
    return sendJson(res, 405, { error: 'method not allowed' });
  }

  const creds = basicCredentials(req.headers.authorization);
  const authorized = creds ? await passwordAccepted(creds.password) : false;
  requests.push({ method: req.method, path: req.url, username: creds ? creds.username : null, authorized });
  log(`${req.method} ${req.url} user=${creds ? JSON.stringify(creds.username) : '-'} ${authorized ? 'authorized' : '401'}`);
  if (!authorized) {
    req.resume(); // read and drop the body, so that the connection can be reused
    return sendText(res, 401, 'authentication required\n', { 'www-authenticate': `Basic realm="${REALM}"` });
  }
  return runBackend(req, res, creds.username);
}

async function main() {
  if (!fs.statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`--root ${root} is not a directory`);
  if (!fs.existsSync(backend)) throw new Error(`no ${backend} (git --exec-path)`);
  userinfoEndpoint = await discoverUserinfo(opts.issuer);
  log(`userinfo endpoint: ${userinfoEndpoint}`);

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      log('handler error', err);
      if (!res.headersSent) sendText(res, 500, `git-server: ${err.message}\n`);
      else res.destroy();
    });
  });
  server.on('clientError', (err, socket) => socket.destroy());
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', resolve);
  });
  const { port } = server.address();

  let closing = false;
  const shutdown = (why) => {
    if (closing) return;
    closing = true;
    log(`shutting down (${why})`);
    for (const child of children) child.kill('SIGTERM');
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  if (opts.stdinEof) {
    process.stdin.on('end', () => shutdown('stdin EOF'));
    process.stdin.on('close', () => shutdown('stdin closed'));
    process.stdin.on('error', () => shutdown('stdin error'));
    process.stdin.resume();
  }

  const url = `http://127.0.0.1:${port}`;
  log(`serving ${root} on ${url}`);
  process.stdout.write(`${JSON.stringify({ ready: true, port, url })}\n`);
}

main().catch((err) => {
  console.error('[git-server] fatal:', err.message);
  process.exit(1);
});
