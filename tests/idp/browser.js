#!/usr/bin/env node
// Browser stand-in for latchkey tests: drives the test IdP's HTML pages with fetch,
// manual redirects and a cookie jar. No JS execution, no external deps.
//
//   node browser.js login  <authorize-url> [--user alice] [--password wonderland] [--deny] [--print|--follow]
//                          [--report-pages] [--jar PATH] [--ca PATH]
//   node browser.js device <verification-uri[-complete]> [--user-code CODE] [--user U] [--password P] [--deny]
//                          [--report-pages] [--jar PATH] [--ca PATH]
//   node browser.js open   <url> [--jar PATH] [--ca PATH]
//
// login --print (default): prints the final redirect URL (to the client's redirect_uri) on one
//   line; it is not fetched. --follow: GETs it and prints the HTTP status on line 1, then the body.
// device: exits 0 and prints "approved" (or "denied" with --deny) once the flow completed.
// --report-pages: one more line, "pages: <names>", the interaction pages passed (login, consent).
// open: GETs the URL, follows redirects within the IdP, submits a logout form if one is shown;
//   prints "status <N>" and the final URL (two lines); exit 0 on a 2xx/3xx final answer.
// --jar PATH: cookies persist in that JSON file across runs (one browser session).
// HTTPS: trust the test CA with NODE_EXTRA_CA_CERTS=<ca.pem> or --ca <ca.pem>.
// Any unexpected page/status (incl. a wrong password) -> message on stderr, exit 1.
'use strict';

const { spawnSync } = require('node:child_process');

