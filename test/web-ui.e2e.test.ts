/**
 * The web UI in a real headless Chromium (Debian's, driven by playwright-core) against the real
 * stack through nginx's HTTP front door, as people use it: a buyer registers, finds an event, picks
 * two seats on the map, holds, pays, sees and cancels the booking; two buyers race for one seat; an
 * admin creates an event and a show and imports a catalog; an operator watches a new master take
 * over after the master is killed.
 *
 * Only the UI's test-id contract is used (data-testid, data-* attributes and the hash routes
 * #/events, #/event/<id>, #/show/<id>, #/bookings, #/operator, #/admin, #/login). Screenshots of
 * every step go to .data/test-artifacts/web-ui/.
 */
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { Screenshots, launchChromium } from './lib/browser';
import { GOOD_CARD, createShow, startWebStack } from './lib/web-stack';
import type { CreatedShow, WebStack } from './lib/web-stack';

const STEP_MS = 15_000;
const CATALOG_FIXTURE = path.join(__dirname, 'fixtures', 'catalog-import.json');

let web: WebStack;
let browser: Browser;
let base: string;
let buyerShow: CreatedShow;
let raceShow: CreatedShow;
const shots = new Screenshots('web-ui');
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [web, browser] = await Promise.all([startWebStack('webui'), launchChromium()]);
  base = web.stack.webUrl;
  buyerShow = await createShow(web.stack, `Harbour Lights Gala ${web.suffix}`);
  raceShow = await createShow(web.stack, `Photo Finish Matinee ${web.suffix}`);
}, 90_000);

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  await browser?.close();
  await web?.stop();
}, 60_000);

/** A fresh browser profile (its own storage: its own signed-in user) with uncaught errors collected. */
async function newPage(): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  // A "Cancel this booking?" confirm, should the UI ask: the person says yes.
  page.on('dialog', (dialog) => void dialog.accept());
  return { page, errors };
}

