import { chromium, type Browser, type Page } from 'playwright-core';

/** Helpers of the dashboard's Chromium tests (src/http/dashboard.browser.spec.ts). */

/** Debian's Chromium, headless, with nothing that reaches out to the network by itself. */
export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Opens a view by its hash route and waits until the script marks it rendered. */
export async function show(page: Page, base: string, route: string, view: string) {
  // A hash change re-renders in place: clear the mark first, or the previous render of the same view would do.
  await page.evaluate(() =>
    (
      globalThis as typeof globalThis & {
        document: { getElementById(id: string): { removeAttribute(a: string): void } | null };
      }
    ).document
      .getElementById('view')
      ?.removeAttribute('data-ready'),
  );
  await page.goto(`${base}#/${route}`);
  await page.locator(`#view[data-view="${view}"][data-ready="true"]`).waitFor();
}

/**
 * document.documentElement.scrollWidth and innerWidth, read in the page (this file is compiled without the DOM lib).
 */
export const noOverflow = (page: Page) =>
  page.evaluate(() => {
    const w = globalThis as typeof globalThis & {
      document: { documentElement: { scrollWidth: number } };
      innerWidth: number;
    };
    return { scrollWidth: w.document.documentElement.scrollWidth, innerWidth: w.innerWidth };
  });
