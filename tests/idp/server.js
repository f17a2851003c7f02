#!/usr/bin/env node
// Local OpenID provider for latchkey integration tests (built on oidc-provider 8.x).
//
// node server.js [--port N] [--https] [--access-ttl S] [--device-ttl S]
//                [--json-token-requests] [--rfc8414 split|wrong-issuer]
//                [--client-auth basic|post] [--exit-on-stdin-eof]
//
// Prints exactly one JSON line on stdout once listening:
//   {"ready":true,"issuer":"http://127.0.0.1:PORT","port":PORT,"ca":null|"/abs/ca.pem"}
// Everything else goes to stderr. See README.md for the test-control endpoints.
'use strict';

const http = require('node:http');
const https = require('node:https');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

// oidc-provider prints NOTICEs with console.info (stdout). stdout is reserved for the
// readiness line, so route all console output to stderr. Also drop the (expected) warning
// about us having consumed the request body before the provider (see readBody below).
const log = (...a) => console.error('[idp]', ...a);
console.log = console.info = console.debug = (...a) => console.error(...a);
const origWarn = console.warn.bind(console);
console.warn = (...a) => {
  if (/already parsed request body|in-memory adapter/.test(String(a[0]))) return; // expected here
  origWarn(...a);
};

// ---------------------------------------------------------------- CLI
function parseArgs(argv) {
  const o = { port: 0, https: false, accessTtl: 3600, deviceTtl: 600, jsonToken: false, stdinEof: false, rfc8414: null, clientAuth: 'basic' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) { console.error(`bad value for ${a}`); process.exit(2); }
      return v;
    };
    const oneOf = (values) => {
      const v = argv[++i];
      if (!values.includes(v)) { console.error(`${a} takes one of ${values.join(', ')}`); process.exit(2); }
      return v;
    };
    if (a === '--port') o.port = num();
    else if (a === '--https') o.https = true;
    else if (a === '--access-ttl') o.accessTtl = num();
    else if (a === '--device-ttl') o.deviceTtl = num();
    else if (a === '--json-token-requests') o.jsonToken = true;
    else if (a === '--rfc8414') o.rfc8414 = oneOf(['split', 'wrong-issuer']);
    else if (a === '--client-auth') o.clientAuth = oneOf(['basic', 'post']);
    else if (a === '--exit-on-stdin-eof') o.stdinEof = true;
    else { console.error(`unknown argument: ${a}`); process.exit(2); }
  }
  return o;
}
const opts = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------- test user
const USER = {
  username: 'alice', password: 'wonderland',
  claims: { sub: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Liddell' },
};
const CLIENT_ID = 'latchkey-test';
// An installed-app client that must send a secret even with PKCE (as Google's "Desktop app"
// clients must), by the one method --client-auth names. All digits with a leading zero, so that
// a secret parsed as a number on its way in (from LATCHKEY_CLIENT_SECRET, say) fails to log in.
const SECRET_CLIENT = { id: 'latchkey-secret', secret: '0123456789' };
// What --rfc8414 takes out of OpenID discovery, to be found in RFC 8414 metadata only (as
// Django OAuth Toolkit lists them).
const RFC8414_ONLY = ['revocation_endpoint', 'device_authorization_endpoint'];

// ---------------------------------------------------------------- HTTPS material
let tmpDir = null;
function makeCerts() {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-idp-'));
  const p = (f) => path.join(tmpDir, f);
  const ossl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ossl('req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2',
    '-subj', '/CN=latchkey test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ossl('req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=127.0.0.1');
  fs.writeFileSync(p('ext.cnf'), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
  ].join('\n'));
  ossl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
    '-CAcreateserial', '-out', p('server.pem'), '-days', '2', '-extfile', p('ext.cnf'));
  return { ca: p('ca.pem'), key: fs.readFileSync(p('server.key')), cert: fs.readFileSync(p('server.pem')) };
}

