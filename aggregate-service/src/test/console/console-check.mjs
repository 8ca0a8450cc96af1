#!/usr/bin/env node
// Drives the live console (/console/) of the demo pipeline's three running services in headless
// Chromium, as an operator would: the picture, the instances, live rates, the top groups, dead
// letters, pause and resume (refused without the token), a group's windows. Prints one "ok: ..." line
// per check and exits 1 on the first problem; screenshots go to --out.
//
//   node console-check.mjs --console http://127.0.0.1:8080/console/ --ingest http://127.0.0.1:8080 \
//       --token TOKEN --out target/console
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium, errors } from "playwright-core";

const { values: options } = parseArgs({
  options: { console: { type: "string" }, ingest: { type: "string" }, token: { type: "string" }, out: { type: "string" } },
});
for (const name of ["console", "ingest", "token", "out"]) {
  if (!options[name]) {
    console.error(`missing --${name}; usage: node console-check.mjs --console URL --ingest URL --token TOKEN --out DIR`);
    process.exit(2);
  }
}
const consoleUrl = options.console.endsWith("/") ? options.console : `${options.console}/`;
const ingestUrl = options.ingest.replace(/\/$/, "");
const run = `${Date.now().toString(36).slice(-5)}${Math.random().toString(36).slice(2, 4)}`.toUpperCase();
const TOTAL_TIMEOUT_MS = 7 * 60 * 1000; // under the 8 min the Java test gives this script
mkdirSync(options.out, { recursive: true });

class CheckFailed extends Error {}

// What the page did wrong, from its events; checked after each step.
const problems = [];
let unauthorizedExpected = false;
let unauthorizedSeen = 0;
let closing = false;
let enrichPausedByUs = false;

const isControl = (url) => new URL(url).pathname.startsWith("/control/");
const isStream = (url) => new URL(url).pathname.endsWith("/api/stream");

function ok(message) {
  console.log(`ok: ${message}`);
}

function fail(message) {
  throw new CheckFailed(message);
}

