// Opens profiles in speedscope's own release build, in headless Chromium,
// the way a user does (the landing page's "Browse" button and a file
// chooser), then asks speedscope to save what it imported (Ctrl+S, its
// "Export" button) and keeps that file: speedscope's own JSON of the
// profiles, names and frames its importer made of ours.
//
//   node speedscope_import.js NPM_PREFIX CHROMIUM PROFILE OUT.json [PROFILE OUT.json]...
//
// NPM_PREFIX holds node_modules/speedscope and node_modules/puppeteer-core
// (scripts/deps.sh installs them).  Exit 0 with every OUT written;
// otherwise the reason on stderr and exit 1.
"use strict";
const path = require("path");
const fs = require("fs");

const [prefix, chromium, ...pairs] = process.argv.slice(2);
const puppeteer = require(path.join(prefix, "node_modules", "puppeteer-core"));
const index = path.join(prefix, "node_modules", "speedscope", "dist", "release", "index.html");
const FAILED = /Something went wrong|Unrecognized format|could not|failed/i;

function within(ms, what, promise) {
  let timer;
  const late = new Promise((_, fail) => {
    timer = setTimeout(() => fail(new Error(what + ": nothing after " + ms + " ms")), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function importOne(browser, profile, out) {
  const page = await browser.newPage();
  const errors = [];
  let glReady;
  const gl = new Promise((resolve) => { glReady = resolve; });

  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("dialog", async (d) => { errors.push("dialog: " + d.message()); await d.dismiss(); });
  // speedscope drops a file given before its WebGL canvas is up; it says
  // on the console when it is
  page.on("console", (m) => { if (/WebGL initialized/.test(m.text())) glReady(); });
  // keep the Blob speedscope saves instead of letting it download
  await page.evaluateOnNewDocument(() => {
    const orig = URL.createObjectURL.bind(URL);
    URL.createObjectURL = (blob) => { window.__pyspySaved = blob; return orig(blob); };
  });
  await page.goto("file://" + index, { waitUntil: "load" });
  await page.waitForSelector("label[for=file]", { timeout: 30000 });
  await within(30000, "speedscope's WebGL canvas", gl);
  const [chooser] = await Promise.all([
    page.waitForFileChooser({ timeout: 30000 }),
    page.click("label[for=file]"),
  ]);
  await chooser.accept([profile]);
  // imported: the toolbar offers to export it; or speedscope says it failed
  await page.waitForFunction((failed) => /Export/.test(document.body.innerText) ||
    new RegExp(failed, "i").test(document.body.innerText), { timeout: 60000 }, FAILED.source);
  const text = await page.evaluate(() => document.body.innerText);
  if (FAILED.test(text) || errors.length)
    throw new Error(profile + ": speedscope did not import it: " + errors.join("; ") +
                    " " + text.slice(0, 300));
  await page.keyboard.down("Control");
  await page.keyboard.press("s");
  await page.keyboard.up("Control");
  await page.waitForFunction(() => window.__pyspySaved !== undefined, { timeout: 30000 });
  fs.writeFileSync(out, await page.evaluate(() => window.__pyspySaved.text()));
  if (errors.length)
    throw new Error(profile + ": page errors: " + errors.join("; "));
  await page.close();
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    // root in a container has no user namespaces for the sandbox; software
    // GL keeps speedscope's WebGL canvas working without a GPU
    args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
  });
  try {
    for (let i = 0; i + 1 < pairs.length; i += 2)
      await importOne(browser, pairs[i], pairs[i + 1]);
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error(String((e && e.stack) || e)); process.exit(1); });