// ---------------------------------------------------------------- test control state
const ENDPOINTS = ['token', 'authorize', 'device', 'revocation', 'discovery', 'metadata', 'jwks', 'userinfo', 'other'];
const state = { counters: {}, faults: [], last: {}, claims: {}, account: null };
function resetState() {
  state.counters = Object.fromEntries(ENDPOINTS.map((e) => [e, 0]));
  state.faults = [];
  state.last = {};
  state.claims = {};
  state.idTokenSubOnly = false;
  state.account = null;
}
// Every account a login has been finished as (POST /__test/account adds one); kept across
// resets, so that tokens issued to one stay usable.
const ACCOUNTS = new Set([USER.claims.sub]);

// The user's claims with the test's overrides (POST /__test/claims); a null override removes one.
function accountClaims(sub = USER.claims.sub) {
  const claims = { ...USER.claims, ...state.claims, sub };
  for (const k of Object.keys(claims)) if (claims[k] === null) delete claims[k];
  return claims;
}
resetState();

function endpointOf(pathname) {
  switch (pathname) {
    case '/token': return 'token';
    case '/device/auth': return 'device';
    case '/token/revocation': return 'revocation';
    case '/.well-known/openid-configuration': return 'discovery';
    case '/.well-known/oauth-authorization-server': return 'metadata';
    case '/jwks': return 'jwks';
    case '/me': return 'userinfo';
    case '/auth': return 'authorize'; // (/auth/<uid> interaction resumes count as "other")
    default: return 'other';
  }
}

// Pops the next queued fault for this endpoint (each fault has a remaining count).
function takeFault(endpoint) {
  const f = state.faults.find((x) => x.endpoint === endpoint && x.count > 0);
  if (!f) return null;
  f.count -= 1;
  state.faults = state.faults.filter((x) => x.count > 0);
  return f;
}

// ---------------------------------------------------------------- reshaped answers
// The `reshape` fault: the provider handles the request as always, and only the shape of its
// JSON answer changes on the way out, as other providers shape theirs. Each change applies to
// one top-level key when the answer has it.
const RESHAPES = {
  drop: () => undefined, // the key is left out
  list: (v) => String(v).split(' ').filter(Boolean), // "a b" -> ["a","b"]
  string: (v) => String(v), // 3600 -> "3600"
  upper: (v) => String(v).toUpperCase(),
  lower: (v) => String(v).toLowerCase(),
};
function validReshape(how) {
  return how && typeof how === 'object' && !Array.isArray(how)
    && Object.values(how).every((change) => Object.hasOwn(RESHAPES, change));
}
function reshapeAnswer(res, how) {
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    let body = chunk;
    try {
      const answer = JSON.parse(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
      if (answer && typeof answer === 'object' && !Array.isArray(answer)) {
        for (const [key, change] of Object.entries(how)) {
          if (!Object.hasOwn(answer, key)) continue;
          const value = RESHAPES[change](answer[key]);
          if (value === undefined) delete answer[key];
          else answer[key] = value;
        }
        body = JSON.stringify(answer);
        // koa set the length of the original body; the headers are not sent before end().
        if (!res.headersSent) res.setHeader('content-length', Buffer.byteLength(body));
      }
    } catch { /* not JSON: passed on as it is */ }
    return end(body, ...rest);
  };
}

// Edits the provider's JSON answer on its way out (the RFC 8414 switch).
function editJsonAnswer(res, edit) {
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    let body = chunk;
    try {
      const answer = JSON.parse(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
      edit(answer);
      body = JSON.stringify(answer);
      if (!res.headersSent) res.setHeader('content-length', Buffer.byteLength(body));
    } catch { /* not JSON: passed on as it is */ }
    return end(body, ...rest);
  };
}

