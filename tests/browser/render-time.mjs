// Times a report page's first full render in headless Chromium: from navigation to the moment
// page.js has drawn the groups, the timeline and the log (it sets data-rendered on <html>).
//   node render-time.mjs PAGE [RUNS]
import { chromium } from "playwright-core";

const [page, runs = "3"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const times = [];
for (let i = 0; i < Number(runs); i++) {
  const tab = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const start = Date.now();
  await tab.goto(`file://${page}`);
  await tab.waitForFunction(() => document.documentElement.dataset.rendered === "1", null, { timeout: 60000 });
  times.push((Date.now() - start) / 1000);
  await tab.close();
}
await browser.close();
times.sort((a, b) => a - b);
console.log(`first full render: median ${times[Math.floor(times.length / 2)].toFixed(2)} s (runs: ${times.map((t) => t.toFixed(2)).join(", ")})`);
