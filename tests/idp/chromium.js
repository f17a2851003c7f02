#!/usr/bin/env node
// A real browser for latchkey tests: headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) goes through a login as a person would and reports what it rendered.
//
//   node chromium.js <authorize-url> --report PATH [--deny] [--forge-state] [--user alice] [--password wonderland]
//
// Opens the URL, signs in, clicks Approve (or Deny), and waits for the page of the client's
// redirect_uri (latchkey's loopback listener). --forge-state: first goes through the login with
// the authorize URL's state replaced (the listener must refuse that answer and keep waiting),
// then opens the real URL in the same browser session and finishes the login.
// The report (JSON, written atomically to PATH, also when something failed):
//   {"ok", "error", "pages": [{"url","status","headers","title","text","requests","console"}],
//    "requests": [{"url","method","type"}], "outside": ["CONNECT host:443", ...]}
// pages: each loopback page as rendered (text = document.body.innerText, headers as received,
// requests = what Chromium asked for from that page's navigation until it was captured, console
// = what the page wrote to the console, where a Content-Security-Policy violation would show).
// requests: every request the pages made, in order, redirects included. outside: what reached
// the proxy every other destination is sent through (Chromium's own background traffic too);
// it answers nothing, so nothing leaves the machine. Exit 0 when ok, else 1.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const CHROMIUM = '/usr/bin/chromium';
const OVERALL_TIMEOUT_MS = 30000;
// Chromium as root on a closed network: no sandbox (it refuses root otherwise), no GPU, and none
// of the background services that would try to reach Google.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage'];

// The profile's settings: no password manager (it would send a hash of the password to Google's
// leak check) and no autofill (it asks Google about every form), both set off by the provider's
// login form. What Chromium still does on its own at startup (an update check, Google's account
// list) reaches only the proxy below.
const PREFERENCES = {
  credentials_enable_service: false,
  profile: { password_manager_enabled: false, password_manager_leak_detection: false },
  autofill: { enabled: false, profile_enabled: false, credit_card_enabled: false },
  signin: { allowed: false },
};

function usage(msg) {
  process.stderr.write(`chromium.js: ${msg}\n`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const opts = { user: 'alice', password: 'wonderland', deny: false, forgeState: false, report: null };
const positional = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
  if (a === '--user') opts.user = val();
  else if (a === '--password') opts.password = val();
  else if (a === '--deny') opts.deny = true;
  else if (a === '--forge-state') opts.forgeState = true;
  else if (a === '--report') opts.report = val();
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else positional.push(a);
}
if (positional.length !== 1 || !opts.report) usage('usage: chromium.js <authorize-url> --report PATH [--deny] [--forge-state]');
const authorizeUrl = positional[0];
const redirectUri = new URL(authorizeUrl).searchParams.get('redirect_uri');
if (!redirectUri) usage('the authorize URL has no redirect_uri');

const report = { ok: false, error: null, pages: [], requests: [], outside: [] };
// What the loopback pages wrote to the console (a CSP violation is reported there), not yet
// given to a page's entry; the provider's pages are not under test.
const consoleMessages = [];
// Playwright's request objects, in the order of report.requests, to find a page's navigation.
const requestObjects = [];
// Chromium's profile: a fresh empty directory for each run, deleted however the run ends.
let profile = null;

function writeReport() {
  const tmp = `${opts.report}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(report, null, 2));
  fs.renameSync(tmp, opts.report);
}

// Every destination but loopback goes to this proxy (Chromium never proxies loopback), which
// records it and refuses: a request to anywhere else shows up here whoever made it.
function startProxy() {
  const server = http.createServer((req, res) => {
    report.outside.push(`${req.method} ${req.url}`);
    res.writeHead(403).end();
  });
  server.on('connect', (req, socket) => {
    report.outside.push(`CONNECT ${req.url}`);
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// The loopback page the current navigation ends at, as rendered.
async function loopbackPage(page, response) {
  const first = requestObjects.indexOf(response.request());
  if (first < 0) throw new Error(`no request recorded for ${response.url()}`);
  await page.waitForLoadState('load');
  // Anything the page itself asks for (a favicon, a style, a script) would start by now.
  await page.waitForLoadState('networkidle');
  const entry = {
    url: page.url(),
    status: response.status(),
    headers: await response.allHeaders(),
    title: await page.title(),
    text: await page.evaluate(() => document.body.innerText),
    requests: report.requests.slice(first),
    console: consoleMessages.splice(0),
  };
  report.pages.push(entry);
}

// Signs in if asked to, decides on the consent page, and returns the loopback page's response.
async function throughTheProvider(page, url) {
  const atLoopback = page.waitForResponse((r) => r.url().startsWith(redirectUri)
    && r.request().isNavigationRequest() && r.frame() === page.mainFrame());
  await page.goto(url);
  if (await page.locator('input[name=username]').count() > 0) {
    await page.fill('input[name=username]', opts.user);
    await page.fill('input[name=password]', opts.password);
    await page.click('button[type=submit]');
  }
  await page.click(`button[value=${opts.deny ? 'deny' : 'approve'}]`);
  return atLoopback;
}

async function main() {
  // Required here, not at the top, so that a missing package is reported like any failure.
  const { chromium } = require('playwright-core');
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (tests/run does)`);
  const proxy = await startProxy();
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-chromium-'));
  fs.mkdirSync(path.join(profile, 'Default'));
  fs.writeFileSync(path.join(profile, 'Default', 'Preferences'), JSON.stringify(PREFERENCES));
  let context = null;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...FLAGS, `--proxy-server=http://127.0.0.1:${proxy.address().port}`],
      timeout: OVERALL_TIMEOUT_MS,
    });
    context.setDefaultTimeout(15000);
    context.on('request', (r) => {
      requestObjects.push(r);
      report.requests.push({ url: r.url(), method: r.method(), type: r.resourceType() });
    });
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => {
      if (page.url().startsWith(redirectUri) || m.location().url.startsWith(redirectUri)) {
        consoleMessages.push(`${m.type()}: ${m.text()}`);
      }
    });
    if (opts.forgeState) {
      const forged = new URL(authorizeUrl);
      forged.searchParams.set('state', 'forged-by-chromium-js');
      await loopbackPage(page, await throughTheProvider(page, forged.href));
    }
    await loopbackPage(page, await throughTheProvider(page, authorizeUrl));
    report.ok = true;
  } finally {
    if (context) await context.close().catch(() => {});
    proxy.close();
    removeProfile();
  }
}

function removeProfile() {
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
}

const timer = setTimeout(() => {
  report.error = `gave up after ${OVERALL_TIMEOUT_MS} ms`;
  removeProfile();
  writeReport();
  process.exit(1);
}, OVERALL_TIMEOUT_MS);

main().then(() => {
  clearTimeout(timer);
  writeReport();
  process.exit(0);
}, (e) => {
  clearTimeout(timer);
  report.ok = false;
  report.error = String(e && e.stack || e);
  writeReport();
  process.stderr.write(`chromium.js: ${report.error}\n`);
  process.exit(1);
});
