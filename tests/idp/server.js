#!/usr/bin/env node
// Local OpenID provider for latchkey integration tests (built on oidc-provider 8.x).
//
// node server.js [--port N] [--https] [--auth0] [--access-ttl S] [--device-ttl S]
//                [--json-token-requests] [--rfc8414 split|wrong-issuer] [--entra]
//                [--client-auth basic|post] [--device-pkce required|unadvertised]
//                [--exit-on-stdin-eof]
//
// Prints exactly one JSON line on stdout once listening:
//   {"ready":true,"issuer":"http://127.0.0.1:PORT","port":PORT,"ca":null|"/abs/ca.pem"}
// (with --auth0: "issuer":"https://127.0.0.1:PORT/", trailing slash, as an Auth0 tenant's)
// Everything else goes to stderr. See README.md for the test-control endpoints.
'use strict';

const http = require('node:http');
const https = require('node:https');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { AsyncLocalStorage } = require('node:async_hooks');

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
  const o = { port: 0, https: false, accessTtl: 3600, deviceTtl: 600, jsonToken: false, stdinEof: false, rfc8414: null, clientAuth: 'basic', auth0: false, devicePkce: null };
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
    else if (a === '--auth0') { o.auth0 = true; o.https = true; }
    else if (a === '--access-ttl') o.accessTtl = num();
    else if (a === '--device-ttl') o.deviceTtl = num();
    else if (a === '--json-token-requests') o.jsonToken = true;
    else if (a === '--rfc8414') o.rfc8414 = oneOf(['split', 'wrong-issuer']);
    else if (a === '--client-auth') o.clientAuth = oneOf(['basic', 'post']);
    else if (a === '--entra') o.entra = true;
    else if (a === '--device-pkce') o.devicePkce = oneOf(['required', 'unadvertised']);
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

// The provider's paths: oidc-provider's defaults, or (--auth0) the fixed paths of an Auth0
// tenant, which latchkey uses for Auth0 ("domain") profiles without discovery.
const PATHS = opts.auth0 ? {
  authorization: '/authorize',
  token: '/oauth/token',
  revocation: '/oauth/revoke',
  device_authorization: '/oauth/device/code',
  code_verification: '/activate',
  userinfo: '/userinfo',
  jwks: '/.well-known/jwks.json',
  end_session: '/oidc/logout',
} : {
  authorization: '/auth',
  token: '/token',
  revocation: '/token/revocation',
  device_authorization: '/device/auth',
  code_verification: '/device',
  userinfo: '/me',
  jwks: '/jwks',
  end_session: '/session/end',
};

// --auth0: the tenant's organizations (alice, and any account of /__test/account, is a member
// of both). `organization` on /authorize names one by id or (case-insensitively) by name.
const ORGS = [
  { id: 'org_acme123', name: 'acme' },
  { id: 'org_globex456', name: 'globex' },
];
function findOrg(value) {
  const v = String(value ?? '').toLowerCase();
  return ORGS.find((o) => o.id.toLowerCase() === v || o.name === v);
}

// The application's refresh-token policy (Auth0's Multi-Resource Refresh Token): the APIs a
// refresh may ask an access token for besides the login's own audience, with their scopes.
// Also offered (as RFC 8707 `resource`) in the normal mode.
const POLICY_APIS = {
  'https://billing.example.com/': ['read:invoices', 'write:invoices'],
  'https://reports.example.com/': ['read:reports'],
};
const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

// ---------------------------------------------------------------- HTTPS material
let tmpDir = null;
function makeCerts() {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-idp-'));
  return require('./certs.js').makeCerts(tmpDir, 'latchkey test CA');
}

