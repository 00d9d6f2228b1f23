// Accessibility: no serious or critical axe violations (WCAG 2 A/AA) with the model loaded and a picture explained,
// and the controls reachable with the keyboard, each with a name.
import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import {
  APP_URL,
  FOX_SQUIRREL,
  SQUIRREL_JPG,
  dropFile,
  launch,
  logPage,
  waitForEngine,
  waitForTop1,
} from './fixtures.ts';

test.use({ launchOptions: launch() });

test('axe: no serious or critical violations; keyboard reaches the named controls', async ({ page }) => {
  logPage(page);
  await page.goto(`${APP_URL}/`);
  const serious = async () =>
    (await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()).violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(await serious()).toEqual([]);
  await waitForEngine(page);
  await dropFile(page, SQUIRREL_JPG);
  await waitForTop1(page, FOX_SQUIRREL);
  expect(await serious()).toEqual([]);

  // Tab through the page: every stop has an accessible name, and the main controls are among them.
  const names: string[] = [];
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    // The deepest focused element (its shadow host matches :focus too); its ARIA snapshot reads `- role "name"`.
    const focused = page.locator('*:focus').last();
    if (!(await focused.count())) continue;
    const snap = (await focused.ariaSnapshot()).split('\n')[0];
    // `- text: …` is how a <summary> reads; other roles carry their name in quotes (a value follows a colon).
    const name = /^- \w+ "(.+?)"/.exec(snap)?.[1] ?? /^- text: (.+)/.exec(snap)?.[1] ?? '';
    expect(name, `tab stop ${i} (${snap}) has a name`).not.toBe('');
    names.push(name);
  }
  for (const want of [
    /^Start the camera|^Back to the camera/,
    /^Open an image/,
    /^Snapshot$/,
    /^fox squirrel/,
    /heatmap/,
    /Find a class/,
    /Opacity/,
  ]) {
    expect(
      names.some((n) => want.test(n)),
      `${want} reachable by Tab in ${JSON.stringify(names)}`,
    ).toBe(true);
  }
});