function die(msg) {
  process.stderr.write(`browser.js: ${msg}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------- args
const argv = process.argv.slice(2);
const opts = { user: 'alice', password: 'wonderland', deny: false, mode: 'print', userCode: null, ca: null, jar: null, reportPages: false };
const positional = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => { if (i + 1 >= argv.length) die(`${a} needs a value`); return argv[++i]; };
  if (a === '--user') opts.user = val();
  else if (a === '--password') opts.password = val();
  else if (a === '--deny') opts.deny = true;
  else if (a === '--print') opts.mode = 'print';
  else if (a === '--follow') opts.mode = 'follow';
  else if (a === '--user-code') opts.userCode = val();
  else if (a === '--ca') opts.ca = val();
  else if (a === '--jar') opts.jar = val();
  else if (a === '--report-pages') opts.reportPages = true;
  else if (a.startsWith('--')) die(`unknown option ${a}`);
  else positional.push(a);
}
const [command, startUrl] = positional;
if (!['login', 'device', 'open'].includes(command) || !startUrl) {
  die('usage: browser.js login <authorize-url> [--user U] [--password P] [--deny] [--print|--follow] [--report-pages] [--jar PATH] [--ca PATH]\n'
    + '       browser.js device <verification-uri> [--user-code CODE] [--user U] [--password P] [--deny] [--report-pages] [--jar PATH] [--ca PATH]\n'
    + '       browser.js open <url> [--jar PATH] [--ca PATH]');
}

// Node's fetch cannot take a CA per request; re-exec with NODE_EXTRA_CA_CERTS instead.
if (opts.ca && process.env.NODE_EXTRA_CA_CERTS !== opts.ca) {
  const r = spawnSync(process.execPath, process.argv.slice(1), {
    stdio: 'inherit', env: { ...process.env, NODE_EXTRA_CA_CERTS: opts.ca },
  });
  process.exit(r.status ?? 1);
}

// ---------------------------------------------------------------- cookie jar (the IdP's origin)
// Without --jar the jar lives as long as this run. With --jar PATH it is loaded from and saved
// to that JSON file ({"cookies":[{origin,name,value,path,expires}]}; expires in ms or null),
// so that runs share a browser session; other origins' cookies in the file are kept as they are.
const nodeFs = require('node:fs');

const jar = new Map(); // key name|path -> { name, value, path, expires }
const idpOrigin = new URL(startUrl).origin;
let otherOrigins = [];

function loadJar() {
  if (!opts.jar || !nodeFs.existsSync(opts.jar)) return;
  let data;
  try { data = JSON.parse(nodeFs.readFileSync(opts.jar, 'utf8')); } catch (err) { die(`cannot read cookie jar ${opts.jar}: ${err.message}`); }
  for (const c of Array.isArray(data?.cookies) ? data.cookies : []) {
    if (c.origin !== idpOrigin) otherOrigins.push(c);
    else if (c.expires == null || c.expires > Date.now()) jar.set(`${c.name}|${c.path}`, { name: c.name, value: c.value, path: c.path, expires: c.expires ?? null });
  }
}
function saveJar() {
  if (!opts.jar) return;
  otherOrigins = otherOrigins.filter((c) => c.expires == null || c.expires > Date.now());
  const cookies = [...otherOrigins, ...[...jar.values()].map((c) => ({ origin: idpOrigin, ...c }))];
  const tmp = `${opts.jar}.${process.pid}.tmp`;
  nodeFs.writeFileSync(tmp, `${JSON.stringify({ cookies }, null, 1)}\n`);
  nodeFs.renameSync(tmp, opts.jar);
}
loadJar();

function storeCookies(res, url) {
  const setCookies = res.headers.getSetCookie();
  for (const sc of setCookies) {
    const [pair, ...attrs] = sc.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    let cpath = url.pathname.replace(/\/[^/]*$/, '') || '/';
    let expired = false;
    let expires = null;
    let maxAge = null;
    for (const attr of attrs) {
      const [k, v = ''] = attr.trim().split('=');
      const key = k.toLowerCase();
      if (key === 'path') cpath = v || '/';
      if (key === 'max-age') maxAge = Number(v);
      if (key === 'expires' && !Number.isNaN(Date.parse(v))) expires = Date.parse(v);
    }
    if (maxAge !== null && !Number.isNaN(maxAge)) expires = Date.now() + maxAge * 1000; // Max-Age wins
    if (expires !== null && expires <= Date.now()) expired = true;
    const id = `${name}|${cpath}`;
    if (expired) jar.delete(id); else jar.set(id, { name, value, path: cpath, expires });
  }
  if (setCookies.length) saveJar();
}
function cookieHeader(url) {
  if (url.origin !== idpOrigin) return null;
  const match = (p) => url.pathname === p || url.pathname.startsWith(p.endsWith('/') ? p : `${p}/`) || p === '/';
  const list = [...jar.values()].filter((c) => match(c.path) && (c.expires == null || c.expires > Date.now()))
    .sort((a, b) => b.path.length - a.path.length);
  return list.length ? list.map((c) => `${c.name}=${c.value}`).join('; ') : null;
}

async function request(method, url, form) {
  const u = new URL(url);
  const headers = { 'user-agent': 'latchkey-test-browser' };
  const ck = cookieHeader(u);
  if (ck) headers.cookie = ck;
  let body;
  if (form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  let res;
  try {
    res = await fetch(u, { method, headers, body, redirect: 'manual' });
  } catch (err) {
    die(`${method} ${u.href} failed: ${err.cause?.code || ''} ${err.cause?.message || err.message}`);
  }
  if (u.origin === idpOrigin) storeCookies(res, u);
  const text = await res.text();
  return { url: u, status: res.status, location: res.headers.get('location'), text };
}

// ---------------------------------------------------------------- tiny HTML form parser
const unesc = (s) => String(s).replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))
  .replace(/&quot;/g, '"').replace(/&#x27;|&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
function attrs(s) {
  const out = {};
  for (const m of s.matchAll(/([a-zA-Z_:.-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    out[m[1].toLowerCase()] = unesc(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}
function forms(html) {
  const list = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const a = attrs(m[1]);
    const fields = {};
    for (const im of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const ia = attrs(im[1]);
      if (ia.name) fields[ia.name] = ia.value ?? '';
    }
    const buttons = [];
    for (const bm of html.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)) {
      const ba = attrs(bm[1]);
      const inside = m[2].includes(bm[0]);
      if (inside || (a.id && ba.form === a.id)) buttons.push({ name: ba.name, value: ba.value, label: bm[2].trim() });
    }
    list.push({ action: a.action || '', method: (a.method || 'get').toUpperCase(), id: a.id, fields, buttons });
  }
  return list;
}
const pageText = (html) => html.replace(/<style[\s\S]*?<\/style>/gi, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 500);

// ---------------------------------------------------------------- flow driver
// Walks redirects and pages until isFinal(url) says a redirect target is the client's.
// onPage(res, forms) returns { form, fields } to submit, or a string result to stop with.
async function drive(first, isFinal, onPage) {
  let res = await request('GET', first);
  for (let step = 0; step < 40; step++) {
    if (res.status >= 300 && res.status < 400) {
      if (!res.location) die(`redirect without Location from ${res.url.href}`);
      const next = new URL(res.location, res.url);
      if (isFinal(next)) return { final: next };
      res = await request('GET', next.href);
      continue;
    }
    if (res.status !== 200) die(`unexpected HTTP ${res.status} at ${res.url.href}: ${pageText(res.text)}`);
    const action = onPage(res, forms(res.text));
    if (typeof action === 'string') return { result: action };
    const target = new URL(action.form.action || res.url.href, res.url);
    res = await request(action.form.method, target.href, { ...action.form.fields, ...action.fields });
  }
  return die('too many steps');
}

// Common handling of the login and consent pages (our server's /interaction pages).
const seen = { login: 0, consent: false, pages: [] };
function interactionPage(res, fs) {
  const login = fs.find((f) => /\/login$/.test(f.action));
  if (login) {
    if (seen.login++ > 0 || /id="error"/.test(res.text)) die(`login failed for user ${opts.user}: ${pageText(res.text)}`);
    seen.pages.push('login');
    return { form: login, fields: { username: opts.user, password: opts.password } };
  }
  const consent = fs.find((f) => /\/consent$/.test(f.action));
  if (consent) {
    seen.consent = true;
    seen.pages.push('consent');
    return { form: consent, fields: { decision: opts.deny ? 'deny' : 'approve' } };
  }
  return null;
}
function reportPages() {
  if (opts.reportPages) process.stdout.write(`pages: ${seen.pages.join(' ')}\n`);
}

async function login() {
  const authz = new URL(startUrl);
  const redirectUri = authz.searchParams.get('redirect_uri');
  const isFinal = (u) => {
    if (redirectUri) {
      const r = new URL(redirectUri);
      return u.origin === r.origin && u.pathname === r.pathname;
    }
    return u.origin !== idpOrigin || u.pathname === '/show-code';
  };
  const out = await drive(startUrl, isFinal, (res, fs) => {
    const a = interactionPage(res, fs);
    if (a) return a;
    return die(`unexpected page at ${res.url.href}: ${pageText(res.text)}`);
  });
  if (opts.mode === 'print') {
    process.stdout.write(`${out.final.href}\n`);
    reportPages();
    return;
  }
  let res;
  try {
    res = await fetch(out.final, { redirect: 'manual' });
  } catch (err) {
    die(`GET ${out.final.href} failed: ${err.cause?.message || err.message}`);
  }
  const body = await res.text();
  process.stdout.write(`${res.status}\n${body}`);
  if (opts.reportPages) process.stdout.write(`${body === '' || body.endsWith('\n') ? '' : '\n'}pages: ${seen.pages.join(' ')}\n`);
}

async function device() {
  const out = await drive(startUrl, () => false, (res, fs) => {
    if (/id="device-success"/.test(res.text)) return 'approved';
    const input = fs.find((f) => f.id === 'op.deviceInputForm');
    if (input && /id="error"/.test(res.text)) {
      if (opts.deny && seen.consent) return 'denied';
      die(`device flow error: ${pageText(res.text)}`);
    }
    if (input) {
      const code = opts.userCode || input.fields.user_code;
      if (!code) die('verification page asks for a user code; pass --user-code');
      return { form: input, fields: { user_code: code } };
    }
    // verification_uri_complete first renders a self-submitting (JS) form: submit it ourselves.
    if (fs.length === 1 && /forms\[0\]\.submit\(\)/.test(res.text)) return { form: fs[0], fields: {} };
    const confirm = fs.find((f) => f.id === 'op.deviceConfirmForm');
    if (confirm) return { form: confirm, fields: {} };
    const a = interactionPage(res, fs);
    if (a) return a;
    return die(`unexpected page at ${res.url.href}: ${pageText(res.text)}`);
  });
  if (opts.deny && out.result !== 'denied') die(`expected denial, got ${out.result}`);
  process.stdout.write(`${out.result}\n`);
  reportPages();
}

// GET a URL as a browser would (e.g. a logout URL): follow redirects while they stay at the IdP,
// submit a logout form (oidc-provider's end_session page, which a browser submits by script)
// with logout=yes; stop at any other page or at a redirect away from the IdP (not fetched).
async function open() {
  let res = await request('GET', startUrl);
  let submitted = 0;
  for (let step = 0; step < 40; step++) {
    if (res.status >= 300 && res.status < 400 && res.location) {
      const next = new URL(res.location, res.url);
      if (next.origin !== idpOrigin) return finish(res.status, next);
      res = await request('GET', next.href);
      continue;
    }
    const logoutForm = res.status === 200 && forms(res.text)
      .find((f) => f.id === 'op.logoutForm' || (f.method === 'POST' && /\/confirm$/.test(f.action) && 'xsrf' in f.fields));
    if (logoutForm && submitted++ === 0) {
      const target = new URL(logoutForm.action || res.url.href, res.url);
      res = await request('POST', target.href, { ...logoutForm.fields, logout: 'yes' });
      continue;
    }
    return finish(res.status, res.url);
  }
  return die('too many steps');
}
function finish(status, url) {
  process.stdout.write(`status ${status}\n${url.href}\n`);
  process.exit(status >= 200 && status < 400 ? 0 : 1);
}

({ login, device, open })[command]().catch((err) => die(err.stack || String(err)));
