// The report pages in a real browser (Debian's chromium, driven by playwright-core), as a
// person meets them in a 1280x800 window: a passing run, the failing chaos seed of issue 31,
// and `serve`'s live page with and without --auth. Screenshots go to the artefacts folder.
//
//   node pages.mjs DPSIM_BIN ARTEFACTS_DIR CHECKOUT   (from a folder where playwright-core is installed;
//   .ci/browser does it all)
import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const [dpsim, artefacts, checkout] = process.argv.slice(2);
const root = resolve(checkout);
mkdirSync(artefacts, { recursive: true });
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

function runTo(scenario) {
  const dir = mkdtempSync(join(tmpdir(), "dpsim-page-"));
  try {
    execFileSync(dpsim, ["run", join(root, scenario), "--out", dir], { stdio: "ignore" });
  } catch {
    // A failing scenario exits 1 and still writes its page.
  }
  return `file://${join(dir, "report.html")}`;
}

function serve(args) {
  const child = spawn(dpsim, ["serve", "--addr", "127.0.0.1:0", "--clock", "manual", "--seed", "7", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((ok) => {
    createInterface({ input: child.stdout }).once("line", (line) => ok({ child, url: line.split(" on ")[1] }));
  });
}

async function admin(url, path, body, token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const r = await fetch(url + path, { method: body ? "POST" : "GET", body: body && JSON.stringify(body), headers });
  return r.json();
}

async function aws(url, op, body) {
  const r = await fetch(url + "/", {
    method: "POST",
    headers: { "x-amz-target": `DataPipeline.${op}`, "content-type": "application/x-amz-json-1.1" },
    body: JSON.stringify(body),
  });
  return r.json();
}

async function fits(page, name) {
  const wide = await page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    const over = [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > w + 1);
    return { scroll: document.documentElement.scrollWidth, width: w, over: over.slice(0, 3).map((e) => e.id || e.className || e.tagName) };
  });
  check(wide.scroll <= wide.width && wide.over.length === 0, `${name}: no element is wider than the page (${JSON.stringify(wide)})`);
}

async function zooms(page, name) {
  const before = await page.textContent("#range");
  await page.click("#zoom-in");
  const after = await page.textContent("#range");
  check(before !== after, `${name}: zoom changes the visible time range (${before} -> ${after})`);
  await page.click("#zoom-all");
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
page.on("pageerror", (e) => check(false, `no script error: ${e.message}`));

// A passing run.
await page.goto(runTo("scenarios/ack-at-deadline.json"));
check((await page.textContent("#verdict")).includes("passed"), "passing: the verdict says passed");
check((await page.textContent("#groups")).includes("Nothing broke"), "passing: nothing broke");
await fits(page, "passing");
await zooms(page, "passing");
await page.screenshot({ path: join(artefacts, "passing.png") });

// The failing chaos seed: 366 violations, eight groups.
await page.goto(runTo("tests/pages/ignore-try-cancel-seed-6.json"));
const first = await page.locator("#group-0").boundingBox();
check(first && first.y + first.height <= 800, `failing: the first violation group is in the first screen (${JSON.stringify(first)})`);
check((await page.locator(".group").count()) === 8, "failing: eight groups");
await page.screenshot({ path: join(artefacts, "failing-first-screen.png") });
await page.click("#group-0 .links a >> nth=0");
await page.waitForFunction(() => document.querySelector(".group.selected") !== null, null, { timeout: 5000 }).catch(() => {});
const selected = await page.evaluate(() => ({
  hash: location.hash,
  group: document.querySelector(".group.selected")?.id,
  hit: (() => {
    const row = document.querySelector("#log-rows .row.hit");
    if (!row) return null;
    const box = document.getElementById("log-scroll").getBoundingClientRect(), r = row.getBoundingClientRect();
    return { text: row.textContent, visible: r.top >= box.top && r.bottom <= box.bottom };
  })(),
  selection: document.getElementById("selection").textContent,
}));
check(selected.hash.startsWith("#v="), `failing: the group links to its violation's fragment (${selected.hash})`);
check(selected.group === "group-0", "failing: the group is highlighted");
check(/lease t\d+/.test(selected.selection), `failing: its lease is selected (${selected.selection})`);
check(selected.hit && selected.hit.visible, `failing: the log is scrolled to its line (${JSON.stringify(selected.hit)})`);
await zooms(page, "failing");
await fits(page, "failing");
await page.locator("#timeline-section").scrollIntoViewIfNeeded();
await page.screenshot({ path: join(artefacts, "failing-timeline.png") });
// The fragment opens the page on the violation.
const url = page.url();
await page.goto("about:blank");
await page.goto(url);
const reopened = await page.waitForFunction(() => document.querySelector(".group.selected") !== null, null, { timeout: 5000 }).then(() => true, () => false);
check(reopened, `failing: the fragment reopens the selection (${url.split("#")[1]})`);

// serve, open and under --auth.
for (const auth of [false, true]) {
  const name = auth ? "serve --auth" : "serve";
  const token = "page-token";
  const { child, url } = await serve(auth ? ["--auth", "AKIDPAGE:secret", "--admin-token", token] : ["--poll-hold-ms", "0"]);
  try {
    if (!auth) {
      const created = await aws(url, "CreatePipeline", { name: "copy", uniqueId: "copy" });
      const objects = [
        { id: "Default", name: "Default", fields: [{ key: "scheduleType", stringValue: "ondemand" }] },
        { id: "Copy", name: "Copy", fields: [{ key: "type", stringValue: "ShellCommandActivity" }, { key: "workerGroup", stringValue: "wg-1" }] },
      ];
      await aws(url, "PutPipelineDefinition", { pipelineId: created.pipelineId, pipelineObjects: objects });
      await aws(url, "ActivatePipeline", { pipelineId: created.pipelineId });
      await aws(url, "PollForTask", { workerGroup: "wg-1", hostname: "runner-a" });
      await admin(url, "/_dpsim/clock/advance", { seconds: 121 });
    }
    await page.goto(`${url}/_dpsim/`);
    if (auth) {
      await page.waitForSelector("#auth:not([hidden])");
      check(await page.isHidden("#main"), `${name}: nothing is shown before the token`);
      await page.fill("#token", "wrong");
      await page.click("#auth-form button");
      await page.waitForFunction(() => document.getElementById("auth-error").textContent.includes("wrong"));
      check(true, `${name}: a wrong token is refused`);
      await page.fill("#token", token);
      await page.click("#auth-form button");
    }
    await page.waitForFunction(() => document.getElementById("verdict").textContent.includes("seed"));
    check(true, `${name}: the live page shows what the server saw`);
    if (!auth) {
      check((await page.textContent("#log-rows")).includes("expired"), `${name}: the log shows the expired lease`);
      await admin(url, "/_dpsim/clock/advance", { seconds: 60 });
      await page.waitForFunction(() => document.getElementById("verdict").textContent.includes("00:03:01"), null, { timeout: 10000 });
      check(true, `${name}: the page refreshes itself while the clock moves`);
    }
    await fits(page, name);
    await page.screenshot({ path: join(artefacts, auth ? "serve-auth.png" : "serve.png") });
  } finally {
    child.kill("SIGTERM");
  }
}

await browser.close();
if (failures.length) {
  console.error(`${failures.length} check(s) failed:\n${failures.join("\n")}`);
  process.exit(1);
}
console.log("browser: every check passed");
