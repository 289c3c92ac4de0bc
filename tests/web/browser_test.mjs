// The web page's browser test: Debian's chromium driven by puppeteer-core against a running
// `pkgtrust serve` that tests/web/browser_test.cpp prepared (replay upstream, packages read,
// an advisory in force for gw-evil, downloads of webpad, an admin token). Every page is
// checked for what it must show, for console errors, for requests that leave the origin,
// with axe-core (no serious or critical violation), and at phone width (no sideways
// scrolling); screenshots of each page at desktop and phone width go to
// PKGTRUST_SCREENSHOT_DIR. The first load's transferred bytes and time to interactive are
// measured on cold caches (PKGTRUST_WEB_RUNS runs, default 5) and written to PKGTRUST_RESULTS
// with every failure. Exit status 1 when anything failed.
//
// Environment: PKGTRUST_WEB_BASE (http://127.0.0.1:PORT), PKGTRUST_BIN, PKGTRUST_CONFIG,
// PKGTRUST_OSV_LIVE and PKGTRUST_OSV_LIVE_2 (advisories for webpad-core and webpad-cli,
// imported while the live page watches: the second while its connection is down),
// PKGTRUST_SERVE_PID (the live step kills it and starts `pkgtrust serve` again, writing the new
// process's id to PKGTRUST_RESTART_PID and its log to PKGTRUST_RESTART_LOG),
// PKGTRUST_ADMIN_TOKEN, PKGTRUST_RESULTS, PKGTRUST_SCREENSHOT_DIR, CHROMIUM (default
// /usr/bin/chromium). PKGTRUST_WEB_ONLY=first-load measures the first load only (the benchmark).
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const env = process.env;
const base = env.PKGTRUST_WEB_BASE;
const origin = new URL(base).origin;
const shots = env.PKGTRUST_SCREENSHOT_DIR;
const runs = Number(env.PKGTRUST_WEB_RUNS || 5);
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const DESKTOP = { width: 1280, height: 900, deviceScaleFactor: 1 };
const PHONE = { width: 390, height: 844, deviceScaleFactor: 1, isMobile: true, hasTouch: true };

const failures = [];
let offline = false;  // the live step's server restart
const results = { failures, first_load: null, live_change_ms: null, axe: {} };

function check(ok, message) {
  if (!ok) {
    failures.push(message);
    console.error(`FAIL: ${message}`);
  }
  return ok;
}

const openPages = new Set();

async function step(name, body) {
  const started = Date.now();
  console.log(`-- ${name}`);
  try {
    await body();
  } catch (error) {
    check(false, `${name}: ${error.stack || error}`);
    // What the pages showed, for the log.
    for (const page of openPages) {
      const text = await page.evaluate(() => [document.querySelector("#refresh-status")?.textContent, document.querySelector("#scored-at")?.textContent,
        document.querySelector("main")?.innerText].join(" || ")).catch(() => "?");
      console.error(`   ${page.url()} shows: ${String(text).slice(0, 800).replaceAll("\n", " | ")}`);
    }
  }
  console.log(`   ${Date.now() - started} ms`);
}

const api = async (path) => (await fetch(base + path)).json();
const formatEffect = (effect) => {
  const rounded = Math.round(effect * 10) / 10;
  if (rounded > 0) return `+${rounded.toFixed(1)}`;
  if (rounded < 0) return `\u2212${Math.abs(rounded).toFixed(1)}`;
  return "0.0";
};

const browser = await puppeteer.launch({
  executablePath: env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps"],
});

// A page that fails the test on a console error, an uncaught exception, or a request to
// anywhere but the page's origin.
// The page in front: a page in the background gets no animation frames and slowed timers.
async function front(page) {
  await page.bringToFront();
  return page;
}