// ---------------------------------------------------------------- test control state
const ENDPOINTS = ['token', 'authorize', 'device', 'revocation', 'discovery', 'metadata', 'jwks', 'userinfo', 'logout', 'other'];
const state = { counters: {}, faults: [], last: {}, claims: {}, account: null, lastLogout: null };
function resetState() {
  state.counters = Object.fromEntries(ENDPOINTS.map((e) => [e, 0]));
  state.faults = [];
  state.last = {};
  state.claims = {};
  state.idTokenSubOnly = false;
  state.account = null;
  state.lastLogout = null;
  state.devicePkce = { challenges: 0, verifiers: 0, verified: 0 };
}
// Every account a login has been finished as (POST /__test/account adds one); kept across
// resets, so that tokens issued to one stay usable.
const ACCOUNTS = new Set([USER.claims.sub]);
// The PKCE challenge each device code was asked for with (device code -> {challenge, method}).
// oidc-provider drops code_challenge at its device endpoint (RFC 8628 has no PKCE), so the server
// keeps it, to count the polls' verifiers and, with --device-pkce required, check them. Kept
// across resets, as a login may outlive one.
const DEVICE_CHALLENGES = new Map();
// --auth0: the organization each grant was given for (grant id -> ORGS entry), so that the code
// exchange and every later refresh of that grant name it. Kept across resets, as ACCOUNTS is.
const GRANT_ORGS = new Map();

// The user's claims with the test's overrides (POST /__test/claims); a null override removes one.
// With an organization (--auth0), its org_id / org_name come first, so overrides win.
function accountClaims(sub = USER.claims.sub, org = undefined) {
  const orgClaims = org ? { org_id: org.id, org_name: org.name } : {};
  const claims = { ...USER.claims, ...orgClaims, ...state.claims, sub };
  for (const k of Object.keys(claims)) if (claims[k] === null) delete claims[k];
  return claims;
}
resetState();