// ---------------------------------------------------------------- small HTTP helpers
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
function sendJson(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}
function sendHtml(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>latchkey test IdP</title></head><body>${html}</body></html>`);
}
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
function parseBody(raw, ctype) {
  if (/application\/json/i.test(ctype || '')) {
    try { return { format: 'json', params: JSON.parse(raw || 'null') }; } catch { return { format: 'json-invalid', params: null }; }
  }
  if (/application\/x-www-form-urlencoded/i.test(ctype || '')) {
    return { format: 'form', params: Object.fromEntries(new URLSearchParams(raw)) };
  }
  return { format: raw ? 'other' : 'none', params: null };
}

// ---------------------------------------------------------------- interaction pages
function loginPage(uid, error) {
  return `<h1>Sign in</h1>${error ? `<p id="error" class="error">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label>Username <input type="text" name="username" autofocus></label><br>
<label>Password <input type="password" name="password"></label><br>
<button type="submit">Sign in</button></form>`;
}
function consentPage(uid, details) {
  const scopes = [...(details.params.scope || '').split(' ')].filter(Boolean);
  return `<h1>Authorize ${esc(details.params.client_id)}</h1>
<p>Requested scopes: ${scopes.map((s) => `<code>${esc(s)}</code>`).join(' ')}</p>
${details.params.resource ? `<p>Audience: <code>${esc(details.params.resource)}</code></p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/consent">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button></form>`;
}

async function handleInteraction(provider, req, res, url) {
  const m = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|consent))?$/);
  if (!m) return sendHtml(res, 404, '<p>not found</p>');
  const [, uid, action] = m;
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return sendHtml(res, 400, '<p>interaction mismatch</p>');

  if (!action && req.method === 'GET') {
    if (details.prompt.name === 'login') return sendHtml(res, 200, loginPage(uid));
    return sendHtml(res, 200, consentPage(uid, details));
  }
  if (req.method !== 'POST') return sendHtml(res, 405, '<p>method not allowed</p>');
  const form = Object.fromEntries(new URLSearchParams(await readBody(req)));

  if (action === 'login') {
    if (form.username !== USER.username || form.password !== USER.password) {
      log('login failed for', JSON.stringify(form.username));
      return sendHtml(res, 200, loginPage(uid, 'Wrong username or password.'));
    }
    return provider.interactionFinished(req, res,
      { login: { accountId: state.account || USER.claims.sub } }, { mergeWithLastSubmission: false });
  }

  // consent
  if (form.decision !== 'approve') {
    return provider.interactionFinished(req, res,
      { error: 'access_denied', error_description: 'End-User denied the authorization request' },
      { mergeWithLastSubmission: false });
  }
  const { prompt: { details: missing }, params, session } = details;
  let grant = details.grantId ? await provider.Grant.find(details.grantId) : null;
  if (!grant) grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

function showCodePage(url) {
  const q = url.searchParams;
  if (q.get('error')) {
    return `<h1>Authorization failed</h1><p>error: <code id="error">${esc(q.get('error'))}</code></p>
<p>error_description: <span id="error_description">${esc(q.get('error_description'))}</span></p>
<p>state: <code id="state">${esc(q.get('state'))}</code></p>`;
  }
  return `<h1>Copy this code into latchkey</h1>
<p>code: <code id="code">${esc(q.get('code'))}</code></p>
<p>state: <code id="state">${esc(q.get('state'))}</code></p>
<p>Full redirect URL (alternative to paste):</p><pre id="url">${esc(url.href)}</pre>`;
}

// ---------------------------------------------------------------- provider
// Started early (see main) so module loading and RSA key generation overlap.
const providerModule = import('oidc-provider');
const rsaKey = new Promise((resolve, reject) => {
  crypto.generateKeyPair('rsa', { modulusLength: 2048 }, (err, pub, priv) => (err ? reject(err) : resolve(priv)));
});