function assertNoProblems() {
  if (problems.length > 0) fail(`the page misbehaved: ${problems[0]}`);
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
page.setDefaultTimeout(30_000);

page.on("console", (message) => {
  if (message.type() !== "error") return;
  const where = message.location().url;
  // Chromium logs each 4xx answer as a console error too: the provoked 401 is expected.
  if ((unauthorizedExpected || unauthorizedSeen > 0) && where && isControl(where) && message.text().includes("401")) return;
  problems.push(`console error: ${message.text()}${where ? ` (${where})` : ""}`);
});
page.on("pageerror", (error) => problems.push(`uncaught error: ${error.message}`));
page.on("requestfailed", (request) => {
  if (closing && isStream(request.url())) return;
  problems.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
});
page.on("response", (response) => {
  if (response.status() < 400) return;
  if (response.status() === 401 && unauthorizedExpected && isControl(response.url())) {
    unauthorizedSeen += 1;
    return;
  }
  problems.push(`HTTP ${response.status()} for ${response.request().method()} ${response.url()}`);
});

const watchdog = setTimeout(() => finish(new CheckFailed(`the whole check took over ${TOTAL_TIMEOUT_MS / 60000} min`)), TOTAL_TIMEOUT_MS);

try {
  await checkPageLoads();
  await checkPicture();
  await checkStagesRunning();
  await checkRatesMove();
  const card = await checkTopChanges();
  await checkDeadLetter();
  await checkPauseRefusedWithoutToken();
  await checkPauseAndResume();
  await checkGroupChart(card);
  await screenshot("console");
  assertNoProblems();
  ok("no console error, uncaught error or failed request during the run");
  await finish();
} catch (error) {
  await finish(error);
}

// ---------------------------------------------------------------- the checks

async function checkPageLoads() {
  await page.goto(consoleUrl);
  await waitInPage("the page shows the pipeline picture and a live event stream", 30_000, () =>
    document.querySelector('#pipeline-picture [data-stage-node="ingest"]') &&
    document.querySelector('#connection[data-state="live"]'));
  await screenshot("console-loaded");
  ok(`the console loads from ${consoleUrl} and its event stream is live`);
}

async function checkPicture() {
  const answer = await fetch(new URL("api/pipeline", consoleUrl));
  if (!answer.ok) fail(`GET api/pipeline answered ${answer.status}`);
  const pipeline = await answer.json();
  const expected = [
    ...["ingest", "enrich", "aggregate"].map((stage) => [`stage ${stage}`, `[data-stage-node="${stage}"]`, stage]),
    ...Object.entries(pipeline.buses).map(([bus, address]) => [`bus ${bus}`, `[data-bus="${bus}"]`, address]),
    ...pipeline.lookups.map((lookup) => [`look-up ${lookup.name}`, `[data-lookup="${lookup.name}"]`, lookup.name]),
    ...pipeline.aggregations.map((aggregation) =>
      [`aggregation ${aggregation.name}`, `[data-aggregation-node="${aggregation.name}"]`, aggregation.name]),
  ];
  for (const name of ["merchant", "blocked_cards", "spend_by_card", "spend_by_category"]) {
    if (!expected.some(([, , text]) => text === name)) fail(`api/pipeline does not list the demo's ${name}`);
  }
  if (Object.keys(pipeline.buses).length !== 4) fail(`api/pipeline lists ${Object.keys(pipeline.buses).length} buses, not 4`);
  for (const [what, selector, text] of expected) {
    const shown = await page.locator(`#pipeline-picture ${selector}`).first().textContent().catch(() => null);
    if (shown === null) fail(`the pipeline picture has no ${what} (${selector})`);
    if (!shown.includes(text)) fail(`the pipeline picture's ${what} does not say "${text}" (it says "${shown}")`);
  }
  ok(`the pipeline picture names the 3 stages, 4 buses, ${pipeline.lookups.length} look-ups and ${pipeline.aggregations.length} aggregations`);
}

async function checkStagesRunning() {
  await waitInPage("every stage shows at least one running instance", 120_000, () =>
    ["ingest", "enrich", "aggregate"].every((stage) =>
      document.querySelector(`[data-stage-card="${stage}"] [data-instance-state="running"]`)));
  const counts = await page.evaluate(() => ["ingest", "enrich", "aggregate"].map((stage) =>
    `${stage} ${document.querySelectorAll(`[data-stage-card="${stage}"] [data-instance-state]`).length}`));
  await screenshot("console-cluster");
  ok(`all three stages show running instances (${counts.join(", ")})`);
}

async function checkRatesMove() {
  const posting = (async () => {
    for (let batch = 0; batch < 20; batch++) {
      await postEvents(Array.from({ length: 50 }, (_, i) => payment(`${run}-rate-${batch}-${i}`, `C${run}R${i % 10}`, 12.5)));
      await sleep(400);
    }
  })();
  const ingestMoves = waitInPage('the ingest "in" rate goes above 0', 30_000, () =>
    Number(document.querySelector('[data-rate="ingest-in"]')?.dataset.value) > 0);
  await Promise.all([posting, ingestMoves]);
  ok("the ingest in-rate moved above 0 while events were posted");
  await waitInPage('the enrich or aggregate "in" rate goes above 0', 30_000, () =>
    ["enrich-in", "aggregate-in"].some((rate) => Number(document.querySelector(`[data-rate="${rate}"]`)?.dataset.value) > 0));
  await screenshot("console-rates");
  ok("the enrich or aggregate in-rate moved above 0 as the events flowed on");
}

async function checkTopChanges() {
  const panel = '[data-aggregation="spend_by_card"]';
  await page.selectOption(`${panel} [data-control="by"]`, "total");
  await page.selectOption(`${panel} [data-control="top"]`, "10");
  await waitInPage("the spend_by_card panel shows its top groups", 30_000, (selector) =>
    document.querySelector(`${selector} tbody tr[data-group]`), panel);
  const before = await page.$$eval(`${panel} tbody tr[data-group]`, (rows) => rows.map((row) => row.dataset.group));
  ok(`spend_by_card shows its top ${before.length} by total: ${before.join(", ")}`);

  const card = `C${run}BIG`;
  await postEvents(Array.from({ length: 5 }, (_, i) => payment(`${run}-big-${i}`, card, 100000)));
  await waitInPage(`the spend_by_card top 10 shows the new card ${card}`, 60_000, ({ selector, group }) =>
    [...document.querySelectorAll(`${selector} tbody tr[data-group]`)].some((row) => row.dataset.group === group),
  { selector: panel, group: card });
  await screenshot("console-top");
  ok(`spend_by_card's top groups by total now show ${card} (5 payments of 100000)`);
  return card;
}

async function checkDeadLetter() {
  const txn = `${run}-lots`;
  const answer = await post(`${ingestUrl}/events`, JSON.stringify({ txn_id: txn, card_id: "C1", merchant_id: "M1", amount: "lots" }));
  if (answer.status !== 400 || !JSON.stringify(answer.body).includes("amount")) {
    fail(`posting an event with amount "lots" should be refused with a reason about amount, got ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  const shown = ({ txn }) => [...document.querySelectorAll("#dead-letters tbody tr[data-dead-letter]")]
    .some((row) => row.dataset.reason.includes("amount") && row.textContent.includes(txn));
  await waitInPage(`the dead letters list shows ${txn} with a reason about amount`, 60_000, shown, { txn });
  const reason = await page.$$eval("#dead-letters tbody tr[data-dead-letter]", (rows, txn) =>
    rows.find((row) => row.textContent.includes(txn)).dataset.reason, txn);
  ok(`the dead letters list shows ${txn}: "${reason}"`);

  const row = page.locator("#dead-letters tbody tr[data-dead-letter]", { hasText: txn }).first();
  await row.click();
  await row.locator(".input-full").waitFor({ state: "visible", timeout: 5_000 }).catch(() => fail("a click on a dead letter does not show its whole input"));
  ok("a click on the dead letter shows its whole input");
  await screenshot("console-dead-letter");

  const optionValues = await page.$$eval("#dead-letter-reason option", (list) => list.map((option) => option.value));
  if (!optionValues.includes(reason)) fail(`the reason select does not offer "${reason}" (it offers ${JSON.stringify(optionValues)})`);
  await filterDeadLetters(() => page.selectOption("#dead-letter-reason", reason), reason);
  await waitInPage(`filtered by its reason, the list still shows ${txn}`, 10_000, shown, { txn });
  await filterDeadLetters(() => page.fill("#dead-letter-filter", "amount"), "amount");
  await waitInPage(`filtered by "amount", the list still shows ${txn}`, 10_000, shown, { txn });
  const others = await page.$$eval("#dead-letters tbody tr[data-dead-letter]", (rows) =>
    rows.filter((row) => !row.dataset.reason.includes("amount")).length);
  if (others > 0) fail(`filtered by "amount", the list still shows ${others} dead letters of other reasons`);
  await filterDeadLetters(() => page.fill("#dead-letter-filter", ""), null);
  ok("filtering by the reason (select, then free text) keeps it shown and hides the others");
}

/** Runs the filter change and waits for the dead-letter request it makes (with reason=wanted, or none). */
async function filterDeadLetters(change, wanted) {
  const answered = page.waitForResponse((response) => {
    const url = new URL(response.url());
    return url.pathname.endsWith("/api/dead-letters") && url.searchParams.get("reason") === wanted;
  }, { timeout: 10_000 }).catch(() => fail(`the page did not ask for the dead letters with reason=${wanted}`));
  await Promise.all([answered, change()]);
  await sleep(200); // the answer is rendered right after it arrives
}

async function checkPauseRefusedWithoutToken() {
  await page.fill("#token", "");
  unauthorizedExpected = true;
  await page.click('[data-stage-card="enrich"] [data-action="pause-stage"]');
  await waitInPage("pausing without a token shows the 401 message", 10_000, () => {
    const message = document.querySelector("#control-message");
    return message && !message.hidden && message.dataset.kind === "unauthorized" && message.offsetHeight > 0;
  });
  unauthorizedExpected = false;
  if (unauthorizedSeen === 0) fail("the pause without a token was not answered 401");
  const message = await page.textContent("#control-message");
  await screenshot("console-unauthorized");
  ok(`pausing enrich without a token is refused, and the page says so: "${message.trim()}"`);

  const firstSnapshot = await snapshotCount();
  const until = Date.now() + 3_000;
  while (Date.now() < until) {
    const states = await instanceStates("enrich");
    if (states.length === 0 || states.some((state) => state !== "running")) {
      fail(`after the refused pause the enrich instances should stay running, they are: ${states.join(", ")}`);
    }
    await sleep(250);
  }
  if ((await snapshotCount()) < firstSnapshot + 2) fail("no new snapshot arrived in 3 s");
  ok("the enrich instances stayed running over the next snapshots (3 s)");
  assertNoProblems();
}

async function checkPauseAndResume() {
  await page.fill("#token", options.token);
  await page.click('[data-stage-card="enrich"] [data-action="pause-stage"]');
  enrichPausedByUs = true;
  await waitInPage("the pause of enrich is accepted", 10_000, () =>
    document.querySelector("#control-message")?.dataset.kind === "ok");
  await waitInPage("every enrich instance shows paused", 20_000, () => {
    const states = [...document.querySelectorAll('[data-stage-card="enrich"] [data-instance-state]')].map((row) => row.dataset.instanceState);
    return states.length > 0 && states.every((state) => state === "paused");
  });
  await screenshot("console-paused");
  ok(`with the token, "pause stage" pauses every enrich instance (${(await instanceStates("enrich")).length})`);

  await page.click('[data-stage-card="enrich"] [data-action="resume-stage"]');
  await waitInPage("every enrich instance shows running again", 20_000, () => {
    const states = [...document.querySelectorAll('[data-stage-card="enrich"] [data-instance-state]')].map((row) => row.dataset.instanceState);
    return states.length > 0 && states.every((state) => state === "running");
  });
  enrichPausedByUs = false;
  ok(`"resume stage" resumes them: enrich is running again`);
}

async function checkGroupChart(card) {
  const panel = '[data-aggregation="spend_by_card"]';
  await page.fill(`${panel} [data-control="group"]`, card);
  await page.selectOption(`${panel} [data-control="range"]`, String(3600_000));
  await page.selectOption(`${panel} [data-control="measure"]`, "total");
  await page.click(`${panel} [data-action="show-group"]`);
  await waitInPage(`the chart of ${card}'s windows over the last hour shows a bar`, 30_000, ({ selector, group }) =>
    document.querySelector(`${selector} [data-chart="group-windows"][data-group="${group}"] rect[data-bar]`),
  { selector: panel, group: card });
  const bars = await page.locator(`${panel} [data-chart="group-windows"] rect[data-bar]`).count();
  await page.locator(panel).scrollIntoViewIfNeeded();
  await screenshot("console-group");
  ok(`the chart of ${card}'s windows over the last hour shows ${bars} bar${bars === 1 ? "" : "s"}`);
}

// ---------------------------------------------------------------- helpers

function payment(txn, card, amount) {
  return { txn_id: txn, card_id: card, merchant_id: "M1", amount };
}

async function postEvents(events) {
  const answer = await post(`${ingestUrl}/events`, events.map((event) => JSON.stringify(event)).join("\n"));
  if (answer.status !== 202 || answer.body?.accepted !== events.length) {
    fail(`ingest did not accept ${events.length} events: ${answer.status} ${JSON.stringify(answer.body)}`);
  }
}

async function post(url, ndjson) {
  const response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/x-ndjson" }, body: ndjson });
  return { status: response.status, body: await response.json().catch(() => null) };
}

async function waitInPage(what, timeoutMs, predicate, arg) {
  try {
    await page.waitForFunction(predicate, arg, { timeout: timeoutMs, polling: 250 });
  } catch (error) {
    if (!(error instanceof errors.TimeoutError)) throw error;
    assertNoProblems();
    fail(`${what}: not within ${timeoutMs / 1000} s; the page shows ${await pageSummary()}`);
  }
  assertNoProblems();
}

async function instanceStates(stage) {
  return page.$$eval(`[data-stage-card="${stage}"] [data-instance-state]`, (rows) => rows.map((row) => row.dataset.instanceState));
}

async function snapshotCount() {
  return Number(await page.getAttribute("#connection", "data-snapshots"));
}

/** What the page shows, for a failure message. */
async function pageSummary() {
  return page.evaluate(() => {
    const text = (selector) => document.querySelector(selector)?.textContent.trim() ?? "";
    const states = ["ingest", "enrich", "aggregate"].map((stage) => `${stage}: [${[...document.querySelectorAll(
      `[data-stage-card="${stage}"] [data-instance-state]`)].map((row) => `${row.dataset.instance} ${row.dataset.instanceState}`).join(", ")}]`);
    const rates = [...document.querySelectorAll("[data-rate]")].map((rate) => `${rate.dataset.rate}=${rate.dataset.value ?? "?"}`);
    const messages = [...document.querySelectorAll(".message:not([hidden])")].map((message) => `"${message.textContent.trim()}"`);
    return [`stream ${document.querySelector("#connection")?.dataset.state}`, ...states, `rates ${rates.join(" ")}`,
      `top groups ${[...document.querySelectorAll("[data-aggregation] tbody tr[data-group]")].map((row) => row.dataset.group).join(",")}`,
      `dead letters ${document.querySelectorAll("#dead-letters tbody tr").length} (${text("#dead-letter-summary")})`,
      `messages ${messages.join(" ") || "none"}`].join("; ");
  }).catch((error) => `(cannot read the page: ${error.message})`);
}

async function screenshot(name) {
  await page.screenshot({ path: join(options.out, `${name}.png`), fullPage: true });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function finish(error) {
  clearTimeout(watchdog);
  if (error) {
    console.error(`console check failed: ${error instanceof CheckFailed ? error.message : error.stack}`);
    await page.screenshot({ path: join(options.out, "console-failure.png"), fullPage: true }).catch(() => {});
    if (enrichPausedByUs) {
      // Leave the pipeline as found for the tests that follow.
      await fetch(`${ingestUrl}/control/resume?scope=cluster&stage=enrich`, {
        method: "POST", headers: { Authorization: `Bearer ${options.token}` },
      }).catch(() => {});
    }
  }
  closing = true;
  await browser.close().catch(() => {});
  process.exit(error ? 1 : 0);
}
