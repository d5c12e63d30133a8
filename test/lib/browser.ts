/**
 * Debian's Chromium (scripts/setup.sh installs the `chromium` package) driven by playwright-core:
 * nothing is downloaded, the browser is the system one. Screenshots go to .data/test-artifacts/
 * (git-ignored), one per step, so a failed run can be read as a comic strip.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = path.join(__dirname, '..', '..', '.data', 'test-artifacts');

/** Launches headless Chromium; fails with the fix when the Debian package is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: run ./scripts/setup.sh (it installs Debian's chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** Saves numbered screenshots of pages under .data/test-artifacts/<suite>/. */
export class Screenshots {
  private step = 0;
  readonly dir: string;

  constructor(suite: string) {
    this.dir = path.join(ARTIFACTS, suite);
    // This run's pictures only: a stale "FAILED" shot from an earlier run would mislead.
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
  }

  /** One screenshot of `page` named after the step; never fails the test itself. */
  async take(page: Page, name: string): Promise<string> {
    this.step += 1;
    const file = path.join(
      this.dir,
      `${String(this.step).padStart(2, '0')}-${name.replace(/[^\w.-]+/g, '-')}.png`,
    );
    await page.screenshot({ path: file, fullPage: true, timeout: 5000 }).catch(() => undefined);
    return file;
  }

  /**
   * Runs a scenario; on failure saves a screenshot of every page named, then rethrows with where the
   * pictures are.
   */
  async scenario(
    name: string,
    pages: () => Record<string, Page | undefined>,
    body: () => Promise<void>,
  ): Promise<void> {
    try {
      await body();
    } catch (error) {
      for (const [label, page] of Object.entries(pages()))
        if (page && !page.isClosed()) await this.take(page, `${name}-FAILED-${label}`);
      if (error instanceof Error) error.message += `\n(screenshots: ${this.dir})`;
      throw error;
    }
  }
}