/** Polls `read` until it returns `expected` (compared as JSON); the error shows the last value. */
async function until<T>(what: string, read: () => Promise<T>, expected: T, ms = STEP_MS): Promise<void> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  for (;;) {
    last = await read().catch(() => undefined);
    if (JSON.stringify(last) === JSON.stringify(expected)) return;
    if (Date.now() > deadline)
      throw new Error(`${what}: expected ${JSON.stringify(expected)}, last saw ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const hash = async (page: Page): Promise<string> => new URL(page.url()).hash;

/** Fills an input, or picks the option of a select (a month may be either). */
async function setField(field: Locator, value: string): Promise<void> {
  const tag = await field.evaluate((element) => element.tagName.toLowerCase());
  if (tag === 'select') await field.selectOption(value);
  else await field.fill(value);
}

function seat(page: Page, seatId: string): Locator {
  return page.locator(`[data-testid="seat"][data-seat-id="${seatId}"]`);
}

/** Registers a new user on #/login; the UI then shows #/events and who is signed in. */
async function registerInUi(page: Page, name: string): Promise<void> {
  await page.goto(`${base}/#/login`);
  await page.getByTestId('auth-email').fill(`${name.toLowerCase()}-${web.suffix}@example.com`);
  await page.getByTestId('auth-password').fill('correct horse battery');
  await page.getByTestId('auth-name').fill(name);
  await page.getByTestId('auth-register').click();
  await until(`${name}: the page after registering`, () => hash(page), '#/events');
  await page.getByTestId('auth-user').waitFor();
  // Who is signed in: the display name or the email (which starts with the name).
  expect(await page.getByTestId('auth-user').innerText()).toMatch(new RegExp(name, 'i'));
  await page.getByTestId('nav-logout').waitFor();
}

/** Opens a show's page and waits for its seat map to be drawn. */
async function openShow(page: Page, showId: string): Promise<void> {
  await page.goto(`${base}/#/show/${showId}`);
  await page.getByTestId('seat-map').waitFor();
  await page.locator('[data-testid="seat"][data-state="free"]').first().waitFor();
}

async function select(page: Page, seatId: string): Promise<void> {
  await seat(page, seatId).click();
  await until(`seat ${seatId} selected`, () => seat(page, seatId).getAttribute('data-selected'), 'true');
}

describe('the web UI in Chromium, through nginx', () => {
  it('a new buyer registers, searches, picks two seats, holds, pays, sees the booking and cancels it', async () => {
    const { page, errors } = await newPage();
    await shots.scenario(
      'buyer',
      () => ({ page }),
      async () => {
        await page.goto(`${base}/#/events`);
        for (const id of ['nav-events', 'nav-bookings', 'nav-operator', 'nav-admin', 'nav-login'])
          await page.getByTestId(id).waitFor();
        await shots.take(page, 'buyer-first-visit');
        await registerInUi(page, 'Ada');
        // "Recommended for you": a new buyer with no bookings gets picks too (popular, coming up).
        await page.getByTestId('recommendations').waitFor();
        await page.getByTestId('recommendation').first().waitFor();
        expect(await page.getByTestId('recommendation').first().innerText()).toMatch(/\w/);
        await shots.take(page, 'buyer-registered');

        await page.getByTestId('search-input').fill(`Harbour Lights Gala ${web.suffix}`);
        const card = page.locator(`[data-testid="event-card"][data-event-id="${buyerShow.eventId}"]`);
        await card.waitFor();
        await until('cards matching the search', () => page.getByTestId('event-card').count(), 1);
        await shots.take(page, 'buyer-search');
        await card.click();
        await until('the event page', () => hash(page), `#/event/${buyerShow.eventId}`);
        await page.locator(`[data-testid="show-link"][data-show-id="${buyerShow.showId}"]`).click();
        await until('the show page', () => hash(page), `#/show/${buyerShow.showId}`);
        await page.getByTestId('seat-map').waitFor();
        expect(await page.getByTestId('seat-map').evaluate((e) => e.tagName.toLowerCase())).toBe('svg');
        // The standing area is offered by quantity beside the map.
        await page.locator('[data-testid="ga-area"][data-area-id="FLOOR"]').waitFor();
        await page.getByTestId('ga-quantity').first().waitFor();

        const free = page.locator('[data-testid="seat"][data-state="free"]');
        await free.first().waitFor();
        expect(await page.getByTestId('seat').count()).toBe(12);
        const picked = (
          await free.evaluateAll((els) => els.map((e) => e.getAttribute('data-seat-id')))
        ).slice(0, 2);
        expect(picked).toHaveLength(2);
        for (const id of picked) await select(page, id!);
        // A second click deselects; a third selects again.
        await seat(page, picked[1]!).click();
        await until(
          'second seat deselected',
          async () => (await seat(page, picked[1]!).getAttribute('data-selected')) === 'true',
          false,
        );
        await select(page, picked[1]!);
        await shots.take(page, 'buyer-two-seats-selected');

        await page.getByTestId('hold-button').click();
        await page.getByTestId('hold-countdown').waitFor();
        for (const id of picked)
          await until(`seat ${id} is mine`, () => seat(page, id!).getAttribute('data-state'), 'mine');
        await shots.take(page, 'buyer-held');

        await setField(page.getByTestId('card-number'), GOOD_CARD.number);
        await setField(page.getByTestId('card-exp-month'), String(GOOD_CARD.expMonth));
        await setField(page.getByTestId('card-exp-year'), String(GOOD_CARD.expYear));
        await setField(page.getByTestId('card-cvc'), GOOD_CARD.cvc);
        await page.getByTestId('pay-button').click();
        const confirmation = page.getByTestId('booking-confirmation');
        await confirmation.waitFor();
        const bookingId = await confirmation.getAttribute('data-booking-id');
        expect(bookingId).toMatch(/\S/);
        await shots.take(page, 'buyer-paid');

        await page.getByTestId('nav-bookings').click();
        await until('my bookings', () => hash(page), '#/bookings');
        const row = page.locator(`[data-testid="booking-row"][data-booking-id="${bookingId}"]`);
        await row.waitFor();
        expect(await row.getAttribute('data-state')).toBe('confirmed');
        await shots.take(page, 'buyer-my-bookings');
        await row.getByTestId('cancel-button').click();
        await until('the booking cancelled', () => row.getAttribute('data-state'), 'cancelled');
        await shots.take(page, 'buyer-cancelled');

        // The seats are for sale again.
        await openShow(page, buyerShow.showId);
        for (const id of picked)
          await until(`seat ${id} free again`, () => seat(page, id!).getAttribute('data-state'), 'free');
        expect(errors).toEqual([]);
      },
    );
  }, 90_000);

  it('two buyers race for the same seat: exactly one holds it, the other is told clearly', async () => {
    const [a, b] = await Promise.all([newPage(), newPage()]);
    const pages = { first: a.page, second: b.page };
    await shots.scenario(
      'race',
      () => pages,
      async () => {
        await Promise.all([registerInUi(a.page, 'Grace'), registerInUi(b.page, 'Linus')]);
        await Promise.all([openShow(a.page, raceShow.showId), openShow(b.page, raceShow.showId)]);
        const seatId = await a.page
          .locator('[data-testid="seat"][data-state="free"]')
          .first()
          .getAttribute('data-seat-id');
        await Promise.all([select(a.page, seatId!), select(b.page, seatId!)]);
        await shots.take(a.page, 'race-first-selected');
        await shots.take(b.page, 'race-second-selected');

        await Promise.all([
          a.page.getByTestId('hold-button').click(),
          b.page.getByTestId('hold-button').click(),
        ]);
        const outcome = (page: Page): Promise<string> =>
          Promise.race([
            page
              .getByTestId('hold-countdown')
              .waitFor()
              .then(() => 'won'),
            page
              .locator('[data-testid="message"][data-kind="error"]')
              .waitFor()
              .then(() => 'lost'),
          ]);
        const outcomes = await Promise.all([outcome(a.page), outcome(b.page)]);
        await shots.take(a.page, `race-first-${outcomes[0]}`);
        await shots.take(b.page, `race-second-${outcomes[1]}`);
        expect([...outcomes].sort()).toEqual(['lost', 'won']);

        const winner = outcomes[0] === 'won' ? a.page : b.page;
        const loser = outcomes[0] === 'won' ? b.page : a.page;
        const message = await loser.locator('[data-testid="message"][data-kind="error"]').innerText();
        expect(message).toMatch(/seat|taken|held|sold|available|no longer/i);
        expect(await winner.locator('[data-testid="message"][data-kind="error"]').count()).toBe(0);
        expect(await winner.getByTestId('hold-countdown').isVisible()).toBe(true);
        await until(
          'the winner sees the seat as theirs',
          () => seat(winner, seatId!).getAttribute('data-state'),
          'mine',
        );
        // The loser's map is live: the seat shows as held by someone else.
        await until(
          'the loser sees the seat held',
          () => seat(loser, seatId!).getAttribute('data-state'),
          'held',
        );
        await shots.take(loser, 'race-loser-map-updated');
        expect([...a.errors, ...b.errors]).toEqual([]);
      },
    );
  }, 90_000);

  it('an admin creates an event and a show, imports a catalog with progress; a buyer may not', async () => {
    const { page, errors } = await newPage();
    await shots.scenario(
      'admin',
      () => ({ page }),
      async () => {
        // A buyer sees the page without its forms.
        await registerInUi(page, 'Curious');
        await page.goto(`${base}/#/admin`);
        await page.getByTestId('admin-sign-in').waitFor();
        expect(await page.getByTestId('new-event').count()).toBe(0);
        await page.getByTestId('nav-logout').click();

        await page.goto(`${base}/#/login`);
        await page.getByTestId('auth-email').fill('admin@marquee.local');
        await page.getByTestId('auth-password').fill('marquee-admin');
        await page.getByTestId('auth-login').click();
        await page.getByTestId('nav-logout').waitFor();
        await page.goto(`${base}/#/admin`);

        // A mistake is named at its field, and nothing is created.
        const title = `Midnight Quartet ${web.suffix}`;
        await page.getByTestId('new-event-title').fill(title);
        await page.getByTestId('new-event-kind').selectOption('concert');
        await page.getByTestId('new-event-posterUrl').fill('ftp://nowhere');
        await page.getByTestId('new-event-submit').click();
        await page.getByTestId('new-event-error').waitFor();
        expect(await page.getByTestId('new-event-error').innerText()).toMatch(/poster/i);
        expect(await page.getByTestId('new-event-posterUrl').getAttribute('aria-invalid')).toBe('true');
        await page.getByTestId('new-event-posterUrl').fill('');
        await page.getByTestId('new-event-genres').fill('Jazz, Live');
        await page.getByTestId('new-event-people').fill('The Night Owls');
        await page.getByTestId('new-event-submit').click();
        // The new event is chosen in the show form.
        await until(
          'the new event selected for a show',
          () =>
            page
              .getByTestId('new-show-event')
              .evaluate(
                (el) => (el as unknown as { selectedOptions: { text: string }[] }).selectedOptions[0]?.text,
              ),
          title,
        );
        await shots.take(page, 'admin-event-created');

        await page.getByTestId('new-show-starts').fill('2031-07-14T20:30');
        const prices = page.locator('[data-testid^="new-show-price-"]');
        const tiers = await prices.count();
        expect(tiers).toBeGreaterThan(0);
        for (let i = 0; i < tiers; i++) await prices.nth(i).fill(String(20 + i * 5));
        await page.getByTestId('new-show-submit').click();
        await page.getByTestId('new-show-link').click();
        await page.getByTestId('seat-map').waitFor();
        expect(await page.locator('h1').first().innerText()).toContain(title);
        await shots.take(page, 'admin-show-seat-map');

        // Import a catalog file: progress reaches "done", then the events are in the catalog.
        await page.goto(`${base}/#/admin`);
        await page.getByTestId('import-file').setInputFiles(CATALOG_FIXTURE);
        await page.getByTestId('import-submit').click();
        await until(
          'the import done',
          async () => /^Done: \d+ records/.test(await page.getByTestId('import-phase').innerText()),
          true,
        );
        const bar = page.getByTestId('import-progress');
        expect(await bar.getAttribute('value')).toBe(await bar.getAttribute('max'));
        await shots.take(page, 'admin-imported');
        await page.goto(`${base}/#/events?q=Quantum%20Picnic`);
        await page.getByText('Quantum Picnic').first().waitFor();
        expect(errors).toEqual([]);
      },
    );
  }, 60_000);

  it('the operator page shows a new master after the master is killed', async () => {
    const { page, errors } = await newPage();
    await shots.scenario(
      'operator',
      () => ({ page }),
      async () => {
        const before = await web.stack.waitForMaster(15000);
        await page.goto(`${base}/#/operator`);
        await until('three nodes on the operator page', () => page.getByTestId('cluster-node').count(), 3);
        await until(
          'the master shown',
          async () => (await page.getByTestId('cluster-master').innerText()).trim(),
          String(before.masterId),
        );
        await until(
          'the master node marked',
          () =>
            page
              .locator(`[data-testid="cluster-node"][data-node-id="${before.masterId}"]`)
              .getAttribute('data-role'),
          'master',
        );
        const timeline = page.getByTestId('election-timeline');
        await timeline.waitFor({ state: 'attached' });
        const timelineBefore = await timeline.innerText();
        await shots.take(page, 'operator-before-kill');

        await web.stack.kill(before.masterId);
        const after = await web.stack.waitForMaster(15000);
        expect(after.masterId).not.toBe(before.masterId);
        await until(
          'the new master shown',
          async () => (await page.getByTestId('cluster-master').innerText()).trim(),
          String(after.masterId),
        );
        await until(
          'the new master node marked',
          () =>
            page
              .locator(`[data-testid="cluster-node"][data-node-id="${after.masterId}"]`)
              .getAttribute('data-role'),
          'master',
        );
        await until(
          'the killed node unreachable',
          () =>
            page
              .locator(`[data-testid="cluster-node"][data-node-id="${before.masterId}"]`)
              .getAttribute('data-role'),
          'unreachable',
        );
        // The live timeline records the change of master.
        await until(
          'the timeline grows and names the new master',
          async () => {
            const text = await timeline.innerText();
            return text !== timelineBefore && text.includes(String(after.masterId));
          },
          true,
        );
        await shots.take(page, 'operator-new-master');
        expect(errors).toEqual([]);
      },
    );
  }, 60_000);
});
