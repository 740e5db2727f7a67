/**
 * The HTML report of a catalogued deadlock in a real browser: Debian's chromium, driven by
 * playwright-core with the system binary (.ci/run installs it when missing). Skips with the reason
 * when no browser can be found or started; never passes without one.
 *
 * Checks: no console errors; one timeline track per CPU that zooms; the wait-for graph (SVG, laid
 * out by Graphviz at report time) shows the cycle's tasks; usable at 1400x1000 (no horizontal
 * overflow, verdict, timeline and graph on the page and inside its width). Saves the page and a
 * screenshot in test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { findScenario } from '../src/scenarios/catalog.js';
import { closePools, searchSchedules } from '../src/scenarios/runner.js';
import { model_from_scenario } from '../src/trace/report_model.js';
import { render_html } from '../src/trace/html.js';

const CHROMIUM = process.env.PIDRACE_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

let ctx: BrowserContext | undefined;
let why = '';
let profile = '';

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    why = `no browser at ${CHROMIUM} (apt-get install -y chromium, or set PIDRACE_CHROMIUM)`;
    return;
  }
  profile = mkdtempSync(join(tmpdir(), 'pidrace-chromium-'));
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 1000 }, timeout: 40_000,
    });
  } catch (e) {
    why = `chromium at ${CHROMIUM} did not start: ${(e as Error).message.split('\n')[0]}`;
  }
}, 60_000);

afterAll(async () => {
  await ctx?.close().catch(() => {});
  if (profile) rmSync(profile, { recursive: true, force: true });
  await closePools();
});

describe('HTML report in chromium', () => {
  it('catalog entry 1: timeline per CPU, the cycle in the wait-for graph, usable at 1400x1000', async (t) => {
    if (!ctx) {
      console.warn(`SKIPPED (browser test): ${why}`);
      t.skip(why);
      return;
    }
    const s = findScenario('1')!;
    const v = s.variants.find((x) => x.name === s.defaultVariant)!;
    const r = await searchSchedules(s, v, { trace: 1 << 14, schedules: 200 });
    expect(r.asExpected).toBe(true);
    const model = model_from_scenario(s, v, r.first!, r.token);
    const html = await render_html(model);
    // Self-contained: nothing fetched from anywhere.
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, 'deadlock-1-report.html');
    writeFileSync(file, html);

    const page = await ctx.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (q) => { if (!q.url().startsWith('file:')) requests.push(q.url()); });
    await page.goto(`file://${file}`);
    await page.waitForSelector('#tl .cpu-track');
    expect(await page.locator('#tl .cpu-track').count()).toBe(s.ncpus);
    expect(await page.locator('#tl rect.sl').count()).toBeGreaterThan(3);
    // Zoom: the shown range shrinks.
    const before = await page.locator('#tl-range').textContent();
    await page.click('#tl-in');
    expect(await page.locator('#tl-range').textContent()).not.toBe(before);
    await page.click('#tl-reset');
    expect(await page.locator('#tl-range').textContent()).toMatch(/^0 – /);
    // The wait-for graph names the cycle's tasks, and they are drawn in the cycle's colour.
    const cycle = model.graph!.nodes.filter((n) => n.inCycle).map((n) => n.label);
    expect(cycle.length).toBeGreaterThanOrEqual(2);
    const graphText = await page.locator('#waitfor svg').textContent();
    for (const name of cycle) expect(graphText).toContain(name);
    expect(await page.locator('#waitfor svg g.node path[stroke="#c0392b"], #waitfor svg g.node polygon[stroke="#c0392b"]').count()).toBe(cycle.length);
    // Usable at 1400x1000: no horizontal scrolling; the key parts visible and inside the width.
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
    for (const sel of ['#verdict', '#tl', '#waitfor svg', '#held table', '#contention svg', '#replay']) {
      const box = await page.locator(sel).first().boundingBox();
      expect(box, sel).not.toBeNull();
      expect(box!.width, sel).toBeGreaterThan(20);
      expect(box!.x + box!.width, sel).toBeLessThanOrEqual(1400);
    }
    expect(await page.locator('#verdict').textContent()).toBe('REPRODUCED');
    await page.screenshot({ path: join(ARTIFACTS, 'deadlock-1-report.png'), fullPage: true });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  }, 60_000);
});