function endpointOf(pathname) {
  switch (pathname) {
    case PATHS.token: return 'token';
    case PATHS.device_authorization: return 'device';
    case PATHS.revocation: return 'revocation';
    case '/.well-known/openid-configuration': return 'discovery';
    case '/.well-known/oauth-authorization-server': return 'metadata';
    case PATHS.jwks: return 'jwks';
    case PATHS.userinfo: return 'userinfo';
    case PATHS.authorization: return 'authorize'; // (/auth/<uid> interaction resumes count as "other")
    case PATHS.end_session: return 'logout'; // (its /confirm and /success count as "other")
    case '/v2/logout': return opts.auth0 ? 'logout' : 'other';
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

// ---------------------------------------------------------------- PKCE on the device grant
// What Keycloak does for a client whose "PKCE method" is set (S256), as its device endpoint and
// token endpoint word it (AuthorizationEndpointChecker, PkceUtils): a device authorization
// request without a fitting challenge is a 400 invalid_request, a poll without the matching
// verifier a 400 invalid_grant.
const PKCE_VALUE = /^[A-Za-z0-9._~-]{43,128}$/; // RFC 7636 §4.1 / §4.2
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

function keycloakDeviceRefusal(challenge, method) {
  const refuse = (error_description) => ({ error: 'invalid_request', error_description });
  if (method === null) return refuse('Missing parameter: code_challenge_method');
  if (method !== 'S256') return refuse('Invalid parameter: code challenge method is not matching the configured one');
  if (challenge === null) return refuse('Missing parameter: code_challenge');
  if (!PKCE_VALUE.test(challenge)) return refuse('Invalid parameter: code_challenge');
  return null;
}

// A device authorization request (form params `p`): an answer to send instead of asking the
// provider (--device-pkce required), or null; a challenge is remembered under the device code
// the provider answers with.
function devicePkceRequest(p, res) {
  const challenge = p.get('code_challenge');
  const method = p.get('code_challenge_method');
  if (opts.devicePkce === 'required') {
    const refusal = keycloakDeviceRefusal(challenge, method);
    if (refusal) return refusal;
  }
  if (challenge === null) return null;
  state.devicePkce.challenges += 1;
  editJsonAnswer(res, (answer) => {
    if (typeof answer?.device_code === 'string') DEVICE_CHALLENGES.set(answer.device_code, { challenge, method: method ?? 'plain' });
  });
  return null;
}

// A poll of the token endpoint (form params `p`): counted, and with --device-pkce required
// refused unless its verifier matches its device code's challenge (an answer to send), or null.
function devicePkcePoll(p) {
  const stored = DEVICE_CHALLENGES.get(p.get('device_code') ?? '');
  const verifier = p.get('code_verifier');
  if (verifier !== null) state.devicePkce.verifiers += 1;
  const derived = verifier !== null && stored?.method === 'S256'
    ? crypto.createHash('sha256').update(verifier).digest('base64url')
    : verifier;
  const matches = Boolean(stored) && verifier !== null && derived === stored.challenge;
  if (matches) state.devicePkce.verified += 1;
  if (opts.devicePkce !== 'required' || !stored) return null;
  const refuse = (error_description) => ({ error: 'invalid_grant', error_description });
  if (verifier === null) return refuse('PKCE code verifier not specified');
  if (!PKCE_VALUE.test(verifier)) return refuse('PKCE verification failed: Invalid code verifier');
  if (!matches) return refuse('PKCE verification failed: Code mismatch');
  return null;
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
${details.params.organization ? `<p>Organization: <code id="organization">${esc(details.params.organization)}</code></p>` : ''}
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
  // --auth0: the organization of this login (validated at /authorize or /oauth/device/code).
  const org = opts.auth0 && params.organization ? findOrg(params.organization) : undefined;
  let grant = details.grantId ? await provider.Grant.find(details.grantId) : null;
  if (grant && GRANT_ORGS.get(grant.jti) !== org) {
    // The session's grant is for another organization (or none): this login gets a grant of
    // its own, so that the earlier login's refresh tokens keep naming their organization.
    const { accountId, clientId, resources, openid, rejected, rar } = grant;
    grant = new provider.Grant(structuredClone({ accountId, clientId, resources, openid, rejected, rar }));
  }
  if (!grant) grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  // The refresh-token policy's APIs: a refresh may ask for an access token for any of them
  // (oidc-provider issues one only for what the grant holds).
  for (const [api, scopes] of Object.entries(POLICY_APIS)) grant.addResourceScope(api, scopes.join(' '));
  const grantId = await grant.save();
  if (org) GRANT_ORGS.set(grantId, org);
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

// Per-request facts the pipeline hands to the provider's hooks (`mrrt`: see rewriteRefresh).
const requestContext = new AsyncLocalStorage();

// The organization (--auth0) of the grant a token or ID token is being issued from.
function orgOf(ctx, token) {
  const grantId = token?.grantId || ctx?.oidc?.entities?.Grant?.jti;
  return grantId ? GRANT_ORGS.get(grantId) : undefined;
}

async function buildProvider(issuer) {
  const { default: Provider, errors } = await providerModule;
  const issuerBase = issuer.replace(/\/$/, ''); // (--auth0's issuer ends with a slash)
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
    // --auth0: org_id / org_name (from `organization` at /authorize) ride on the openid scope.
    claims: { openid: opts.auth0 ? ['sub', 'org_id', 'org_name'] : ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
    conformIdTokenClaims: false, // put profile/email claims in the ID token, like Auth0
    async findAccount(ctx, sub, token) {
      if (!ACCOUNTS.has(sub)) return undefined;
      // `use` is 'id_token' or 'userinfo': /__test/claims can leave ID tokens with `sub` only,
      // as providers do whose ID tokens name nobody (the name is then in userinfo).
      return {
        accountId: sub,
        async claims(use) {
          const claims = accountClaims(sub, orgOf(ctx, token));
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
    ...(opts.auth0 ? {
      routes: {
        authorization: PATHS.authorization,
        token: PATHS.token,
        revocation: PATHS.revocation,
        device_authorization: PATHS.device_authorization,
        code_verification: PATHS.code_verification,
        userinfo: PATHS.userinfo,
        jwks: PATHS.jwks,
        end_session: PATHS.end_session,
      },
      extraParams: {
        // An unknown organization is refused: at /authorize by a redirect to the client with
        // error=invalid_request, at /oauth/device/code by a 400.
        organization(ctx, value) {
          if (value !== undefined && !findOrg(value)) {
            throw new errors.InvalidRequest(`parameter organization is invalid: no organization ${JSON.stringify(value)} in this tenant`);
          }
        },
        invitation: null, // accepted (and recorded by /__test/last-request), not checked
      },
      // Auth0 puts the organization in access tokens too.
      async extraTokenClaims(ctx, token) {
        const org = orgOf(ctx, token);
        return org ? { org_id: org.id, org_name: org.name } : undefined;
      },
    } : {}),
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        // No confirmation: the form (with logout=yes, which ends the whole session) submits
        // itself in a browser; browser.js submits it (`open`).
        async logoutSource(ctx, form) {
          const autoForm = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>');
          ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signing out</title></head><body>
<h1>Signing out</h1>${autoForm}
<noscript><button type="submit" form="op.logoutForm">Sign out</button></noscript>
<script>document.getElementById('op.logoutForm').submit()</script></body></html>`;
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = '<!DOCTYPE html><html><body><h1 id="logged-out">Signed out</h1><p>You are signed out.</p></body></html>';
        },
      },
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
          // A policy API (POLICY_APIS) also allows its own scopes.
          scope: [requestedScopes(ctx), ...(POLICY_APIS[resource] || [])].join(' '),
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
    if (u.href === `${issuerBase}/show-code`) return true;
    return u.protocol === 'http:' && u.hostname === '127.0.0.1' && !u.hash && !u.search;
  };

  // --auth0: post_logout_redirect_uri at /oidc/logout may be any loopback http URL (the tenant's
  // "Allowed Logout URLs"); oidc-provider alone wants registered ones.
  if (opts.auth0) {
    const origLogoutAllowed = provider.Client.prototype.postLogoutRedirectUriAllowed;
    provider.Client.prototype.postLogoutRedirectUriAllowed = function postLogoutRedirectUriAllowed(value) {
      return origLogoutAllowed.call(this, value) || isLoopbackHttp(value);
    };
  }

  // Multi-resource refreshes (see rewriteRefresh): while the pipeline marks a refresh as one for
  // a policy API, the refresh token also counts as issued for that API and its scopes (so that
  // oidc-provider's resource and scope checks let it through). Nothing is stored: the rotated
  // refresh token is exactly the old one's successor, and other requests see no change.
  const getterOf = (proto, name) => {
    for (let p = proto; p; p = Object.getPrototypeOf(p)) {
      const d = Object.getOwnPropertyDescriptor(p, name);
      if (d?.get) return d.get;
    }
    throw new Error(`no getter ${name}`);
  };
  const RT = provider.RefreshToken.prototype;
  const origIndicators = getterOf(RT, 'resourceIndicators');
  const origScopes = getterOf(RT, 'scopes');
  Object.defineProperty(RT, 'resourceIndicators', {
    configurable: true,
    get() {
      const set = origIndicators.call(this);
      const mrrt = requestContext.getStore()?.mrrt;
      if (mrrt) set.add(mrrt.resource);
      return set;
    },
  });
  Object.defineProperty(RT, 'scopes', {
    configurable: true,
    get() {
      const set = origScopes.call(this);
      const mrrt = requestContext.getStore()?.mrrt;
      if (mrrt) POLICY_APIS[mrrt.resource].forEach((x) => set.add(x));
      return set;
    },
  });

  provider.on('server_error', (ctx, err) => log('server_error', err));
  provider.on('grant.error', (ctx, err) => {
    if (!['authorization_pending', 'slow_down'].includes(err.error)) log('grant.error', err.error, err.error_description || '');
  });
  return provider;
}

// ---------------------------------------------------------------- --entra
// Entra ID names an API in the scope (`API/.default`, `API/read`) and refuses RFC 8707's
// `resource` (AADSTS901002). Returns an answer to send instead, or null after rewriting the
// request into what oidc-provider understands: the API as `resource`, its scopes as scopes.
// `audience` is refused too (Entra ignores it): a client that relied on it would get tokens
// for the wrong API from Entra, and the test should say so.
function rewriteEntra(p) {
  if (p.has('resource')) {
    return { status: 400, body: { error: 'invalid_request', error_description: "AADSTS901002: The 'resource' request parameter is not supported." } };
  }
  if (p.has('audience')) {
    return { status: 400, body: { error: 'invalid_request', error_description: "test provider --entra: Entra ID has no 'audience' parameter; name the API in the scope" } };
  }
  const scopes = (p.get('scope') || '').split(' ').filter(Boolean);
  const kept = [];
  let resource = null;
  for (const scope of scopes) {
    const cut = scope.lastIndexOf('/');
    if (cut < 0 || !scope.slice(0, cut).includes('://')) { kept.push(scope); continue; }
    const api = [scope.slice(0, cut), `${scope.slice(0, cut)}/`].find((a) => POLICY_APIS[a]);
    if (!api) {
      return { status: 400, body: { error: 'invalid_resource', error_description: `AADSTS500011: The resource principal named ${scope.slice(0, cut)} was not found in the tenant.` } };
    }
    if (resource && resource !== api) {
      return { status: 400, body: { error: 'invalid_scope', error_description: 'AADSTS28000: Provided value for the input parameter scope is not valid because it contains more than one resource.' } };
    }
    resource = api;
    const name = scope.slice(cut + 1);
    if (name === '.default') kept.push(...POLICY_APIS[api]);
    else kept.push(name);
  }
  if (resource) {
    p.set('resource', resource);
    p.set('scope', kept.join(' '));
  }
  return null;
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

const isLoopbackHttp = (value) => {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  } catch { return false; }
};

// A JWT's header and payload, unverified (null if the value is no JWT).
function decodeJwt(value) {
  const parts = String(value ?? '').split('.');
  if (parts.length !== 3) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return header && typeof header === 'object' && payload && typeof payload === 'object' ? { header, payload } : null;
  } catch { return null; }
}

// Whether a JWT is signed by this server's key (RS256) and names this issuer.
async function ownJwt(value, issuer) {
  const jwt = decodeJwt(value);
  if (!jwt || jwt.header.alg !== 'RS256' || jwt.payload.iss !== issuer) return false;
  const [h, p, sig] = String(value).split('.');
  try {
    return crypto.verify('sha256', Buffer.from(`${h}.${p}`), crypto.createPublicKey(await rsaKey), Buffer.from(sig, 'base64url'));
  } catch { return false; }
}

// The browser session named by the request's session cookie, if it still exists.
async function findSession(provider, req) {
  const m = /(?:^|;\s*)_session=([^;]+)/.exec(req.headers.cookie || '');
  return m ? provider.Session.find(decodeURIComponent(m[1])) : undefined;
}

// What GET /__test/last-logout shows about a logout request (/v2/logout, or the end_session
// endpoint's first request); session_ended is filled in once the session is gone.
async function logoutRecord(req, url, params, session, issuer) {
  const hint = typeof params.id_token_hint === 'string' ? params.id_token_hint : null;
  const jwt = hint ? decodeJwt(hint) : null;
  const clientId = typeof params.client_id === 'string' ? params.client_id : null;
  const aud = jwt?.payload.aud;
  return {
    path: url.pathname,
    method: req.method,
    client_id: clientId,
    id_token_hint: Boolean(hint),
    id_token_hint_valid: hint ? await ownJwt(hint, issuer) : null,
    id_token_hint_sub: jwt?.payload.sub ?? null,
    id_token_hint_aud: aud ?? null,
    // sub: the session's account (null without a hint or a signed-in session); aud: client_id
    // (null without a hint or a client_id)
    sub_matches: jwt && session?.accountId ? jwt.payload.sub === session.accountId : null,
    aud_matches: jwt && clientId ? [].concat(aud).includes(clientId) : null,
    return_to: params.returnTo ?? params.post_logout_redirect_uri ?? null,
    had_session: Boolean(session?.accountId),
    session_ended: false,
  };
}

// --auth0: GET /v2/logout?client_id=X[&returnTo=URL], Auth0's own logout: ends the browser
// session and answers a small page, or 302 to returnTo (a loopback http URL; any other -> 400).
async function auth0Logout(provider, req, res, url, issuer) {
  const params = Object.fromEntries(url.searchParams);
  const session = await findSession(provider, req);
  const record = await logoutRecord(req, url, params, session, issuer);
  state.lastLogout = record;
  if (params.returnTo !== undefined && !isLoopbackHttp(params.returnTo)) {
    return sendHtml(res, 400, `<h1>Oops!, something went wrong</h1><p id="error">invalid_request</p>
<p id="error_description">The "returnTo" querystring parameter "${esc(params.returnTo)}" is not defined as a valid URL in "Allowed Logout URLs".</p>`);
  }
  if (session) await session.destroy();
  record.session_ended = record.had_session;
  const clear = ['_session', '_session.sig', '_session.legacy', '_session.legacy.sig']
    .map((n) => `${n}=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly`);
  if (params.returnTo !== undefined) {
    res.writeHead(302, { location: params.returnTo, 'set-cookie': clear, 'cache-control': 'no-store', 'content-length': '0' });
    return res.end();
  }
  res.setHeader('set-cookie', clear);
  return sendHtml(res, 200, '<h1 id="logged-out">logged out</h1><p>You are logged out.</p>');
}

// --auth0: refresh answers as Auth0 words them: a dead refresh token is 403 invalid_grant (not
// oidc-provider's 400), a scope the refresh may not have 403 access_denied.
function auth0RefreshAnswer(res) {
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    let body = chunk;
    if (res.statusCode === 400 && !res.headersSent) {
      try {
        const answer = JSON.parse(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
        if (answer?.error === 'invalid_grant') {
          answer.error_description = 'Unknown or invalid refresh token.';
        } else if (answer?.error === 'invalid_scope') {
          answer.error = 'access_denied';
        }
        if (['invalid_grant', 'access_denied'].includes(answer?.error)) {
          res.statusCode = 403;
          res.statusMessage = 'Forbidden';
          body = JSON.stringify(answer);
          res.setHeader('content-length', Buffer.byteLength(body));
        }
      } catch { /* not JSON: passed on as it is */ }
    }
    return end(body, ...rest);
  };
}

// A refresh at the token endpoint (form params, audience already mapped to resource). Returns
// an answer to send instead of asking the provider, or null; may mark the request as a
// multi-resource refresh (ctx.mrrt) for the provider's hooks.
async function rewriteRefresh(provider, p, ctx) {
  const resource = p.get('resource');
  if (!resource) return null;
  if (POLICY_APIS[resource]) {
    const allowed = new Set([...POLICY_APIS[resource], ...OIDC_SCOPES]);
    const bad = (p.get('scope') || '').split(' ').filter((s) => s && !allowed.has(s));
    if (bad.length) {
      const error_description = `scope not allowed for ${resource}: ${bad.join(' ')}`;
      return opts.auth0
        ? { status: 403, body: { error: 'access_denied', error_description } }
        : { status: 400, body: { error: 'invalid_scope', error_description, scope: bad.join(' ') } };
    }
    ctx.mrrt = { resource };
    return null;
  }
  const rt = await provider.RefreshToken.find(p.get('refresh_token') || '', { ignoreExpiration: true }).catch(() => undefined);
  // (no such token, or a used or expired one: the provider says so, and detects the reuse)
  if (!rt || rt.consumed || rt.isExpired || rt.resourceIndicators.has(resource)) return null;
  if (opts.auth0) {
    // Auth0 silently ignores an audience that is neither the login's nor in the policy, and
    // answers for the login's audience (its documented trap).
    log(`refresh: audience ${resource} is outside the refresh-token policy: ignored`);
    p.delete('resource');
    p.delete('audience');
    return null;
  }
  // oidc-provider's own answer, given here because oidc-provider would first rotate the refresh
  // token and so burn it (its successor is never handed out): the token stays good.
  return { status: 400, body: { error: 'invalid_target', error_description: 'resource indicator is missing, or unknown' } };
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
        if (req.method === 'GET' && url.pathname === '/__test/device-pkce') return sendJson(res, 200, state.devicePkce);
        if (req.method === 'GET' && url.pathname === '/__test/last-logout') {
          return sendJson(res, state.lastLogout ? 200 : 404, state.lastLogout || { error: 'no logout recorded' });
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

      // -- logouts: Auth0's /v2/logout is ours; the end_session endpoint's is recorded here and
      // its confirmation (the session's end) when the provider has handled it
      if (endpoint === 'logout' && url.pathname === '/v2/logout') {
        if (req.method !== 'GET') return sendHtml(res, 405, '<p>method not allowed</p>');
        return await auth0Logout(provider, req, res, url, issuer);
      }
      if (endpoint === 'logout') {
        const params = req.method === 'GET' ? Object.fromEntries(url.searchParams) : (parsed.format === 'form' ? parsed.params : {});
        state.lastLogout = await logoutRecord(req, url, params, await findSession(provider, req), issuer);
      }
      if (req.method === 'POST' && url.pathname === `${PATHS.end_session}/confirm` && state.lastLogout) {
        const record = state.lastLogout;
        const before = await findSession(provider, req);
        if (before?.accountId) {
          res.once('finish', () => {
            provider.Session.find(before.jti).then((s) => { if (!s) record.session_ended = true; }, () => {});
          });
        }
      }

      // -- RFC 8414 metadata (--rfc8414): a copy of discovery at its well-known path, and
      // discovery without what only it is to carry
      if (opts.rfc8414 && req.method === 'GET' && endpoint === 'discovery') {
        editJsonAnswer(res, (doc) => { for (const key of RFC8414_ONLY) delete doc[key]; });
      }
      if (opts.rfc8414 && req.method === 'GET' && endpoint === 'metadata') {
        req.url = '/.well-known/openid-configuration';
        if (opts.rfc8414 === 'wrong-issuer') editJsonAnswer(res, (doc) => { doc.issuer = `${doc.issuer.replace(/\/$/, '')}/elsewhere`; });
      }

      // -- --device-pkce unadvertised: metadata that lists no PKCE method (the code flow still
      // requires S256, as before)
      if (opts.devicePkce === 'unadvertised' && req.method === 'GET' && ['discovery', 'metadata'].includes(endpoint)) {
        editJsonAnswer(res, (doc) => { delete doc.code_challenge_methods_supported; });
      }

      // -- request rewriting before the provider sees it
      if (endpoint === 'authorize' && req.method === 'GET') {
        if (opts.entra) {
          const answer = rewriteEntra(url.searchParams);
          if (answer) return sendJson(res, answer.status, answer.body);
        }
        rewriteAuthorizeParams(url.searchParams);
        req.url = url.pathname + url.search;
      }
      const context = {}; // for the provider's hooks (requestContext)
      if (raw !== null) {
        let body = raw;
        let newType = null;
        // JSON bodies: at the token endpoint with --json-token-requests; with --auth0 at the
        // token, revocation and device endpoints (as Auth0 takes them)
        const jsonBodies = (endpoint === 'token' && (opts.jsonToken || opts.auth0))
          || (opts.auth0 && ['revocation', 'device'].includes(endpoint));
        if (jsonBodies && parsed.format === 'json' && parsed.params && typeof parsed.params === 'object') {
          body = new URLSearchParams(Object.entries(parsed.params).map(([k, v]) => [k, String(v)])).toString();
          newType = 'application/x-www-form-urlencoded';
        }
        const formBody = /x-www-form-urlencoded/i.test(newType || ctype);
        if (['token', 'device', 'authorize'].includes(endpoint) && formBody) {
          const p = new URLSearchParams(body);
          if (opts.entra) {
            const answer = rewriteEntra(p);
            if (answer) return sendJson(res, answer.status, answer.body);
          }
          if (endpoint === 'authorize') rewriteAuthorizeParams(p);
          else if (p.get('audience') && !p.get('resource')) p.set('resource', p.get('audience'));
          // PKCE on the device grant: the server's, since oidc-provider ignores it there
          const pkceRefusal = endpoint === 'device' ? devicePkceRequest(p, res)
            : endpoint === 'token' && p.get('grant_type') === DEVICE_GRANT ? devicePkcePoll(p) : null;
          if (pkceRefusal) return sendJson(res, 400, pkceRefusal);
          if (endpoint === 'token' && p.get('grant_type') === 'refresh_token') {
            const answer = await rewriteRefresh(provider, p, context);
            if (answer) return sendJson(res, answer.status, answer.body);
            if (opts.auth0) auth0RefreshAnswer(res);
          }
          body = p.toString();
        }
        // --auth0: Auth0 cannot revoke an access token in JWT format
        if (opts.auth0 && endpoint === 'revocation' && formBody && decodeJwt(new URLSearchParams(body).get('token'))) {
          return sendJson(res, 400, { error: 'unsupported_token_type', error_description: 'Access tokens in JWT format cannot be revoked; revoke the refresh token' });
        }
        if (newType) req.headers['content-type'] = newType;
        req.headers['content-length'] = String(Buffer.byteLength(body));
        req.body = body; // oidc-provider falls back to req.body when the stream was consumed
      }
      return await requestContext.run(context, () => callback(req, res));
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
  const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}${opts.auth0 ? '/' : ''}`;
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
