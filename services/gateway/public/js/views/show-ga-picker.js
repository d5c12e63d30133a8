// @ts-check
/*
 * The show page's standing areas: a quantity input per general-admission area, with the places
 * left as the live feed reports them.
 */
import { h } from '../dom.js';
import { gaAreaBlock } from './show-parts.js';

/** At most this many places per area in one hold (the booking service's limit). */
export const MAX_GA = 10;

/**
 * @typedef {import('../../../schemas/models').ShowDetail} ShowDetail
 * @typedef {import('../../../schemas/models').Availability['pools'][number]} Pool
 */

/**
 * @param {ShowDetail} detail
 * @param {{ currency: string, tierIndex: (tier: string) => number, onChange: (areaId: string, quantity: number) => void }} options
 */
export function createGaPicker(detail, { currency, tierIndex, onChange }) {
  /** @type {Map<string, HTMLInputElement>} */
  const inputs = new Map();
  /** @type {Map<string, HTMLElement>} */
  const remainingTexts = new Map();
  const blocks = detail.gaAreas.map((area) => {
    const input = /** @type {HTMLInputElement} */ (
      h('input', {
        id: `ga-${area.id}`,
        type: 'number',
        min: 0,
        max: MAX_GA,
        value: 0,
        inputmode: 'numeric',
        'data-testid': 'ga-quantity',
      })
    );
    input.addEventListener('input', () =>
      onChange(area.id, Math.max(0, Math.min(MAX_GA, Math.floor(Number(input.value) || 0)))),
    );
    inputs.set(area.id, input);
    const remaining = h('span', { class: 'muted' }, '');
    remainingTexts.set(area.id, remaining);
    return gaAreaBlock(area, { input, remaining, currency, tier: tierIndex(area.priceTier) });
  });

  return {
    /** The areas' blocks, for the page (empty when the hall has none). */
    blocks,
    /** @param {string} areaId */
    focus: (areaId) => inputs.get(areaId)?.focus(),
    /**
     * Shows an area's places left and caps its input there; returns the text shown.
     * @param {Pool} pool
     */
    setPool(pool) {
      const text = `${pool.remaining} of ${pool.capacity} places left`;
      const element = remainingTexts.get(pool.areaId);
      if (element) element.textContent = text;
      const input = inputs.get(pool.areaId);
      if (input) input.max = String(Math.min(MAX_GA, Math.max(0, pool.remaining)));
      return text;
    },
    /** @param {boolean} disabled */
    setDisabled(disabled) {
      for (const input of inputs.values()) input.disabled = disabled;
    },
    reset() {
      for (const input of inputs.values()) input.value = '0';
    },
  };
}