async function buildProvider(issuer) {
  const { default: Provider } = await providerModule;
  const privateKey = await rsaKey;
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

  // Scopes allowed on an API ("audience") access token: everything the client asked for.
  const requestedScopes = (ctx) => {
    const s = new Set(['openid', 'profile', 'email', 'offline_access']);
    const add = (v) => String(v || '').split(' ').filter(Boolean).forEach((x) => s.add(x));
    add(ctx.oidc?.params?.scope);
    for (const k of ['AuthorizationCode', 'RefreshToken', 'DeviceCode']) add(ctx.oidc?.entities?.[k]?.scope);
    return [...s].join(' ');
  };

  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_name: 'latchkey (test)',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      // Any port is accepted for loopback (RFC 8252 7.3, native built-in); any path and
      // <issuer>/show-code are accepted via the redirectUriAllowed patch below.
      redirect_uris: ['http://127.0.0.1/callback'],
    }, {
      client_id: SECRET_CLIENT.id,
      client_secret: SECRET_CLIENT.secret,
      client_name: 'latchkey (test, an installed app with a secret)',
      application_type: 'native',
      token_endpoint_auth_method: `client_secret_${opts.clientAuth}`,
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback'],
    }],
    // With --client-auth post, discovery lists client_secret_post alone (no Basic).
    ...(opts.clientAuth === 'post' ? { clientAuthMethods: ['none', 'client_secret_post'] } : {}),
    responseTypes: ['code'],
    jwks: { keys: [jwk] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
    conformIdTokenClaims: false, // put profile/email claims in the ID token, like Auth0
    async findAccount(ctx, sub) {
      if (!ACCOUNTS.has(sub)) return undefined;
      // `use` is 'id_token' or 'userinfo': /__test/claims can leave ID tokens with `sub` only,
      // as providers do whose ID tokens name nobody (the name is then in userinfo).
      return {
        accountId: sub,
        async claims(use) {
          const claims = accountClaims(sub);
          return use === 'id_token' && state.idTokenSubOnly ? { sub: claims.sub } : claims;
        },
      };
    },
    pkce: { required: () => true, methods: ['S256'] },
    rotateRefreshToken: true,
    // default issueRefreshToken: client allows refresh_token && granted scope has offline_access
    ttl: {
      AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL || opts.accessTtl,
      AuthorizationCode: 60,
      DeviceCode: opts.deviceTtl,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      deviceFlow: {
        enabled: true,
        userCodeInputSource(ctx, form, out, err) {
          const msg = err ? `<p id="error">${esc(out?.error_description || err.message || 'error')} (${esc(err.name)})</p>` : '';
          ctx.body = `<!DOCTYPE html><html><body><h1>Device sign-in</h1>${msg}${form}
<button type="submit" form="op.deviceInputForm">Continue</button></body></html>`;
        },
        userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
          ctx.body = `<!DOCTYPE html><html><body><h1>Confirm device</h1>
<p>Client: ${esc(client.clientId)}</p><p>Code: <code>${esc(userCode)}</code></p>${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button></body></html>`;
        },
        successSource(ctx) {
          ctx.body = '<!DOCTYPE html><html><body><h1 id="device-success">Device signed in</h1><p>You can return to your device.</p></body></html>';
        },
      },
      resourceIndicators: {
        enabled: true,
        // Token requests may omit resource/audience: use what was granted at /auth.
        defaultResource: (ctx, client, oneOf) => (oneOf ? oneOf[0] : undefined),
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => ({
          scope: requestedScopes(ctx),
          audience: resource,
          accessTokenTTL: opts.accessTtl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    async renderError(ctx, out, error) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><body><h1>Error</h1><pre id="error">${esc(JSON.stringify(out, null, 2))}</pre></body></html>`;
      log('renderError', out.error, out.error_description, error?.message);
    },
  });

  // Allow any path on loopback redirect URIs (any port is already allowed by oidc-provider for
  // native clients), plus the paste-flow page on this server.
  const origAllowed = provider.Client.prototype.redirectUriAllowed;
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
    if (origAllowed.call(this, value)) return true;
    let u;
    try { u = new URL(value); } catch { return false; }
    if (this.clientId !== CLIENT_ID && this.clientId !== SECRET_CLIENT.id) return false;
    if (u.href === `${issuer}/show-code`) return true;
    return u.protocol === 'http:' && u.hostname === '127.0.0.1' && !u.hash && !u.search;
  };

  provider.on('server_error', (ctx, err) => log('server_error', err));
  provider.on('grant.error', (ctx, err) => {
    if (!['authorization_pending', 'slow_down'].includes(err.error)) log('grant.error', err.error, err.error_description || '');
  });
  return provider;
}

// ---------------------------------------------------------------- request pipeline
// Authorization request tweaks (GET query or POST form), applied before the provider sees them.
function rewriteAuthorizeParams(q) {
  // Auth0-style audience -> RFC 8707 resource
  if (q.get('audience') && !q.get('resource')) q.set('resource', q.get('audience'));
  // oidc-provider drops offline_access unless prompt contains consent; Auth0 does not.
  // (Native clients always get the consent screen anyway, so nothing visible changes.)
  if ((q.get('scope') || '').split(' ').includes('offline_access')) {
    const prompts = new Set((q.get('prompt') || '').split(' ').filter(Boolean));
    if (!prompts.has('none')) { prompts.add('consent'); q.set('prompt', [...prompts].join(' ')); }
  }
}

async function main() {
  const t0 = Date.now();
  const tls = opts.https ? makeCerts() : null;
  let provider = null;
  let callback = null;

  const handler = async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    try {
      // -- test control endpoints (not counted)
      if (url.pathname.startsWith('/__test/')) {
        if (req.method === 'GET' && url.pathname === '/__test/counters') return sendJson(res, 200, state.counters);
        if (req.method === 'POST' && url.pathname === '/__test/reset') { await readBody(req); resetState(); return sendJson(res, 200, { ok: true }); }
        if (req.method === 'GET' && url.pathname === '/__test/last-request') {
          const ep = url.searchParams.get('endpoint') || 'token';
          return sendJson(res, state.last[ep] ? 200 : 404, state.last[ep] || { error: `no request recorded for ${ep}` });
        }
        if (req.method === 'POST' && url.pathname === '/__test/claims') {
          let c;
          try { c = JSON.parse(await readBody(req)); } catch { return sendJson(res, 400, { error: 'body must be JSON' }); }
          if (!c || typeof c !== 'object' || Array.isArray(c)) return sendJson(res, 400, { error: 'body must be a JSON object' });
          state.idTokenSubOnly = c.id_token === 'sub-only';
          delete c.id_token;
          state.claims = c;
          return sendJson(res, 200, { ok: true, claims: accountClaims() });
        }
        if (req.method === 'POST' && url.pathname === '/__test/account') {
          let a;
          try { a = JSON.parse(await readBody(req)); } catch { return sendJson(res, 400, { error: 'body must be JSON' }); }
          if (!a || typeof a.sub !== 'string' || !/^[a-z0-9-]{1,32}$/.test(a.sub)) return sendJson(res, 400, { error: 'body must be {"sub":"name"}' });
          ACCOUNTS.add(a.sub);
          state.account = a.sub;
          return sendJson(res, 200, { ok: true, sub: a.sub });
        }
        if (req.method === 'POST' && url.pathname === '/__test/fault') {
          let f;
          try { f = JSON.parse(await readBody(req)); } catch { return sendJson(res, 400, { error: 'body must be JSON' }); }
          const kinds = ['status_500', 'non_json', 'delay', 'invalid_grant', 'drop', 'slow_down', 'access_denied', 'expired_token',
            'status_401', 'invalid_client', 'unsupported_token_type', 'status_400_empty', 'reshape'];
          if (!ENDPOINTS.includes(f.endpoint) || !kinds.includes(f.kind)) {
            return sendJson(res, 400, { error: 'bad fault', endpoints: ENDPOINTS, kinds });
          }
          if (f.kind === 'reshape' && !validReshape(f.reshape)) {
            return sendJson(res, 400, { error: 'bad reshape', changes: Object.keys(RESHAPES) });
          }
          const fault = { endpoint: f.endpoint, kind: f.kind, count: Number.isInteger(f.count) ? f.count : 1, delay_ms: Number(f.delay_ms) || 0, reshape: f.reshape };
          state.faults.push(fault);
          return sendJson(res, 200, { ok: true, queued: state.faults });
        }
        return sendJson(res, 404, { error: 'unknown test endpoint' });
      }

      const endpoint = endpointOf(url.pathname);
      state.counters[endpoint] += 1;

      // -- our own pages
      if (url.pathname === '/show-code' && req.method === 'GET') return sendHtml(res, 200, showCodePage(new URL(req.url, issuer)));
      if (url.pathname.startsWith('/interaction/')) return await handleInteraction(provider, req, res, url);

      // -- read + record bodies of POSTs that go to the provider
      let raw = null;
      const ctype = req.headers['content-type'] || '';
      if (req.method === 'POST') raw = await readBody(req);
      const parsed = parseBody(raw, ctype);
      state.last[endpoint] = {
        method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams),
        content_type: ctype || null, body_format: parsed.format, params: parsed.params, raw_body: raw,
        headers: req.headers,
      };

      // -- injected faults
      const fault = takeFault(endpoint);
      if (fault) {
        log(`fault ${fault.kind} on ${endpoint}`);
        switch (fault.kind) {
          case 'status_500': return sendJson(res, 500, { error: 'server_error', error_description: 'injected' });
          case 'non_json': return sendHtml(res, 200, '<h1>Injected non-JSON response</h1>');
          case 'drop': req.socket.destroy(); return undefined;
          case 'status_401': return sendJson(res, 401, { error: 'access_denied', error_description: 'Unauthorized' });
          // What some servers answer a dead refresh token with: a bare 400, no OAuth error.
          case 'status_400_empty': res.writeHead(400, { 'content-length': '0' }); return res.end();
          case 'delay': await new Promise((r) => setTimeout(r, fault.delay_ms)); break;
          case 'reshape': reshapeAnswer(res, fault.reshape); break;
          default: return sendJson(res, 400, { error: fault.kind, error_description: 'injected' });
        }
      }

      // -- the installed-app client's secret, by the one method the server allows: oidc-provider
      // itself takes either form for both methods; a strict provider does not.
      if (['token', 'revocation', 'device'].includes(endpoint) && raw !== null) {
        const basic = req.headers.authorization !== undefined;
        const posted = Boolean(parsed.params && typeof parsed.params === 'object' && 'client_secret' in parsed.params);
        if ((opts.clientAuth === 'post' && basic) || (opts.clientAuth === 'basic' && posted)) {
          return sendJson(res, 401, { error: 'invalid_client', error_description: `client secrets go by client_secret_${opts.clientAuth} only` });
        }
      }

      // -- RFC 8414 metadata (--rfc8414): a copy of discovery at its well-known path, and
      // discovery without what only it is to carry
      if (opts.rfc8414 && req.method === 'GET' && endpoint === 'discovery') {
        editJsonAnswer(res, (doc) => { for (const key of RFC8414_ONLY) delete doc[key]; });
      }
      if (opts.rfc8414 && req.method === 'GET' && endpoint === 'metadata') {
        req.url = '/.well-known/openid-configuration';
        if (opts.rfc8414 === 'wrong-issuer') editJsonAnswer(res, (doc) => { doc.issuer = `${doc.issuer}/elsewhere`; });
      }

      // -- request rewriting before the provider sees it
      if (endpoint === 'authorize' && req.method === 'GET') {
        rewriteAuthorizeParams(url.searchParams);
        req.url = url.pathname + url.search;
      }
      if (raw !== null) {
        let body = raw;
        let newType = null;
        if (endpoint === 'token' && opts.jsonToken && parsed.format === 'json' && parsed.params && typeof parsed.params === 'object') {
          body = new URLSearchParams(Object.entries(parsed.params).map(([k, v]) => [k, String(v)])).toString();
          newType = 'application/x-www-form-urlencoded';
        }
        if (['token', 'device', 'authorize'].includes(endpoint) && /x-www-form-urlencoded/i.test(newType || ctype)) {
          const p = new URLSearchParams(body);
          if (endpoint === 'authorize') rewriteAuthorizeParams(p);
          else if (p.get('audience') && !p.get('resource')) p.set('resource', p.get('audience'));
          body = p.toString();
        }
        if (newType) req.headers['content-type'] = newType;
        req.headers['content-length'] = String(Buffer.byteLength(body));
        req.body = body; // oidc-provider falls back to req.body when the stream was consumed
      }
      return await callback(req, res);
    } catch (err) {
      log('handler error', err);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: String(err.message) });
      return undefined;
    }
  };

  const server = tls
    ? https.createServer({ key: tls.key, cert: tls.cert }, handler)
    : http.createServer(handler);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  provider = await buildProvider(issuer);
  callback = provider.callback();

  // -- shutdown handling
  let closing = false;
  const shutdown = (why) => {
    if (closing) return;
    closing = true;
    log(`shutting down (${why})`);
    server.close();
    server.closeAllConnections?.();
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  if (opts.stdinEof) {
    process.stdin.on('end', () => shutdown('stdin EOF'));
    process.stdin.on('error', () => shutdown('stdin error'));
    process.stdin.resume();
  }

  log(`listening on ${issuer} (startup ${Date.now() - t0} ms)`);
  process.stdout.write(`${JSON.stringify({ ready: true, issuer, port, ca: tls ? tls.ca : null })}\n`);
}

main().catch((err) => {
  console.error('[idp] fatal:', err);
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  process.exit(1);
});