async function newPage(viewport = DESKTOP, context = browser) {
  const page = await context.newPage();
  openPages.add(page);
  page.on("close", () => openPages.delete(page));
  await page.setViewport(viewport);
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    // While the test itself has killed the server, the browser reports the failed reconnects.
    if (offline && message.text().includes("net::ERR_")) return;
    check(false, `console error on ${page.url()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => check(false, `uncaught error on ${page.url()}: ${error.message}`));
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith("data:") && new URL(url).origin !== origin) check(false, `a request left the origin: ${url}`);
  });
  return page;
}

async function ready(page) {
  await page.waitForFunction(() => document.documentElement.dataset.ready === "true", { polling: 50 });
}

// axe-core in the page (evaluated through DevTools, which the page's CSP does not govern).
async function accessibility(page, name) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const found = await window.axe.run(document, { resultTypes: ["violations"] });
    return found.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length,
      first: v.nodes[0] && v.nodes[0].target.join(" ") }));
  });
  results.axe[name] = violations;
  for (const v of violations)
    check(v.impact !== "serious" && v.impact !== "critical",
      `axe on ${name}: ${v.impact} ${v.id} on ${v.nodes} elements (first: ${v.first})`);
}

async function screenshot(page, name) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

// At phone width nothing may need sideways scrolling (wide tables scroll inside their box).
async function fitsPhone(page, name) {
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(scroll <= inner, `${name} at phone width is ${scroll} px wide in a ${inner} px window`);
}

// The first load of / on a cold cache: bytes on the wire (headers included) and the time
// from navigation start until the page can be used (main.js has rendered the search page).
async function firstLoad() {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const context = await browser.createBrowserContext();
    const page = await newPage(DESKTOP, context);
    const cdp = await page.createCDPSession();
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    let bytes = 0;
    let requests = 0;
    cdp.on("Network.loadingFinished", (event) => {
      bytes += event.encodedDataLength;
      requests++;
    });
    await front(page);
    await page.goto(`${base}/`, { waitUntil: "networkidle0" });
    await ready(page);
    const interactive = await page.evaluate(() => window.pkgtrustInteractive);
    samples.push({ bytes, requests, interactive_ms: Math.round(interactive * 10) / 10 });
    await context.close();
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  results.first_load = {
    runs: samples,
    bytes: median(samples.map((s) => s.bytes)),
    requests: median(samples.map((s) => s.requests)),
    interactive_ms: median(samples.map((s) => s.interactive_ms)),
  };
  console.log(`   first load: ${JSON.stringify(results.first_load)}`);
}

await step("first load of /", firstLoad);

if (env.PKGTRUST_WEB_ONLY !== "first-load") {
  const page = await newPage();
  const phone = await newPage(PHONE);

  await step("search: a prefix lists the matching packages, the keyboard opens one", async () => {
    await front(page);
    await page.goto(`${base}/`);
    await ready(page);
    await page.type("#search-name", "webpad");
    await page.waitForFunction(() => document.querySelectorAll("#search-results [role=option]").length >= 3, { polling: 50 });
    const shown = await page.$$eval("#search-results .result-name", (els) => els.map((e) => e.textContent));
    const known = (await api("/v1/search?ecosystem=npm&prefix=webpad")).packages.map((p) => p.name);
    check(JSON.stringify([...shown].sort()) === JSON.stringify([...known].sort()),
      `search shows ${shown.join(", ")}; the API knows ${known.join(", ")}`);
    check(shown[0] === "webpad", `the exact match comes first, not ${shown[0]}`);
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowUp");
    const selected = await page.$$eval("#search-results [aria-selected=true]", (els) => els.map((e) => e.id));
    check(JSON.stringify(selected) === '["search-result-0"]', `arrow keys selected ${selected}`);
    check((await page.$eval("#search-name", (e) => e.getAttribute("aria-activedescendant"))) === "search-result-0",
      "the combobox names the selected option");
    await accessibility(page, "search");
    await screenshot(page, "search-desktop");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#score-value");
    check(new URL(page.url()).pathname === "/package/npm/webpad", `Enter opened ${page.url()}`);

    await front(phone);

    await phone.goto(`${base}/?q=webpad`);
    await phone.waitForFunction(() => document.querySelectorAll("#search-results [role=option]").length >= 3, { polling: 50 });
    await fitsPhone(phone, "search");
    await screenshot(phone, "search-phone");
  });

  await step("package: the same score, components and reasons as the API", async () => {
    const report = await api("/v1/packages/npm/webpad");
    await front(page);
    await page.waitForSelector("table.timeline");
    const score = await page.$eval("#score-value", (e) => e.firstChild.textContent);
    check(score === report.score.value.toFixed(1), `the page shows ${score}, the API ${report.score.value}`);
    const reasons = await page.$$eval("tr.reason", (rows) => rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent]));
    const expected = report.score.explanation.map((e) => [e.reason, formatEffect(e.effect)]);
    check(JSON.stringify(reasons) === JSON.stringify(expected),
      `reasons on the page ${JSON.stringify(reasons)}; the API's ${JSON.stringify(expected)}`);
    const components = await page.$$eval(".component", (els) => els.map((e) => ({
      name: e.dataset.component,
      value: e.querySelector(".component-value").textContent,
      facts: [...e.querySelectorAll("li")].map((li) => li.textContent),
    })));
    const apiComponents = Object.entries(report.score.components).map(([name, c]) => ({
      name, value: `${c.value.toFixed(1)}/10`, facts: c.facts }));
    check(JSON.stringify(components) === JSON.stringify(apiComponents),
      `components on the page ${JSON.stringify(components)}; the API's ${JSON.stringify(apiComponents)}`);
    check(report.score.explanation.length >= 3 && components.length >= 3, "the report has reasons and components");
    const versions = await page.$$eval("table.timeline tbody tr", (rows) => rows.map((r) => [r.cells[0].textContent, r.cells[2].textContent]));
    check(versions.length === 15, `the timeline lists ${versions.length} versions, not 15`);
    const latest = versions.find(([version]) => version.startsWith("1.3.0"));
    check(latest && latest[0].includes("latest") && latest[1] === "v1.3.0", `1.3.0's row: ${latest}`);
    check(versions.some(([, tag]) => tag === "no matching tag"), "versions without a tag say so");
    await accessibility(page, "package");
    await screenshot(page, "package-desktop");
    await front(phone);
    await phone.goto(`${base}/package/npm/webpad`);
    await phone.waitForSelector("table.timeline");
    await fitsPhone(phone, "package");
    await screenshot(phone, "package-phone");
  });

  await step("package: the admin refresh asks for the token once and keeps it for the tab", async () => {
    await front(page);
    await page.click("#refresh-button");
    await page.waitForSelector("#admin-token", { visible: true });
    await page.type("#admin-token", env.PKGTRUST_ADMIN_TOKEN);
    const refreshed = page.waitForResponse((r) => r.url().endsWith("/v1/packages/npm/webpad:refresh"));
    await page.keyboard.press("Enter");
    check((await refreshed).status() === 202, "the refresh was accepted");
    // "Refreshing: ..." until the run finishes, then "Refreshed: scored ...", across re-renders.
    await page.waitForFunction(() => document.querySelector("#refresh-status")?.textContent.startsWith("Refresh"),
      { polling: 50 });
    check((await page.evaluate(() => sessionStorage.getItem("pkgtrust-admin-token"))) === env.PKGTRUST_ADMIN_TOKEN,
      "the token is kept in the tab's session storage");
    // The report fills in again when the run finishes; a second refresh needs no token form.
    await page.waitForFunction(() => document.querySelector("#refresh-status")?.textContent.startsWith("Refreshed"),
      { timeout: 30000, polling: 100 });
    await page.waitForSelector("#refresh-button");
    const again = page.waitForResponse((r) => r.url().endsWith("/v1/packages/npm/webpad:refresh"));
    await page.click("#refresh-button");
    check((await again).status() === 202, "the second refresh was accepted with the kept token");
    check(!(await page.$eval(".token-form", (f) => !f.hidden)), "no token form the second time");
  });

  await step("an unknown package's page shows the wait and fills in by itself", async () => {
    await front(page);
    await page.goto(`${base}/`);
    await ready(page);
    await page.type("#search-name", "webpad-slow");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#package-pending");
    check(new URL(page.url()).pathname === "/package/npm/webpad-slow", `Enter on an unknown name opened ${page.url()}`);
    await page.evaluate(() => { window.notReloaded = true; });
    await page.waitForSelector("#score-value", { timeout: 30000 });
    check(await page.evaluate(() => window.notReloaded === true), "the page filled in without a reload");
    const report = await api("/v1/packages/npm/webpad-slow");
    check((await page.$eval("#score-value", (e) => e.firstChild.textContent)) === report.score.value.toFixed(1),
      "the filled-in score is the API's");
  });

  await step("typosquat: the look-alike links to that package's page", async () => {
    await front(page);
    await page.goto(`${base}/package/npm/expresss`);
    await page.waitForSelector(".looks-like");
    const href = await page.$eval(".looks-like", (a) => a.getAttribute("href"));
    check(href === "/package/npm/express", `the look-alike links to ${href}`);
  });

  await step("live: an imported advisory shows within 2 seconds, and the package page shows it", async () => {
    const live = await newPage();
    await front(live);
    await live.goto(`${base}/live`);
    await live.waitForFunction(() => document.querySelector("#live-status").textContent.startsWith("Live"), { polling: 50 });
    await live.evaluate(() => { window.notReloaded = true; });
    execFileSync(env.PKGTRUST_BIN, ["import-osv", env.PKGTRUST_OSV_LIVE, "--config", env.PKGTRUST_CONFIG], { stdio: "pipe" });
    const imported = Date.now();
    const row = '#live-rows tr[data-name="webpad-core"] .flag-malicious';
    try {
      await live.waitForSelector(row, { timeout: 2000 });
      results.live_change_ms = Date.now() - imported;
    } catch {
      check(false, "the live page did not show webpad-core flagged malicious within 2 s of the import");
      await live.waitForSelector(row, { timeout: 20000 });
      results.live_change_ms = Date.now() - imported;
    }
    check(await live.evaluate(() => window.notReloaded === true), "the live page changed without a reload");

    // A dropped connection: the server is killed (SIGKILL), a change is made while it is
    // down, the server starts again on the same port and database: the page reconnects and
    // resumes after the last offset it showed, so the change shows up once and nothing
    // shown before comes again.
    offline = true;
    process.kill(Number(env.PKGTRUST_SERVE_PID), "SIGKILL");
    await live.waitForFunction(() => !document.querySelector("#live-status").textContent.startsWith("Live"),
      { polling: 50, timeout: 10000 });
    execFileSync(env.PKGTRUST_BIN, ["import-osv", env.PKGTRUST_OSV_LIVE_2, "--config", env.PKGTRUST_CONFIG], { stdio: "pipe" });
    const restarted = spawn(env.PKGTRUST_BIN, ["serve", "--config", env.PKGTRUST_CONFIG],
      { detached: true, stdio: ["ignore", "ignore", openSync(env.PKGTRUST_RESTART_LOG, "a")] });
    writeFileSync(env.PKGTRUST_RESTART_PID, String(restarted.pid));
    restarted.unref();
    await live.waitForSelector('#live-rows tr[data-name="webpad-cli"] .flag-malicious', { timeout: 30000 });
    offline = false;
    const status = await live.$eval("#live-status", (e) => e.textContent);
    check(status.startsWith("Live (resumed after offset"), `after the reconnect the status says: ${status}`);
    const offsets = await live.$$eval("#live-rows tr", (rows) => rows.map((r) => Number(r.dataset.offset)));
    check(new Set(offsets).size === offsets.length, `an offset is shown twice: ${offsets}`);
    check(offsets.every((offset, i) => i === 0 || offset < offsets[i - 1]), `the rows are not newest first: ${offsets}`);
    check((await live.$$('#live-rows tr[data-name="webpad-cli"] .flag-malicious')).length === 1,
      "webpad-cli's flagged change is shown once");
    await accessibility(live, "live");
    await screenshot(live, "live-desktop");
    await front(live);
    await live.click('#live-rows tr[data-name="webpad-core"] a');
    await live.waitForSelector(".advisory-link");
    const [id, href] = await live.$eval(".advisory-link", (a) => [a.textContent, a.getAttribute("href")]);
    check(id === "MAL-2026-9201" && href === "https://osv.dev/vulnerability/MAL-2026-9201",
      `the package page's advisory: ${id} -> ${href}`);
    check((await live.$$('#flags [data-flag="malicious"]')).length === 1, "the flags name malicious");
    await screenshot(live, "package-flagged-desktop");
    await live.close();
    await front(phone);
    await phone.goto(`${base}/live`);
    await phone.waitForFunction(() => document.querySelector("#live-status").textContent.startsWith("Live"), { polling: 50 });
    await phone.waitForSelector("#live-rows tr");
    await fitsPhone(phone, "live");
    await screenshot(phone, "live-phone");
  });

  const lockfile = JSON.stringify({
    name: "demo", version: "1.0.0", lockfileVersion: 3, requires: true,
    packages: {
      "": { name: "demo", version: "1.0.0", dependencies: { "gw-evil": "1.0.0", webpad: "^1.3.0" } },
      "node_modules/gw-evil": { version: "1.0.0", resolved: "https://registry.npmjs.org/gw-evil/-/gw-evil-1.0.0.tgz" },
      "node_modules/webpad": { version: "1.3.0", resolved: "https://registry.npmjs.org/webpad/-/webpad-1.3.0.tgz" },
    },
  }, null, 2);
  const drop = (text) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([text], "package-lock.json", { type: "application/json" }));
    const zone = document.getElementById("check-drop");
    for (const type of ["dragenter", "dragover", "drop"])
      zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
  };

  await step("check: a dropped lockfile lists the malicious package", async () => {
    await front(page);
    await page.goto(`${base}/check`);
    await ready(page);
    await page.evaluate(drop, lockfile);
    await page.waitForSelector("#check-verdict", { timeout: 20000 });
    const verdict = await page.$eval("#check-verdict", (e) => e.textContent);
    check(verdict.startsWith("Failed: 1 of 2"), `the verdict: ${verdict}`);
    const evil = await page.$eval('tr[data-purl="pkg:npm/gw-evil@1.0.0"]', (r) => [r.className, r.textContent]);
    check(evil[0] === "row-bad" && evil[1].includes("malicious") && evil[1].includes("MAL-2026-9200"),
      `gw-evil's row: ${evil}`);
    const clean = await page.$eval('tr[data-purl="pkg:npm/webpad@1.3.0"]', (r) => r.className);
    check(clean === "", "webpad 1.3.0 does not fail");
    check((await page.$eval("#check-filename", (e) => e.value)) === "package-lock.json", "the file's name is taken");
    await accessibility(page, "check");
    await screenshot(page, "check-desktop");
    await front(phone);
    await phone.goto(`${base}/check`);
    await ready(phone);
    await phone.evaluate(drop, lockfile);
    await phone.waitForSelector("#check-verdict", { timeout: 20000 });
    await fitsPhone(phone, "check");
    await screenshot(phone, "check-phone");
  });

  await step("adoption: downloads per version as a chart, and the open alerts", async () => {
    await front(page);
    await page.goto(`${base}/adoption/npm/webpad`);
    await page.waitForSelector("#adoption-chart canvas", { timeout: 20000 });
    const versions = await page.$$eval(".versions-table tbody th", (cells) => cells.map((c) => c.textContent));
    check(JSON.stringify(versions) === '["1.3.0","1.2.0","1.1.3"]', `the versions table: ${versions}`);
    const legend = await page.$$eval(".u-legend .u-series th", (cells) => cells.map((c) => c.textContent.trim()));
    check(["1.3.0", "1.2.0", "1.1.3"].every((v) => legend.includes(v)), `the chart's legend: ${legend}`);
    const top = await page.$$eval("#adoption-top tbody th a", (links) => links.map((a) => a.textContent));
    check(top[0] === "webpad", `the most downloaded: ${top}`);
    // The advisory imported on the live page's step: an alert for webpad-core's downloads
    // (raised by the server's adoption processing, which runs every few seconds).
    for (let tries = 0; tries < 30 && !(await page.$('#adoption-alerts tr[data-alert]')); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (tries % 4 === 3) {
        await page.reload();
        await page.waitForSelector("#adoption-chart canvas", { timeout: 20000 });
      }
    }
    const alert = await page.$eval("#adoption-alerts tr[data-alert]", (r) => r.textContent);
    check(alert.includes("webpad-core") && alert.includes("MAL-2026-9201"), `the open alert: ${alert}`);
    await accessibility(page, "adoption");
    await screenshot(page, "adoption-desktop");
    await front(phone);
    await phone.goto(`${base}/adoption/npm/webpad`);
    await phone.waitForSelector("#adoption-chart canvas", { timeout: 20000 });
    await fitsPhone(phone, "adoption");
    await screenshot(phone, "adoption-phone");
  });
}

await browser.close();
if (env.PKGTRUST_RESULTS) writeFileSync(env.PKGTRUST_RESULTS, JSON.stringify(results, null, 2));
console.log(failures.length ? `${failures.length} failures` : "all passed");
process.exit(failures.length ? 1 : 0);
